package pcache.api;

/**
 * The request needed the backing device, but none was available (being swapped, disconnected,
 * removed) within the configured backing timeout.
 */
public class BackingUnavailableException extends BackingDeviceException {
    private static final long serialVersionUID = 1L;

    public BackingUnavailableException(String message) {
        super(message);
    }
}
