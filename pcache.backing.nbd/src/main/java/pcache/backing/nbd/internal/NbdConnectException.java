package pcache.backing.nbd.internal;

import pcache.api.BackingDeviceException;

/** Connecting to an NBD server or negotiating the export failed; {@link #reason()} says how. */
public final class NbdConnectException extends BackingDeviceException {
    private static final long serialVersionUID = 1L;

    /** Why the connection could not be established. */
    public enum Reason {
        /** Nothing listens there, the host is unknown or the network failed. */
        UNREACHABLE,
        /** Connecting or the handshake took longer than the connect timeout. */
        TIMEOUT,
        /** The peer does not speak NBD (wrong magic). */
        NOT_NBD,
        /** The server has no export of that name. */
        UNKNOWN_EXPORT,
        /** The server insists on TLS, which this client does not do. */
        TLS_REQUIRED,
        /** The server refused for another reason (policy, shutting down, ...). */
        REFUSED,
        /** The server broke the protocol during the handshake. */
        PROTOCOL
    }

    private final Reason reason;

    NbdConnectException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    NbdConnectException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    /** Why connecting failed. */
    public Reason reason() {
        return reason;
    }
}
