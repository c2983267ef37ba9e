package pcache.api.config;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Where a backing device is: {@code file:PATH}, {@code nbd://HOST[:PORT]/EXPORT} or
 * {@code nbd+unix:///EXPORT?socket=PATH}, or with TLS {@code nbds://[USER@]HOST[:PORT]/EXPORT?tls-...}
 * or {@code nbds+unix://[USER@]/EXPORT?socket=PATH&tls-...} (the TLS query parameters of libnbd's
 * {@code nbd_connect_uri}: {@code tls-certificates}, {@code tls-psk-file}, {@code tls-verify-peer},
 * {@code tls-username}, {@code tls-hostname}; the NBD backing device checks their values).
 */
public sealed interface BackingLocation {

    /** What {@link #parse} accepts, for messages. */
    String EXPECTED = "file:PATH, nbd[s]://HOST[:PORT]/EXPORT or nbd[s]+unix:///EXPORT?socket=PATH";

    /** The factory PID of the configuration that makes such a device. */
    String pid();

    /** How it is written: {@code file:<absolute path>} or the URI. */
    String text();

    /**
     * Where its data is, however it is reached: {@code file:<real path>} (links resolved), or for NBD
     * {@code nbd://host:port/EXPORT} (host in lower case, the default port spelled out) or
     * {@code nbd+unix:///EXPORT?socket=PATH}, without TLS, user or TLS parameters. Two locations
     * with the same disk are the same device ({@code nbd://h/x} and {@code nbds://h:10809/x?...}).
     */
    String disk();

    /**
     * A file or block device.
     *
     * @param path its absolute path
     */
    record File(Path path) implements BackingLocation {
        @Override
        public String pid() {
            return ConfigPids.BACKING_FILE;
        }

        @Override
        public String text() {
            return "file:" + path;
        }

        /** {@code file:} and its {@linkplain DevicePaths#identity real path}: a link to the file is the same disk. */
        @Override
        public String disk() {
            return "file:" + DevicePaths.identity(path);
        }
    }

    /**
     * An NBD export.
     *
     * @param uri the URI as given
     */
    record Nbd(URI uri) implements BackingLocation {
        @Override
        public String pid() {
            return ConfigPids.BACKING_NBD;
        }

        @Override
        public String text() {
            return uri.toString();
        }

        @Override
        public String disk() {
            String path = uri.getPath() == null ? "" : uri.getPath();
            String export = path.startsWith("/") ? path.substring(1) : path;
            if (uri.getScheme().toLowerCase(Locale.ROOT).endsWith("+unix")) {
                String socket = "";
                for (String param : params(uri)) {
                    if (param.startsWith("socket=")) {
                        socket = Path.of(param.substring("socket=".length())).normalize().toString();
                    }
                }
                return "nbd+unix:///" + export + "?socket=" + socket;
            }
            return "nbd://" + host(uri.getHost()) + ":" + (uri.getPort() < 0 ? 10809 : uri.getPort()) + "/" + export;
        }

        /** The names of this machine's loopback interface that hosts files give it. */
        private static final java.util.Set<String> LOOPBACK_NAMES = java.util.Set.of("localhost",
                "localhost.localdomain", "localhost4", "localhost4.localdomain4", "localhost6",
                "localhost6.localdomain6", "ip6-localhost", "ip6-loopback");

        /**
         * The host as the disk names it: lower case, and {@code loopback} for {@code localhost} (and
         * the aliases hosts files give it), {@code 127.0.0.1} and {@code ::1} however written, which
         * reach one server as far as a check can tell without a lookup. Other loopback addresses
         * ({@code 127.0.0.2}) stay themselves: a server may listen on one and not on another.
         */
        static String host(String host) {
            String h = HttpProperties.canonicalHost(host);
            if (h.startsWith("[") && h.endsWith("]")) {
                h = h.substring(1, h.length() - 1);
            }
            if (LOOPBACK_NAMES.contains(h)) {
                return "loopback";
            }
            String literal = h.indexOf('%') >= 0 ? h.substring(0, h.indexOf('%')) : h; // an IPv6 zone
            if (literal.indexOf(':') >= 0 || literal.matches("[0-9.]+")) {
                try {
                    java.net.InetAddress a = java.net.InetAddress.getByName(literal); // a literal: no lookup
                    if (a instanceof java.net.Inet6Address ? a.isLoopbackAddress()
                            : a.getHostAddress().equals("127.0.0.1")) {
                        return "loopback";
                    }
                } catch (java.net.UnknownHostException e) {
                    // not an address after all: the host as written
                }
            }
            return h;
        }

        /**
         * The first of the {@code socket}, {@code tls-certificates} and {@code tls-psk-file}
         * parameters whose path is relative ({@code name=value}), or null when each is absolute
         * or absent. Such a path is not resolved against the configuration's data directory.
         */
        public String relativePath() {
            for (String param : params(uri)) {
                int eq = param.indexOf('=');
                String name = eq < 0 ? param : param.substring(0, eq);
                String value = eq < 0 ? "" : param.substring(eq + 1);
                if ((name.equals("socket") || name.equals("tls-certificates") || name.equals("tls-psk-file"))
                        && !value.isEmpty() && !value.startsWith("/")) {
                    return param;
                }
            }
            return null;
        }
    }

    /**
     * Parses {@code value}; a relative file path is resolved against {@code base}.
     *
     * @throws IllegalArgumentException saying what was expected ({@code "file:PATH with a non-empty PATH"})
     */
    static BackingLocation parse(String value, Path base) {
        int colon = value.indexOf(':');
        String scheme = colon < 0 ? "" : value.substring(0, colon).toLowerCase(Locale.ROOT);
        switch (scheme) {
            case "file": {
                String p = value.substring(colon + 1);
                if (p.startsWith("//")) {
                    p = p.substring(2); // file:///abs/path
                }
                if (p.isEmpty()) {
                    throw new IllegalArgumentException("file:PATH with a non-empty PATH");
                }
                try {
                    return new File(base.resolve(p).toAbsolutePath().normalize());
                } catch (InvalidPathException e) {
                    throw new IllegalArgumentException("a path (" + e.getReason() + ")");
                }
            }
            case "nbd":
            case "nbd+unix":
            case "nbds":
            case "nbds+unix":
                return new Nbd(nbdUri(value, scheme));
            default:
                throw new IllegalArgumentException(EXPECTED + (colon < 0 ? ""
                        : " (unknown scheme '" + value.substring(0, colon) + "')"));
        }
    }

    private static URI nbdUri(String value, String scheme) {
        URI uri;
        try {
            uri = new URI(value);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("a valid URI (" + e.getMessage() + ")");
        }
        boolean tls = scheme.startsWith("nbds");
        String path = uri.getRawPath() == null ? "" : uri.getRawPath();
        if (!path.isEmpty() && !path.startsWith("/")) {
            throw new IllegalArgumentException(scheme + "://...[/EXPORT]");
        }
        if (!scheme.endsWith("+unix")) {
            if (uri.getHost() == null || uri.getHost().isEmpty()) {
                throw new IllegalArgumentException(scheme + "://HOST[:PORT]/EXPORT with a host");
            }
            if (uri.getPort() == 0 || uri.getPort() > 65535) {
                throw new IllegalArgumentException("a port from 1 to 65535 (default 10809)");
            }
            if (uri.getRawUserInfo() != null && !tls) {
                throw new IllegalArgumentException("nbd://HOST[:PORT]/EXPORT without a user (a user names the PSK"
                        + " identity of nbds://)");
            }
            if (uri.getRawQuery() != null && !tls) {
                throw new IllegalArgumentException("nbd://HOST[:PORT]/EXPORT without a query (TLS parameters need"
                        + " nbds://)");
            }
            for (String param : params(uri)) {
                if (!isTlsParameter(param)) {
                    throw new IllegalArgumentException("nbds://HOST[:PORT]/EXPORT?tls-certificates=DIR or "
                            + "?tls-psk-file=FILE (unknown parameter '" + param + "')");
                }
            }
        } else {
            String authority = uri.getRawAuthority();
            if (authority != null && !(tls && authority.endsWith("@") && authority.indexOf('@') == authority.length() - 1)) {
                throw new IllegalArgumentException(scheme + ":///EXPORT?socket=PATH (no host)");
            }
            String socket = null;
            for (String param : params(uri)) {
                if (param.startsWith("socket=")) {
                    socket = param.substring("socket=".length());
                } else if (!tls || !isTlsParameter(param)) {
                    throw new IllegalArgumentException(scheme + ":///EXPORT?socket=PATH" + (tls ? "&tls-..." : "")
                            + " (unknown parameter '" + param + "')");
                }
            }
            if (socket == null || socket.isEmpty()) {
                throw new IllegalArgumentException(scheme + ":///EXPORT?socket=PATH with a socket path");
            }
        }
        return uri;
    }

    /** The query's {@code name=value} parameters, decoded. */
    private static String[] params(URI uri) {
        return uri.getQuery() == null ? new String[0] : uri.getQuery().split("&");
    }

    /** Whether {@code param} ({@code name=value}) is one of the TLS parameters of an nbds URI. */
    private static boolean isTlsParameter(String param) {
        String name = param.substring(0, Math.max(param.indexOf('='), 0));
        switch (name) {
            case "tls-certificates":
            case "tls-psk-file":
            case "tls-verify-peer":
            case "tls-username":
            case "tls-hostname":
                return true;
            default:
                return false;
        }
    }
}
