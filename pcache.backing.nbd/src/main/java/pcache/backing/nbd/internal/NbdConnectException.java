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
        /** The server insists on TLS, and the URI is clear text ({@code nbd://}). */
        TLS_REQUIRED,
        /**
         * The URI asks for TLS ({@code nbds://}), and the server does not offer it (refuses
         * NBD_OPT_STARTTLS, or speaks a handshake without options): nothing is sent in clear.
         */
        TLS_UNAVAILABLE,
        /**
         * The TLS handshake failed: the server's certificate is not trusted or does not name
         * it, the server refused the client's certificate or PSK identity, or the keys differ.
         */
        TLS_FAILED,
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

    /**
     * Whether retrying cannot help until the server or the configuration changes (wrong URI,
     * TLS mismatch or credentials, not an NBD server): logged as an error, yet still retried
     * with back-off, since the server side may be fixed without touching pcache.
     */
    public boolean configurationProblem() {
        return switch (reason) {
            case NOT_NBD, UNKNOWN_EXPORT, TLS_REQUIRED, TLS_UNAVAILABLE, TLS_FAILED, PROTOCOL ->
                    true;
            case UNREACHABLE, TIMEOUT, REFUSED -> false;
        };
    }
}
