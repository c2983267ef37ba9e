package pcache.api.tls;

import java.io.IOException;

/** A TLS handshake that failed for a reason the peer or the configuration caused, named in the message. */
public class TlsHandshakeException extends IOException {
    private static final long serialVersionUID = 1L;

    public TlsHandshakeException(String message) {
        super(message);
    }

    public TlsHandshakeException(String message, Throwable cause) {
        super(message, cause);
    }
}
