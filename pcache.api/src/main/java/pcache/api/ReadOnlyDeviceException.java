package pcache.api;

/** A write, trim or write-zeroes was sent to a device that only accepts reads. */
public class ReadOnlyDeviceException extends PcacheException {
    private static final long serialVersionUID = 1L;

    public ReadOnlyDeviceException(String message) {
        super(message);
    }
}
