package pcache.tls.internal.x509;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * The order in which pcache's JSSE endpoints prefer cipher suites: the JDK's enabled suites, the
 * same set, with each AES-256-GCM suite swapped with its AES-128-GCM twin when the twin comes
 * later (the PSK endpoints, Go's crypto/tls and BoringSSL put AES-128-GCM first too).
 * TLS_AES_128_GCM_SHA256 is TLS 1.3's mandatory suite; its bulk cipher runs four rounds fewer per
 * block, and both ends of a connection pay for every byte: on one 2-core machine 1 MiB NBD reads
 * over TLS ran 11–14 % faster with it against libnbd (docs/BENCHMARKS.md, "The cipher suite
 * pcache prefers").
 *
 * <p>An order the operator gave the JDK ({@code jdk.tls.server.cipherSuites} on a server,
 * {@code jdk.tls.client.cipherSuites} on a client) is kept as it is. The JDK reads these
 * properties once, when JSSE starts; so does this class.
 */
final class SuiteOrder {

    static final String SERVER_PROPERTY = "jdk.tls.server.cipherSuites";
    static final String CLIENT_PROPERTY = "jdk.tls.client.cipherSuites";

    private static final boolean SERVER_ORDERED = operatorOrdered(true, System::getProperty);
    private static final boolean CLIENT_ORDERED = operatorOrdered(false, System::getProperty);

    private SuiteOrder() {
    }

    /** Whether the operator named the suites and their order for this side through the JDK's property. */
    static boolean operatorOrdered(boolean server) {
        return server ? SERVER_ORDERED : CLIENT_ORDERED;
    }

    /** {@link #operatorOrdered(boolean)} from {@code properties}; blank or {@code ""} is not an order, as for the JDK. */
    static boolean operatorOrdered(boolean server, UnaryOperator<String> properties) {
        String given = properties.apply(server ? SERVER_PROPERTY : CLIENT_PROPERTY);
        if (given == null) {
            return false;
        }
        String value = given.strip();
        if (value.length() > 1 && value.startsWith("\"") && value.endsWith("\"")) {
            value = value.substring(1, value.length() - 1).strip();
        }
        return !value.isEmpty();
    }

    /**
     * {@code enabled} with every AES-256-GCM suite that comes before its AES-128-GCM twin swapped
     * with it; every other suite keeps its place, and no suite is added or dropped.
     */
    static String[] preferAes128(String[] enabled) {
        List<String> suites = new ArrayList<>(List.of(enabled));
        for (int i = 0; i < suites.size(); i++) {
            String twin = aes128Twin(suites.get(i));
            if (twin == null) {
                continue;
            }
            int at = suites.indexOf(twin);
            if (at > i) {
                suites.set(at, suites.get(i));
                suites.set(i, twin);
            }
        }
        return suites.toArray(new String[0]);
    }

    /** The AES-128-GCM suite with the same key exchange and authentication as {@code suite}, or null. */
    static String aes128Twin(String suite) {
        return suite.endsWith("AES_256_GCM_SHA384")
                ? suite.substring(0, suite.length() - "AES_256_GCM_SHA384".length()) + "AES_128_GCM_SHA256"
                : null;
    }
}
