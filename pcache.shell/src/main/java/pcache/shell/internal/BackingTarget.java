package pcache.shell.internal;

import java.nio.file.Path;

import pcache.api.config.BackingLocation;

/** A backing device as written on the command line, parsed by pcache.api.config's rules. */
final class BackingTarget {

    private BackingTarget() {
    }

    /**
     * Parses {@code value}; a relative file path is resolved against {@code cwd}.
     *
     * @throws IllegalArgumentException naming the value and what is expected
     */
    static BackingLocation parse(String value, Path cwd) {
        try {
            return BackingLocation.parse(value, cwd);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("backing device '" + value + "': expected " + e.getMessage());
        }
    }
}
