package pcache.tls.internal.psk;

import java.io.IOException;

import org.bouncycastle.tls.AlertDescription;
import org.bouncycastle.tls.TlsClientProtocol;
import org.bouncycastle.tls.TlsFatalAlert;
import org.bouncycastle.tls.TlsServerProtocol;

/**
 * Bouncy Castle's TLS protocols, refusing a TLS 1.2 renegotiation with a fatal alert, as JSSE
 * does. Bouncy Castle's own refusal is a warning alert for each request, and the connection goes
 * on: a peer packing thousands of empty ClientHello (or HelloRequest) messages into each record
 * made it queue an alert for each, without bound while the transport could not be written (a
 * client that stops reading its replies), until the heap ran out for every connection.
 */
final class Protocols {

    private Protocols() {
    }

    static TlsServerProtocol server() {
        return new TlsServerProtocol() {
            @Override
            protected void refuseRenegotiation() throws IOException {
                throw refusal();
            }
        };
    }

    static TlsClientProtocol client() {
        return new TlsClientProtocol() {
            @Override
            protected void refuseRenegotiation() throws IOException {
                throw refusal();
            }
        };
    }

    private static TlsFatalAlert refusal() {
        return new RenegotiationRefused();
    }

    /** The refusal of a renegotiation, which {@link PskFailures} names as such. */
    static final class RenegotiationRefused extends TlsFatalAlert {
        private static final long serialVersionUID = 1L;

        RenegotiationRefused() {
            super(AlertDescription.handshake_failure,
                    "the peer asked to renegotiate the TLS session, which is not supported: the connection ends");
        }
    }
}
