package pcache.api;

/** A request reaches outside the device. Nothing was read or changed. */
public class OutOfRangeException extends PcacheException {
    private static final long serialVersionUID = 1L;

    public OutOfRangeException(String device, long offset, long length, long sizeBytes) {
        super(device + ": request [" + offset + ", +" + length + ") lies outside the device of "
                + sizeBytes + " bytes");
    }
}
