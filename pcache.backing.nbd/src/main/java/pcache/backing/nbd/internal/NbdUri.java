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
import java.util.Collections;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

import pcache.api.nbd.NbdWire;
import pcache.backing.nbd.internal.NbdTlsOptions.Key;

/**
 * Where an NBD export lives, in the URI forms of libnbd ({@code nbd_connect_uri}):
 * {@code nbd://host[:port]/[export]} (TCP, port 10809 by default) and
 * {@code nbd+unix:///[export]?socket=PATH} (unix domain socket), and their TLS forms
 * {@code nbds://[user@]host[:port]/[export]?tls-...} and
 * {@code nbds+unix://[user@]/[export]?socket=PATH&tls-...}, which connect with TLS or not at
 * all. The export name is the percent-decoded path after the first {@code /}; an empty name
 * selects the server's default export. The TLS query parameters are libnbd's
 * ({@link NbdTlsOptions.Key}); the user part is the PSK user name ({@code tls-username}).
 *
 * <p>Parsing is strict: user info and {@code tls-*} parameters without TLS, unknown query
 * parameters and malformed percent-escapes are rejected with a message naming the URI and the
 * accepted forms. The values of the TLS parameters are checked by {@link NbdTlsOptions}.
 *
 * @param transport TCP or a unix domain socket
 * @param tls whether the connection must use TLS (the {@code nbds} schemes)
 * @param host host name or address for TCP (IPv6 literals keep their brackets), else null
 * @param port TCP port, or -1 for unix sockets
 * @param socketPath absolute, normalised socket path for unix sockets, else null
 * @param exportName the export to open ("" = the server's default export)
 * @param tlsParameters the TLS parameters as written (percent-decoded; the user part as
 *        {@link Key#USERNAME}); empty without TLS
 */
