package pcache.api;

/**
 * A cache device holds something that is not a valid cache, or a damaged one. The message names
 * the structure, its device offset, what was found and what to do; {@link #structure()} and
 * {@link #deviceOffset()} give the first two to programs.
 */
public class CorruptMediaException extends PcacheException {
    private static final long serialVersionUID = 1L;
    private final String structure;
    private final long deviceOffset;

    public CorruptMediaException(String structure, long deviceOffset, String problem) {
        super(structure + " at cache-device offset " + deviceOffset + " (0x"
                + Long.toHexString(deviceOffset) + "): " + problem);
        this.structure = structure;
        this.deviceOffset = deviceOffset;
    }

    /** The on-media structure at fault, e.g. "superblock" or "cache_info". */
    public String structure() {
        return structure;
    }

    /** Byte offset of the structure on the cache device. */
    public long deviceOffset() {
        return deviceOffset;
    }
}
