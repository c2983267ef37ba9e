package pcache.tls.internal.psk;

import java.util.Map;

import org.bouncycastle.tls.CipherSuite;
import org.bouncycastle.tls.ProtocolVersion;

/**
 * What pcache offers with pre-shared keys: TLS 1.3 (external PSK with (EC)DHE, the only mode
 * Bouncy Castle implements) and TLS 1.2 PSK suites, forward-secret and AEAD first, in the order
 * GnuTLS (qemu, nbdkit, libnbd) also negotiates them.
 */
final class PskSuites {

    static final ProtocolVersion[] VERSIONS = ProtocolVersion.TLSv13.downTo(ProtocolVersion.TLSv12);

    private static final Map<Integer, String> NAMES = Map.ofEntries(
            Map.entry(CipherSuite.TLS_AES_128_GCM_SHA256, "TLS_AES_128_GCM_SHA256"),
            Map.entry(CipherSuite.TLS_AES_256_GCM_SHA384, "TLS_AES_256_GCM_SHA384"),
            Map.entry(CipherSuite.TLS_CHACHA20_POLY1305_SHA256, "TLS_CHACHA20_POLY1305_SHA256"),
            Map.entry(CipherSuite.TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256, "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256"),
            Map.entry(CipherSuite.TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384, "TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384"),
            Map.entry(CipherSuite.TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256,
                    "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256"),
            Map.entry(CipherSuite.TLS_DHE_PSK_WITH_AES_256_GCM_SHA384, "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384"),
            Map.entry(CipherSuite.TLS_DHE_PSK_WITH_AES_128_GCM_SHA256, "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256"),
            Map.entry(CipherSuite.TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256,
                    "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256"),
            Map.entry(CipherSuite.TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256"),
            Map.entry(CipherSuite.TLS_PSK_WITH_AES_256_GCM_SHA384, "TLS_PSK_WITH_AES_256_GCM_SHA384"),
            Map.entry(CipherSuite.TLS_PSK_WITH_AES_128_GCM_SHA256, "TLS_PSK_WITH_AES_128_GCM_SHA256"),
            Map.entry(CipherSuite.TLS_PSK_WITH_CHACHA20_POLY1305_SHA256, "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256"));

    /**
     * In order of preference. TLS 1.3 suites with SHA-256 only: an external PSK is bound to one
     * hash, GnuTLS's (and so pcache's) to SHA-256, and Bouncy Castle's server would otherwise
     * accept GnuTLS's first choice, TLS_AES_256_GCM_SHA384, and derive keys the client does not.
     */
    static final int[] SUITES = {
        CipherSuite.TLS_AES_128_GCM_SHA256,
        CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256,
        CipherSuite.TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384,
        CipherSuite.TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS_DHE_PSK_WITH_AES_128_GCM_SHA256,
        CipherSuite.TLS_DHE_PSK_WITH_AES_256_GCM_SHA384,
        CipherSuite.TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256, // GnuTLS's ECDHE-PSK without CHACHA20
        CipherSuite.TLS_PSK_WITH_AES_128_GCM_SHA256,
        CipherSuite.TLS_PSK_WITH_AES_256_GCM_SHA384,
        CipherSuite.TLS_PSK_WITH_CHACHA20_POLY1305_SHA256,
    };

    private PskSuites() {
    }

    static String name(int suite) {
        return NAMES.getOrDefault(suite, String.format("0x%04X", suite));
    }

    /** JSSE's spelling ("TLSv1.3"), as the X.509 channels report it. */
    static String protocolName(ProtocolVersion version) {
        if (ProtocolVersion.TLSv13.equals(version)) {
            return "TLSv1.3";
        }
        if (ProtocolVersion.TLSv12.equals(version)) {
            return "TLSv1.2";
        }
        return String.valueOf(version);
    }
}
