package pcache.export.nbd.internal;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Where the server listens: a TCP host and port, or a unix domain socket path.
 * Written as {@code host:port}, {@code [ipv6]:port} or {@code unix:/path}; port 0 picks a free one.
 *
 * @param tcp the TCP address, or null for a unix socket
 * @param unixPath the socket file, or null for TCP
 */
public record ListenAddress(InetSocketAddress tcp, Path unixPath) {

    /** The IANA port for NBD. */
    public static final int NBD_PORT = 10809;

    public static ListenAddress tcp(InetSocketAddress address) {
        return new ListenAddress(address, null);
    }

    public static ListenAddress unix(Path path) {
        return new ListenAddress(null, path);
    }

    /** The socket address to bind. */
    public SocketAddress socketAddress() {
        return tcp != null ? tcp : UnixDomainSocketAddress.of(unixPath);
    }

    /** True for TCP addresses that are not loopback (binding them is an explicit choice). */
    public boolean exposesNetwork() {
        return tcp != null && !tcp.getAddress().isLoopbackAddress();
    }

    /**
     * Parses one address.
     *
     * @throws IllegalArgumentException naming the text and what is expected
     */
    public static ListenAddress parse(String text) {
        String s = text.trim();
        if (s.startsWith("unix:")) {
            String path = s.substring("unix:".length());
            if (path.isEmpty()) {
                throw new IllegalArgumentException("listen address '" + text + "': expected unix:/path/to/socket");
            }
            return unix(Path.of(path));
        }
        int colon = s.lastIndexOf(':');
        if (colon <= 0 || colon == s.length() - 1) {
            throw new IllegalArgumentException("listen address '" + text
                    + "': expected host:port, [ipv6]:port or unix:/path (e.g. 127.0.0.1:" + NBD_PORT + ")");
        }
        String host = s.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(s.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("listen address '" + text + "': port is not a number");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("listen address '" + text + "': port must be 0..65535");
        }
        try {
            return tcp(new InetSocketAddress(InetAddress.getByName(host), port));
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("listen address '" + text + "': unknown host '" + host + "'");
        }
    }

    /** Parses a comma-separated list of addresses (at least one). */
    public static List<ListenAddress> parseList(String text) {
        List<ListenAddress> result = new ArrayList<>();
        for (String part : text.split(",")) {
            if (!part.isBlank()) {
                result.add(parse(part));
            }
        }
        if (result.isEmpty()) {
            throw new IllegalArgumentException("listen: no address given (e.g. 127.0.0.1:" + NBD_PORT
                    + " or unix:/run/pcache/nbd.sock)");
        }
        return result;
    }

    @Override
    public String toString() {
        if (tcp == null) {
            return "unix:" + unixPath;
        }
        String host = tcp.getAddress().getHostAddress();
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + tcp.getPort();
    }
}
