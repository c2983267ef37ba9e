package pcache.shell.internal;

import java.nio.file.Path;

import pcache.api.config.BackingLocation;

/** A backing device as written on the command line, parsed by pcache.api.config's rules. */
final class BackingTarget {

    private BackingTarget() {
    }

    /**
     * Parses {@code value}; a relative file path, and the relative paths of an NBD URI's
     * {@code socket} and TLS files, are resolved against {@code cwd}.
     *
     * @throws IllegalArgumentException naming the value and what is expected
     */
    static BackingLocation parse(String value, Path cwd) {
        try {
            BackingLocation location = BackingLocation.parse(value, cwd);
            return location instanceof BackingLocation.Nbd nbd ? nbd.withPathsUnder(cwd) : location;
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("backing device '" + value + "': expected " + e.getMessage());
        }
    }
}
