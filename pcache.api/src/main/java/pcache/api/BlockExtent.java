package pcache.api;

/**
 * One run of a block-status answer ({@link BlockDevice#blockStatus}, {@link CacheDevice#dirtyStatus}):
 * the bytes {@code [offset, offset + lengthBytes)} share the status {@code flags}.
 *
 * <p>A flag is a promise about every byte of the extent; a flag that is not set promises nothing
 * (flags 0, "allocated data", is always a correct answer). {@link #HOLE} and {@link #ZERO} have
 * the values of NBD's {@code base:allocation} bits ({@code NBD_STATE_HOLE}, {@code NBD_STATE_ZERO}).
 *
 * @param offset where the extent starts, in bytes
 * @param lengthBytes its length, positive
 * @param flags a combination of {@link #HOLE}, {@link #ZERO} and {@link #DIRTY}
 * @since 1.2
 */
public record BlockExtent(long offset, long lengthBytes, int flags) {

    /** The range is not allocated on the device (a hole of a sparse file, an unmapped range). */
    public static final int HOLE = 1;
    /** Reads of the range return zeroes (until it is written again). */
    public static final int ZERO = 2;
    /**
     * The range's newest data is held in the cache and not yet written back: the backing device
     * alone does not have it. Only {@link CacheDevice#dirtyStatus} sets it.
     */
    public static final int DIRTY = 4;

    /** Every flag this record may carry. */
    public static final int ALL_FLAGS = HOLE | ZERO | DIRTY;

    /**
     * @throws IllegalArgumentException if the offset is negative, the length not positive, or
     *         the flags hold an unknown bit
     */
    public BlockExtent {
        if (offset < 0 || lengthBytes <= 0 || lengthBytes > Long.MAX_VALUE - offset) {
            throw new IllegalArgumentException("extent [" + offset + ", +" + lengthBytes
                    + ") is empty or out of range");
        }
        if ((flags & ~ALL_FLAGS) != 0) {
            throw new IllegalArgumentException("unknown block-status flags 0x" + Integer.toHexString(flags));
        }
    }

    /** {@code offset + lengthBytes}. */
    public long end() {
        return offset + lengthBytes;
    }

    /** Whether every flag of {@code flag} is set. */
    public boolean has(int flag) {
        return (flags & flag) == flag;
    }
}
