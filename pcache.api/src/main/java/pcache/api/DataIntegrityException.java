package pcache.api;

/**
 * Stored data failed its checksum and no good copy exists (for example a dirty extent whose
 * cached copy is damaged). The message names the logical range; the data is never returned.
 */
public class DataIntegrityException extends PcacheException {
    private static final long serialVersionUID = 1L;
    private final long offset;
    private final long length;

    public DataIntegrityException(String message, long offset, long length) {
        super(message);
        this.offset = offset;
        this.length = length;
    }

    /** Logical offset of the damaged range. */
    public long offset() {
        return offset;
    }

    /** Length of the damaged range. */
    public long length() {
        return length;
    }
}
