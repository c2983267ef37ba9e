package pcache.tls.internal.psk;

import java.nio.charset.StandardCharsets;
import java.util.Vector;

import org.bouncycastle.tls.BasicTlsPSKExternal;
import org.bouncycastle.tls.PRFAlgorithm;
import org.bouncycastle.tls.PSKTlsClient;
import org.bouncycastle.tls.ProtocolVersion;
import org.bouncycastle.tls.TlsUtils;
import org.bouncycastle.tls.crypto.TlsCrypto;

/** One client handshake's Bouncy Castle peer: presents one identity, in TLS 1.3 and 1.2. */
final class PskClientPeer extends PSKTlsClient {

    private final byte[] identity;
    private final byte[] key;

    PskClientPeer(TlsCrypto crypto, String identity, byte[] key) {
        super(crypto, identity.getBytes(StandardCharsets.UTF_8), key);
        this.identity = identity.getBytes(StandardCharsets.UTF_8);
        this.key = key.clone();
    }

    /** The connection's context, once the handshake began. */
    org.bouncycastle.tls.TlsContext context() {
        return context;
    }

    /** The versions offered or accepted: {@link PskSuites#VERSIONS}, or fewer in tests. */
    ProtocolVersion[] versions = PskSuites.VERSIONS;

    @Override
    protected ProtocolVersion[] getSupportedVersions() {
        return versions;
    }

    @Override
    protected int[] getSupportedCipherSuites() {
        return TlsUtils.getSupportedCipherSuites(getCrypto(), PskSuites.SUITES);
    }

    @Override
    public Vector getExternalPSKs() {
        Vector<Object> psks = new Vector<>(1);
        psks.add(new BasicTlsPSKExternal(identity, getCrypto().createSecret(key), PRFAlgorithm.tls13_hkdf_sha256));
        return psks;
    }
}
