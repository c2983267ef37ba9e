package pcache.backing.nbd.internal;

import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Locale;
import pcache.api.nbd.NbdWire;

/**
 * Where an NBD export lives, in the URI forms of libnbd ({@code nbd_connect_uri}):
 * {@code nbd://host[:port]/[export]} (TCP, port 10809 by default) and
 * {@code nbd+unix:///[export]?socket=PATH} (unix domain socket). The export name is the
 * percent-decoded path after the first {@code /}; an empty name selects the server's default
 * export.
 *
 * <p>Parsing is strict: TLS schemes, user info, unknown query parameters and malformed
 * percent-escapes are rejected with a message naming the URI and the accepted forms.
 *
 * @param transport TCP or a unix domain socket
 * @param host host name or address for TCP (IPv6 literals keep their brackets), else null
 * @param port TCP port, or -1 for unix sockets
 * @param socketPath absolute, normalised socket path for unix sockets, else null
 * @param exportName the export to open ("" = the server's default export)
 */
public record NbdUri(Transport transport, String host, int port, Path socketPath, String exportName) {

    /** How the client reaches the server. */
    public enum Transport {
        TCP, UNIX
    }

    /** The accepted forms, for error messages. */
    static final String EXPECTED_FORMS =
            "expected nbd://host[:port]/[export] or nbd+unix:///[export]?socket=/path/to/socket";

    /**
     * Parses an NBD URI.
     *
     * @throws IllegalArgumentException naming the URI, what is wrong and the expected forms
     */
    public static NbdUri parse(String text) {
        if (text == null || text.isBlank()) {
            throw invalid(String.valueOf(text), "the URI is empty");
        }
        URI uri;
        try {
            uri = new URI(text.trim());
        } catch (URISyntaxException e) {
            throw invalid(text, e.getReason() + " at index " + e.getIndex());
        }
        String scheme = uri.getScheme();
        if (scheme == null) {
            throw invalid(text, "it has no scheme");
        }
        if (uri.isOpaque()) {
            throw invalid(text, "it must have the form scheme://...");
        }
        if (uri.getRawFragment() != null) {
            throw invalid(text, "fragments (#...) are not allowed");
        }
        switch (scheme.toLowerCase(Locale.ROOT)) {
            case "nbd":
                return parseTcp(text, uri);
            case "nbd+unix":
                return parseUnix(text, uri);
            case "nbds":
            case "nbds+unix":
            case "nbds+vsock":
                throw invalid(text, "TLS (" + scheme + ") is not supported by this client; "
                        + "use a plain NBD server on loopback or a unix socket");
            default:
                throw invalid(text, "unsupported scheme '" + scheme + "'");
        }
    }

    private static NbdUri parseTcp(String text, URI uri) {
        if (uri.getRawAuthority() == null || uri.getRawAuthority().isEmpty()) {
            throw invalid(text, "nbd:// needs a host");
        }
        if (uri.getRawUserInfo() != null) {
            throw invalid(text, "user information is not allowed");
        }
        String host = uri.getHost();
        if (host == null) {
            // java.net.URI falls back to a registry authority when host or port are malformed
            throw invalid(text, "malformed host or port '" + uri.getRawAuthority() + "'");
        }
        int port = uri.getPort();
        if (port == -1) {
            if (uri.getRawAuthority().endsWith(":")) {
                throw invalid(text, "empty port");
            }
            port = NbdWire.DEFAULT_PORT;
        }
        if (port < 1 || port > 65535) {
            throw invalid(text, "port " + port + " is outside 1..65535");
        }
        if (uri.getRawQuery() != null) {
            throw invalid(text, "nbd:// URIs take no query parameters (found '" + uri.getRawQuery()
                    + "')");
        }
        String export = exportFromPath(text, uri.getRawPath());
        return new NbdUri(Transport.TCP, host.toLowerCase(Locale.ROOT), port, null, export);
    }

