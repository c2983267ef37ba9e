package pcache.api;

/** A request's offset or length is not a multiple of the device's block size. Nothing changed. */
public class MisalignedIoException extends PcacheException {
    private static final long serialVersionUID = 1L;

    public MisalignedIoException(String device, long offset, long length, int blockSize) {
        super(device + ": request [" + offset + ", +" + length + ") is not aligned to the "
                + blockSize + "-byte block size");
    }
}
