package pcache.api.tls;

/** TLS credentials that cannot be used; the message names the file and what to do. */
public class TlsConfigurationException extends Exception {
    private static final long serialVersionUID = 1L;

    public TlsConfigurationException(String message) {
        super(message);
    }

    public TlsConfigurationException(String message, Throwable cause) {
        super(message, cause);
    }
}