    private static NbdUri parseUnix(String text, URI uri) {
        if (uri.getRawAuthority() != null && !uri.getRawAuthority().isEmpty()) {
            throw invalid(text, "nbd+unix:// takes no host (write nbd+unix:///export?socket=...)");
        }
        String query = uri.getRawQuery();
        if (query == null || query.isEmpty()) {
            throw invalid(text, "nbd+unix:// needs the query parameter socket=PATH");
        }
        String socket = null;
        for (String parameter : query.split("&", -1)) {
            int eq = parameter.indexOf('=');
            String key = eq < 0 ? parameter : parameter.substring(0, eq);
            if (!key.equals("socket")) {
                throw invalid(text, "unknown query parameter '" + key + "' (only socket=PATH)");
            }
            if (socket != null) {
                throw invalid(text, "the socket parameter is given twice");
            }
            socket = eq < 0 ? "" : percentDecode(text, parameter.substring(eq + 1));
        }
        if (socket.isEmpty()) {
            throw invalid(text, "the socket parameter is empty");
        }
        Path path;
        try {
            path = Path.of(socket).toAbsolutePath().normalize();
        } catch (InvalidPathException e) {
            throw invalid(text, "invalid socket path: " + e.getMessage());
        }
        String export = exportFromPath(text, uri.getRawPath());
        return new NbdUri(Transport.UNIX, null, -1, path, export);
    }

    private static String exportFromPath(String text, String rawPath) {
        if (rawPath == null || rawPath.isEmpty()) {
            return "";
        }
        if (!rawPath.startsWith("/")) {
            throw invalid(text, "the export must follow a '/'");
        }
        String export = percentDecode(text, rawPath.substring(1));
        if (export.indexOf('\0') >= 0) {
            throw invalid(text, "the export name contains a NUL character");
        }
        if (export.getBytes(StandardCharsets.UTF_8).length > NbdWire.MAX_STRING_BYTES) {
            throw invalid(text, "the export name is longer than " + NbdWire.MAX_STRING_BYTES
                    + " bytes");
        }
        return export;
    }

    /** Strict percent-decoding to UTF-8 ({@code +} stays a plus, as in libnbd). */
    private static String percentDecode(String text, String raw) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(raw.length());
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '%') {
                if (i + 2 >= raw.length() || Character.digit(raw.charAt(i + 1), 16) < 0
                        || Character.digit(raw.charAt(i + 2), 16) < 0) {
                    throw invalid(text, "malformed percent-escape at '" + raw.substring(i) + "'");
                }
                bytes.write(Character.digit(raw.charAt(i + 1), 16) * 16
                        + Character.digit(raw.charAt(i + 2), 16));
                i += 2;
            } else {
                byte[] encoded = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                if (Character.isHighSurrogate(c) && i + 1 < raw.length()) {
                    encoded = raw.substring(i, i + 2).getBytes(StandardCharsets.UTF_8);
                    i++;
                }
                bytes.writeBytes(encoded);
            }
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes.toByteArray())).toString();
        } catch (CharacterCodingException e) {
            throw invalid(text, "percent-escapes do not decode as UTF-8");
        }
    }

    private static String percentEncode(String value) {
        StringBuilder out = new StringBuilder(value.length());
        for (byte b : value.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
                out.append((char) c);
            } else {
                out.append('%').append(String.format("%02X", c));
            }
        }
        return out.toString();
    }

    private static IllegalArgumentException invalid(String text, String reason) {
        return new IllegalArgumentException("invalid NBD URI '" + text + "': " + reason + "; "
                + EXPECTED_FORMS);
    }

    /**
     * The socket address to connect to; host names are resolved on every call, so a reconnect
     * follows a changed DNS entry. The result may be unresolved ({@link
     * InetSocketAddress#isUnresolved()}) if the name does not resolve.
     */
    SocketAddress socketAddress() {
        return transport == Transport.TCP
                ? new InetSocketAddress(host.startsWith("[")
                        ? host.substring(1, host.length() - 1) : host, port)
                : UnixDomainSocketAddress.of(socketPath);
    }

    /**
     * The normalised form: explicit port, lower-case host, absolute socket path, canonical
     * percent-escapes. Two URIs naming the same export the same way normalise equal.
     */
    @Override
    public String toString() {
        return transport == Transport.TCP
                ? "nbd://" + host + ":" + port + "/" + percentEncode(exportName)
                : "nbd+unix:///" + percentEncode(exportName) + "?socket="
                        + percentEncode(socketPath.toString());
    }
}
