package pcache.api;

/** The device has been shut down (or is shutting down) and takes no more requests. */
public class DeviceClosedException extends PcacheException {
    private static final long serialVersionUID = 1L;

    public DeviceClosedException(String message) {
        super(message);
    }
}
