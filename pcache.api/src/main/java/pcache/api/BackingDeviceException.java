package pcache.api;

/** The backing device failed an operation this request depended on. */
public class BackingDeviceException extends PcacheException {
    private static final long serialVersionUID = 1L;

    public BackingDeviceException(String message) {
        super(message);
    }

    public BackingDeviceException(String message, Throwable cause) {
        super(message, cause);
    }
}
