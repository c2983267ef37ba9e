package pcache.pmem.internal;

/** Range checks of {@link pcache.api.spi.PmemRegion} calls, with messages naming the device. */
final class Ranges {

    private Ranges() {
    }

    /** Throws unless {@code [offset, offset + length)} lies inside {@code [0, sizeBytes)}. */
    static void check(String device, long sizeBytes, long offset, long length) {
        if (offset < 0 || length < 0 || offset > sizeBytes || length > sizeBytes - offset) {
            throw new IndexOutOfBoundsException(device + ": range [" + offset + ", +" + length
                    + ") lies outside the region of " + sizeBytes + " bytes");
        }
    }

    /** Throws unless {@code [offset, offset + length)} lies inside an array of {@code arrayLength}. */
    static void checkArray(int arrayLength, int offset, int length) {
        java.util.Objects.checkFromIndexSize(offset, length, arrayLength);
    }
}
