package pcache.shell.internal;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Where a backing device is, as written on the command line: {@code file:PATH},
 * {@code nbd://HOST[:PORT]/EXPORT} or {@code nbd+unix:///EXPORT?socket=PATH} (the rules of the
 * launcher's {@code backing_dev}).
 */
sealed interface BackingTarget {

    /** What is accepted, for messages. */
    String EXPECTED = "file:PATH, nbd://HOST[:PORT]/EXPORT or nbd+unix:///EXPORT?socket=PATH";

    /** The ConfigAdmin factory PID of its driver. */
    String pid();

    /** What it is, as given. */
    String text();

    /** A file or block device. */
    record FileTarget(Path path) implements BackingTarget {
        @Override
        public String pid() {
            return CacheDefinition.BACKING_FILE_PID;
        }

        @Override
        public String text() {
            return "file:" + path;
        }
    }

    /** An NBD export. */
    record NbdTarget(URI uri) implements BackingTarget {
        @Override
        public String pid() {
            return CacheDefinition.BACKING_NBD_PID;
        }

        @Override
        public String text() {
            return uri.toString();
        }
    }

    /**
     * Parses {@code value}; a relative file path is resolved against {@code cwd}.
     *
     * @throws IllegalArgumentException naming the value and what is expected
     */
    static BackingTarget parse(String value, Path cwd) {
        int colon = value.indexOf(':');
        String scheme = colon < 0 ? "" : value.substring(0, colon).toLowerCase(Locale.ROOT);
        switch (scheme) {
            case "file": {
                String p = value.substring(colon + 1);
                if (p.startsWith("//")) {
                    p = p.substring(2); // file:///abs/path
                }
                if (p.isEmpty()) {
                    throw bad(value, "file:PATH with a non-empty PATH");
                }
                try {
                    return new FileTarget(cwd.resolve(p).toAbsolutePath().normalize());
                } catch (InvalidPathException e) {
                    throw bad(value, "a path (" + e.getReason() + ")");
                }
            }
            case "nbd":
            case "nbd+unix":
                return new NbdTarget(nbdUri(value, scheme));
            default:
                throw bad(value, EXPECTED + (colon < 0 ? "" : " (unknown scheme '" + value.substring(0, colon) + "')"));
        }
    }

    private static URI nbdUri(String value, String scheme) {
        URI uri;
        try {
            uri = new URI(value);
        } catch (URISyntaxException e) {
            throw bad(value, "a valid URI (" + e.getMessage() + ")");
        }
        String path = uri.getRawPath() == null ? "" : uri.getRawPath();
        if (!path.isEmpty() && !path.startsWith("/")) {
            throw bad(value, scheme + "://...[/EXPORT]");
        }
        if (scheme.equals("nbd")) {
            if (uri.getHost() == null || uri.getHost().isEmpty()) {
                throw bad(value, "nbd://HOST[:PORT]/EXPORT with a host");
            }
            if (uri.getPort() == 0 || uri.getPort() > 65535) {
                throw bad(value, "a port from 1 to 65535 (default 10809)");
            }
            if (uri.getRawQuery() != null) {
                throw bad(value, "nbd://HOST[:PORT]/EXPORT without a query");
            }
        } else {
            if (uri.getRawAuthority() != null) {
                throw bad(value, "nbd+unix:///EXPORT?socket=PATH (no host)");
            }
            String socket = null;
            for (String param : uri.getQuery() == null ? new String[0] : uri.getQuery().split("&")) {
                if (param.startsWith("socket=")) {
                    socket = param.substring("socket=".length());
                } else {
                    throw bad(value, "nbd+unix:///EXPORT?socket=PATH (unknown parameter '" + param + "')");
                }
            }
            if (socket == null || socket.isEmpty()) {
                throw bad(value, "nbd+unix:///EXPORT?socket=PATH with a socket path");
            }
        }
        return uri;
    }

    private static IllegalArgumentException bad(String value, String expected) {
        return new IllegalArgumentException("backing device '" + value + "': expected " + expected);
    }
}
