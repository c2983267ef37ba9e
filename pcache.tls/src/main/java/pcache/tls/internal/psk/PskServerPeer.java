package pcache.tls.internal.psk;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Vector;

import org.bouncycastle.tls.AlertDescription;
import org.bouncycastle.tls.BasicTlsPSKExternal;
import org.bouncycastle.tls.PRFAlgorithm;
import org.bouncycastle.tls.PSKTlsServer;
import org.bouncycastle.tls.ProtocolVersion;
import org.bouncycastle.tls.PskIdentity;
import org.bouncycastle.tls.TlsCredentials;
import org.bouncycastle.tls.TlsFatalAlert;
import org.bouncycastle.tls.TlsPSKExternal;
import org.bouncycastle.tls.TlsPSKIdentityManager;
import org.bouncycastle.tls.TlsUtils;
import org.bouncycastle.tls.crypto.TlsCrypto;

import pcache.tls.internal.credentials.PskFile;

/**
 * One server handshake's Bouncy Castle peer: accepts any identity in the PSK file, in TLS 1.3
 * (external PSK) and 1.2 (PSK suites), and remembers which identity a client offered so a refusal
 * can name it.
 */
final class PskServerPeer extends PSKTlsServer {

    private final PskFile keys;
    /** The identity the client proved, or last offered; null before it offered one. */
    volatile String identity;
    /** Whether {@link #identity} is in the file. */
    volatile boolean known;

    PskServerPeer(TlsCrypto crypto, PskFile keys) {
        super(crypto, new IdentityManager(keys));
        this.keys = keys;
        ((IdentityManager) pskIdentityManager).peer = this;
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
    public TlsPSKExternal getExternalPSK(Vector identities) {
        for (Object offered : identities) {
            String name = new String(((PskIdentity) offered).getIdentity(), StandardCharsets.UTF_8);
            byte[] key = keys.key(name);
            identity = name;
            if (key != null) {
                known = true;
                return new BasicTlsPSKExternal(((PskIdentity) offered).getIdentity(), getCrypto().createSecret(key),
                        PRFAlgorithm.tls13_hkdf_sha256);
            }
        }
        return null;
    }

    /** TLS 1.3 without a matching PSK would fall back to a certificate, which a PSK server has none of. */
    @Override
    public TlsCredentials getCredentials() throws IOException {
        if (TlsUtils.isTLSv13(context)) {
            throw new TlsFatalAlert(AlertDescription.unknown_psk_identity,
                    identity == null ? "the client offered no PSK"
                            : "unknown PSK identity '" + pcache.io.Printable.of(identity) + "'");
        }
        return super.getCredentials();
    }

    /** TLS 1.2's look-up of the identity the client sent. */
    private static final class IdentityManager implements TlsPSKIdentityManager {
        private final PskFile keys;
        private PskServerPeer peer;

        IdentityManager(PskFile keys) {
            this.keys = keys;
        }

        @Override
        public byte[] getHint() {
            return null;
        }

        @Override
        public byte[] getPSK(byte[] identity) {
            String name = new String(identity, StandardCharsets.UTF_8);
            byte[] key = keys.key(name);
            peer.identity = name;
            peer.known = key != null;
            return key;
        }
    }
}
