package pcache.launcher;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Where the optional HTTP service listens ({@code http.listen = HOST:PORT}): the metrics
 * endpoint {@code /metrics}, the health report {@code /system/health} and the Web Console
 * {@value #CONSOLE_PATH} run on it. Without the key nothing HTTP runs at all: the launcher
 * installs the HTTP bundles (the distribution's {@code bundles/http/}) only when it is set.
 *
 * @param host the host or address to bind, without brackets for IPv6 ({@code 127.0.0.1},
 *        {@code ::1}, {@code localhost})
 * @param port the TCP port, 1 to 65535
 */
public record HttpListen(String host, int port) {

    /** Where the Web Console is served. */
    static final String CONSOLE_PATH = "/system/console";

    /** What a value looks like, for messages. */
    static final String EXPECTED = "HOST:PORT with a port from 1 to 65535 (e.g. 127.0.0.1:8080, [::1]:8080);"
            + " remove " + ConfigKeys.HTTP_LISTEN + " to run without HTTP";

    /** Felix HTTP (Jetty): the port of its HTTP connector (a framework property it reads). */
    static final String FELIX_HTTP_PORT = "org.osgi.service.http.port";
    /** Felix HTTP (Jetty): the address the connector binds. */
    static final String FELIX_HTTP_HOST = "org.apache.felix.http.host";
    /** Felix HTTP (Jetty): whether responses name the server and its version. */
    static final String FELIX_SEND_SERVER_HEADER = "org.apache.felix.http.jetty.sendServerHeader";
    /**
     * Felix EventAdmin (which the health checks' core imports): what it prints to standard output,
     * 1 = errors. Its default, warnings, prints "Event Task Processing Interrupted" at every stop.
     */
    static final String EVENTADMIN_LOG_LEVEL = "org.apache.felix.eventadmin.LogLevel";

    /**
     * Parses the value of {@code http.listen}; empty when it is absent or blank.
     *
     * @throws IllegalArgumentException with the problem, {@code http.listen=VALUE: expected ...}
     */
    static Optional<HttpListen> parse(String value) {
        if (value == null || value.isBlank()) {
            return Optional.empty();
        }
        String v = value.trim();
        int colon = v.lastIndexOf(':');
        String host = colon < 0 ? "" : v.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]") && host.length() > 2) {
            host = host.substring(1, host.length() - 1);
        } else if (host.contains(":") || host.contains("[") || host.contains("]")) {
            throw problem(value, EXPECTED + " (an IPv6 address goes in brackets)");
        }
        if (host.isEmpty() || host.chars().anyMatch(Character::isWhitespace)) {
            throw problem(value, EXPECTED);
        }
        int port;
        try {
            port = Integer.parseInt(v.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw problem(value, EXPECTED);
        }
        if (port < 1 || port > 65535) {
            throw problem(value, EXPECTED);
        }
        try {
            InetAddress.getByName(host);
        } catch (UnknownHostException e) {
            throw problem(value, "a host that resolves to an address of this machine; " + host + " does not resolve ("
                    + EXPECTED + ")");
        }
        return Optional.of(new HttpListen(host, port));
    }

    private static IllegalArgumentException problem(String value, String expected) {
        return new IllegalArgumentException(ConfigException.problem(ConfigKeys.HTTP_LISTEN, value, expected));
    }

    /** The framework properties that make Felix HTTP listen here (and nowhere else, not even at first). */
    Map<String, String> frameworkProperties() {
        Map<String, String> p = new LinkedHashMap<>();
        p.put(FELIX_HTTP_HOST, host);
        p.put(FELIX_HTTP_PORT, Integer.toString(port));
        p.put(FELIX_SEND_SERVER_HEADER, "false");
        p.put(EVENTADMIN_LOG_LEVEL, "1");
        p.putAll(WebConsole.frameworkProperties());
        return p;
    }

    /**
     * Whether only this machine can connect: {@code localhost}, or a loopback address written as
     * one (127.0.0.0/8, {@code ::1}). A host name is not looked up: anything else counts as
     * reachable from the network.
     */
    boolean isLoopback() {
        return host.equalsIgnoreCase("localhost") || pcache.api.config.HttpProperties.isLoopbackLiteral(host);
    }

    /**
     * The warning a start on a network address prints, or empty on loopback. Such a listener is
     * allowed (behind a firewall, a TLS proxy on the same host), but it serves the console's
     * password in clear and the metrics and health report to anyone; before, it started silently.
     */
    Optional<String> networkWarning() {
        if (isLoopback()) {
            return Optional.empty();
        }
        return Optional.of("pcache: WARNING: " + ConfigKeys.HTTP_LISTEN + "=" + (host.contains(":") ? "[" + host + "]"
                : host) + ":" + port + " is reachable from other machines: the Web Console's password crosses the"
                + " network in clear, and " + url("/metrics") + " and " + url("/system/health") + " need no"
                + " credentials; keep it on loopback (127.0.0.1) or put a TLS proxy in front");
    }

    /** The URL of {@code path} on this address, as a user would type it ({@code http://127.0.0.1:8080/metrics}). */
    String url(String path) {
        return "http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port + path;
    }
}
