package pcache.api.config;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * The configuration of the HTTP service's host check (PID {@value #PID}, a singleton
 * configuration): which names a request on a loopback address may carry in its {@code Host}
 * header besides addresses, {@code localhost} (its usual aliases, names under
 * {@code .localhost}) and this machine's own name. Any other name on loopback is refused as DNS
 * rebinding. The one parser the launcher ({@code http.allowed_hosts}) and the check use.
 *
 * @since 1.7
 */
public final class HttpProperties {

    /** PID of the host check's configuration. */
    public static final String PID = "pcache.http";
    /** Further host names a request on loopback may name (a String array). */
    public static final String ALLOWED_HOSTS = "allowed_hosts";
    /** What a value of {@value #ALLOWED_HOSTS} looks like, for messages. */
    public static final String ALLOWED_HOSTS_EXPECTED = "host names separated by commas (e.g."
            + " pcache.example.com,nas.example.com); addresses and localhost need no entry";

    private static final Pattern HOST_NAME = Pattern.compile("[a-z0-9]([a-z0-9-]*[a-z0-9])?"
            + "(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*");

    /** An IPv4 address, or an IPv6 one (a colon in it, maybe a zone): never a name to look up. */
    private static final Pattern ADDRESS_LITERAL = Pattern.compile("[0-9.]+|[0-9a-fA-F:.%]*:[0-9a-fA-F:.%]*");

    private HttpProperties() {
    }

    /**
     * Whether {@code address} is a loopback address written as one (127.0.0.0/8, {@code ::1},
     * maybe in brackets). A name is never looked up: it is not loopback here.
     */
    public static boolean isLoopbackLiteral(String address) {
        if (address == null) {
            return false;
        }
        String a = address.startsWith("[") && address.endsWith("]") ? address.substring(1, address.length() - 1)
                : address;
        if (!ADDRESS_LITERAL.matcher(a).matches()) {
            return false;
        }
        try {
            return java.net.InetAddress.getByName(a).isLoopbackAddress(); // a literal: no lookup
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }

    /**
     * One host name as it is compared: lower case, without the root's trailing dot
     * ({@code Localhost.} is {@code localhost}).
     */
    public static String canonicalHost(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        return n.endsWith(".") ? n.substring(0, n.length() - 1) : n;
    }

    /**
     * Parses {@value #ALLOWED_HOSTS}: names separated by commas, each canonical; blank is none.
     *
     * @throws IllegalArgumentException naming the first part that is not a host name, with
     *         {@link #ALLOWED_HOSTS_EXPECTED}
     */
    public static List<String> allowedHosts(String value) {
        if (value == null || value.isBlank()) {
            return List.of();
        }
        List<String> names = new ArrayList<>();
        for (String part : value.split(",", -1)) {
            names.add(allowedHost(part));
        }
        return List.copyOf(names);
    }

    /**
     * One entry of {@value #ALLOWED_HOSTS}, canonical.
     *
     * @throws IllegalArgumentException when it is not a host name, with {@link #ALLOWED_HOSTS_EXPECTED}
     */
    public static String allowedHost(String part) {
        String name = canonicalHost(part);
        if (name.length() > 253 || !HOST_NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(ALLOWED_HOSTS_EXPECTED + ": '" + part.trim() + "' is not a host name");
        }
        return name;
    }
}