public record NbdUri(Transport transport, boolean tls, String host, int port, Path socketPath,
        String exportName, Map<Key, String> tlsParameters) {

    /** How the client reaches the server. */
    public enum Transport {
        TCP, UNIX
    }

    /** The accepted forms, for error messages. */
    static final String EXPECTED_FORMS =
            "expected nbd://host[:port]/[export] or nbd+unix:///[export]?socket=/path/to/socket, "
            + "or with TLS nbds://[user@]host[:port]/[export]?tls-certificates=DIR|"
            + "tls-psk-file=FILE or nbds+unix://[user@]/[export]?socket=/path/to/socket&tls-...";

    /** Copies the TLS parameters; none without TLS. */
    public NbdUri {
        tlsParameters = tlsParameters == null || tlsParameters.isEmpty() ? Map.of()
                : Collections.unmodifiableMap(new EnumMap<>(tlsParameters));
        if (!tls && !tlsParameters.isEmpty()) {
            throw new IllegalArgumentException("TLS parameters " + tlsParameters.keySet()
                    + " without TLS");
        }
    }

    /** A clear-text URI. */
    public NbdUri(Transport transport, String host, int port, Path socketPath, String exportName) {
        this(transport, false, host, port, socketPath, exportName, Map.of());
    }

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
                return parseTcp(text, uri, false);
            case "nbds":
                return parseTcp(text, uri, true);
            case "nbd+unix":
                return parseUnix(text, uri, false);
            case "nbds+unix":
                return parseUnix(text, uri, true);
            default:
                throw invalid(text, "unsupported scheme '" + scheme + "'");
        }
    }

    private static NbdUri parseTcp(String text, URI uri, boolean tls) {
        String scheme = tls ? "nbds://" : "nbd://";
        if (uri.getRawAuthority() == null || uri.getRawAuthority().isEmpty()) {
            throw invalid(text, scheme + " needs a host");
        }
        Map<Key, String> tlsParameters = new EnumMap<>(Key.class);
        userInfo(text, uri.getRawUserInfo(), tls, tlsParameters);
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
        if (uri.getRawQuery() != null && !tls) {
            throw invalid(text, "nbd:// URIs take no query parameters (found '" + uri.getRawQuery()
                    + "'); TLS parameters need nbds://");
        }
        String socket = query(text, uri.getRawQuery(), false, tls, tlsParameters);
        assert socket == null;
        String export = exportFromPath(text, uri.getRawPath());
        return new NbdUri(Transport.TCP, tls, host.toLowerCase(Locale.ROOT), port, null, export,
                tlsParameters);
    }

    private static NbdUri parseUnix(String text, URI uri, boolean tls) {
        String scheme = tls ? "nbds+unix://" : "nbd+unix://";
        Map<Key, String> tlsParameters = new EnumMap<>(Key.class);
        String authority = uri.getRawAuthority();
        if (authority != null && !authority.isEmpty()) {
            // only "user@": java.net.URI takes "user@" as a registry authority without user info
            boolean userOnly = authority.indexOf('@') == authority.length() - 1;
            if (!tls || !userOnly) {
                throw invalid(text, scheme + " takes no host (write " + scheme
                        + "/export?socket=...)");
            }
            userInfo(text, authority.substring(0, authority.length() - 1), tls, tlsParameters);
        }
        String query = uri.getRawQuery();
        if (query == null || query.isEmpty()) {
            throw invalid(text, scheme + " needs the query parameter socket=PATH");
        }
        String socket = query(text, query, true, tls, tlsParameters);
        if (socket == null) {
            throw invalid(text, scheme + " needs the query parameter socket=PATH");
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
        return new NbdUri(Transport.UNIX, tls, null, -1, path, export, tlsParameters);
    }

    /** The user part: the PSK user name of a TLS URI. */
    private static void userInfo(String text, String rawUserInfo, boolean tls,
            Map<Key, String> tlsParameters) {
        if (rawUserInfo == null) {
            return;
        }
        if (!tls) {
            throw invalid(text, "user information is only allowed with TLS (nbds://user@host/...),"
                    + " where it names the PSK user");
        }
        String user = percentDecode(text, rawUserInfo);
        if (user.isEmpty()) {
            throw invalid(text, "the user name before '@' is empty");
        }
        tlsParameters.put(Key.USERNAME, user);
    }

    /**
     * Parses the query: {@code socket} (if allowed) and, with TLS, the TLS parameters into
     * {@code tlsParameters}. Returns the socket path as written, or null if absent.
     */
    private static String query(String text, String rawQuery, boolean socketAllowed, boolean tls,
            Map<Key, String> tlsParameters) {
        if (rawQuery == null) {
            return null;
        }
        String socket = null;
        for (String parameter : rawQuery.split("&", -1)) {
            int eq = parameter.indexOf('=');
            String name = eq < 0 ? parameter : parameter.substring(0, eq);
            String value = eq < 0 ? "" : percentDecode(text, parameter.substring(eq + 1));
            if (socketAllowed && name.equals("socket")) {
                if (socket != null) {
                    throw invalid(text, "the socket parameter is given twice");
                }
                socket = value;
                continue;
            }
            Key key = Key.ofParameter(name);
            if (key == null) {
                throw invalid(text, "unknown query parameter '" + name + "' (known: "
                        + (socketAllowed ? "socket=PATH" : "") + (tls ? (socketAllowed ? ", " : "")
                        + tlsParameterNames() : "") + ")");
            }
            if (!tls) {
                throw invalid(text, name + " needs TLS: write nbds+unix://");
            }
            if (value.isEmpty()) {
                throw invalid(text, "the " + name + " parameter is empty");
            }
            if (key == Key.USERNAME && tlsParameters.containsKey(Key.USERNAME)
                    && !tlsParameters.get(Key.USERNAME).equals(value)) {
                throw invalid(text, "the user part '" + tlsParameters.get(Key.USERNAME)
                        + "' and tls-username '" + value + "' differ");
            }
            if (key != Key.USERNAME && tlsParameters.containsKey(key)) {
                throw invalid(text, "the " + name + " parameter is given twice");
            }
            tlsParameters.put(key, value);
        }
        return socket;
    }

    private static String tlsParameterNames() {
        StringBuilder names = new StringBuilder();
        for (Key key : Key.values()) {
            names.append(names.length() == 0 ? "" : ", ").append(key.parameter);
        }
        return names.toString();
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
     * percent-escapes, the PSK user name as {@code tls-username}, TLS parameters in the order
     * of {@link Key}. Two URIs naming the same export the same way normalise equal.
     */
    @Override
    public String toString() {
        StringBuilder text = new StringBuilder(location());
        char separator = transport == Transport.TCP ? '?' : '&';
        for (Map.Entry<Key, String> parameter : tlsParameters.entrySet()) {
            text.append(separator).append(parameter.getKey().parameter).append('=')
                    .append(percentEncode(parameter.getValue()));
            separator = '&';
        }
        return text.toString();
    }

    /**
     * The server and export without TLS parameters, for messages: {@code nbds://host:port/export}
     * or {@code nbds+unix:///export?socket=PATH} (the same as {@link #toString()} without TLS).
     */
    public String location() {
        return spelled(tls);
    }

    /**
     * The clear-text spelling of {@link #location()}, the same with or without TLS: what names
     * the export's content in the backing identity, so that turning TLS on keeps a cache's
     * backing device.
     */
    public String identityText() {
        return spelled(false);
    }

    private String spelled(boolean withTls) {
        String s = withTls ? "s" : "";
        return transport == Transport.TCP
                ? "nbd" + s + "://" + host + ":" + port + "/" + percentEncode(exportName)
                : "nbd" + s + "+unix:///" + percentEncode(exportName) + "?socket="
                        + percentEncode(socketPath.toString());
    }
}
