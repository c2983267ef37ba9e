package pcache.api.spi;

import pcache.api.format.PcacheFormat;

/**
 * An extent of cached data: logical range {@code [offset, offset + length)} of the backing device
 * stored at {@code segmentOffset} in the data area of cache segment {@code segment}, written under
 * that segment's generation {@code generation} (reference §3.1). A key never crosses a 4 MiB
 * logical boundary nor a segment boundary.
 *
 * <p>An EMPTY key is a placeholder for a read miss in progress (DRAM only). A CLEAN key's data is
 * also on the backing device. A key is <em>linked</em> while it is in an index; removal unlinks it,
 * which tells a pending miss fill that its placeholder was overtaken by a write.
 *
 * <p>With data CRC the key remembers the whole extent its CRC covers ({@link #crcSegmentOffset()},
 * {@link #crcLength()}), because cutting a key (overlap fix-up) keeps the CRC of the original.
 *
 * <p>Not thread-safe: a key in an index is guarded by its slice's lock. Mutable on purpose: the
 * index keeps one such object per cached extent, and its size matters (reference §9.3 item 10).
 */
public final class CacheKey {

    private static final int FLAG_LINKED = 1 << 8;
    /** In memory only: the key's bytes are known to be zeroes (written by write-zeroes). */
    private static final int FLAG_ZEROES = 1 << 9;
    /** In memory only: the key's bytes were looked at for zeroes ({@link #markZeroesChecked}). */
    private static final int FLAG_ZEROES_CHECKED = 1 << 10;
    /** In memory only, bits 12-31: the write-through epoch in which the key's bytes reached the backing device (0: none). */
    private static final int ON_BACKING_SHIFT = 12;
    /** Largest write-through epoch a key can hold ({@link #markOnBacking}); epochs then start again at 1. */
    public static final int MAX_WRITE_THROUGH_EPOCH = (1 << (32 - ON_BACKING_SHIFT)) - 1;
    private static final int MEDIA_FLAGS = PcacheFormat.KEY_FLAG_EMPTY | PcacheFormat.KEY_FLAG_CLEAN;

    private long offset;
    private long generation;
    private int length;
    private int flags;
    private int segment;
    private int segmentOffset;
    private int dataCrc;
    private int crcSegmentOffset;
    private int crcLength;

    /** A data key for {@code [offset, offset + length)}; position and generation set separately. */
    public CacheKey(long offset, int length) {
        this.offset = offset;
        this.length = length;
    }

    /** A placeholder (EMPTY) key for a read miss of {@code [offset, offset + length)}. */
    public static CacheKey placeholder(long offset, int length) {
        CacheKey k = new CacheKey(offset, length);
        k.flags = PcacheFormat.KEY_FLAG_EMPTY;
        return k;
    }

    /** A copy with the same fields, not linked. */
    public CacheKey copy() {
        CacheKey k = new CacheKey(offset, length);
        k.generation = generation;
        k.flags = flags & ~FLAG_LINKED;
        k.segment = segment;
        k.segmentOffset = segmentOffset;
        k.dataCrc = dataCrc;
        k.crcSegmentOffset = crcSegmentOffset;
        k.crcLength = crcLength;
        return k;
    }

    public long offset() {
        return offset;
    }

    public int length() {
        return length;
    }

    /** {@code offset + length}. */
    public long end() {
        return offset + length;
    }

    public int segment() {
        return segment;
    }

    public int segmentOffset() {
        return segmentOffset;
    }

    public long generation() {
        return generation;
    }

    /** Sets where the data lives and under which generation it was written. */
    public CacheKey place(int segment, int segmentOffset, long generation) {
        this.segment = segment;
        this.segmentOffset = segmentOffset;
        this.generation = generation;
        return this;
    }

    /** Shortens the key to {@code length} bytes (from the front kept). */
    public void setLength(int length) {
        this.length = length;
    }

    /** The flags as stored on media (EMPTY, CLEAN). */
    public int mediaFlags() {
        return flags & MEDIA_FLAGS;
    }

    /** Sets the media flags (EMPTY, CLEAN), keeping the linked state. */
    public void setMediaFlags(int mediaFlags) {
        flags = (flags & ~MEDIA_FLAGS) | (mediaFlags & MEDIA_FLAGS);
    }

    public boolean isEmpty() {
        return (flags & PcacheFormat.KEY_FLAG_EMPTY) != 0;
    }

    public boolean isClean() {
        return (flags & PcacheFormat.KEY_FLAG_CLEAN) != 0;
    }

    /** Marks the key's data as present on the backing device. */
    public void markClean() {
        flags |= PcacheFormat.KEY_FLAG_CLEAN;
    }

    /** Turns a filled placeholder into a CLEAN data key. */
    public void fillPlaceholder() {
        flags = (flags & ~PcacheFormat.KEY_FLAG_EMPTY) | PcacheFormat.KEY_FLAG_CLEAN;
    }

    /**
     * Records that the key's bytes are zeroes (a write-zeroes key). Kept in memory only, through
     * cuts and copies; a key read back from the log does not have it, which only makes block
     * status report its range as data.
     *
     * @since 1.2
     */
    public void markZeroes() {
        flags |= FLAG_ZEROES;
    }

    /**
     * Whether the key's bytes are known to be zeroes ({@link #markZeroes}).
     *
     * @since 1.2
     */
    public boolean isZeroes() {
        return (flags & FLAG_ZEROES) != 0;
    }

    /**
     * Records that the key's bytes were looked at for zeroes (and {@link #markZeroes marked} if
     * they all are), so nobody looks again. Kept in memory only, through cuts and copies.
     *
     * @since 1.4
     */
    public void markZeroesChecked() {
        flags |= FLAG_ZEROES_CHECKED;
    }

    /**
     * Whether the key's bytes were looked at for zeroes ({@link #markZeroesChecked}).
     *
     * @since 1.4
     */
    public boolean zeroesChecked() {
        return (flags & FLAG_ZEROES_CHECKED) != 0;
    }

    /**
     * Records that a client's write-through request put the key's bytes on the backing device, in
     * write-through epoch {@code epoch} (1 to {@link #MAX_WRITE_THROUGH_EPOCH}): write-back then
     * need not (and must not) write an older version of the range over them. Kept in memory only,
     * through cuts and copies; the cache that sets it starts a new epoch when what reached the
     * backing device may have been lost there.
     *
     * @since 1.8
     */
    public void markOnBacking(int epoch) {
        if (epoch < 1 || epoch > MAX_WRITE_THROUGH_EPOCH) {
            throw new IllegalArgumentException("write-through epoch " + epoch + " out of 1.."
                    + MAX_WRITE_THROUGH_EPOCH);
        }
        flags = (flags & ((1 << ON_BACKING_SHIFT) - 1)) | (epoch << ON_BACKING_SHIFT);
    }

    /**
     * The write-through epoch in which the key's bytes reached the backing device
     * ({@link #markOnBacking}); 0 when they did not.
     *
     * @since 1.8
     */
    public int onBackingEpoch() {
        return flags >>> ON_BACKING_SHIFT;
    }

    public boolean isLinked() {
        return (flags & FLAG_LINKED) != 0;
    }

    /** For index implementations: records whether the key is in an index. */
    public void setLinked(boolean linked) {
        flags = linked ? flags | FLAG_LINKED : flags & ~FLAG_LINKED;
    }

    /** CRC of the extent {@code [crcSegmentOffset, +crcLength)} of the segment (with DATA_CRC). */
    public int dataCrc() {
        return dataCrc;
    }

    public int crcSegmentOffset() {
        return crcSegmentOffset;
    }

    public int crcLength() {
        return crcLength;
    }

    /** Records the data CRC of the key's whole current extent. */
    public void setDataCrc(int crc) {
        this.dataCrc = crc;
        this.crcSegmentOffset = segmentOffset;
        this.crcLength = length;
    }

    /** Whether the recorded CRC covers exactly the key's current extent. */
    public boolean crcCoversExactly() {
        return crcSegmentOffset == segmentOffset && crcLength == length;
    }

    /** Drops the first {@code n} bytes: offset and data position advance, length shrinks. */
    public void cutFront(int n) {
        offset += n;
        length -= n;
        if (!isEmpty()) {
            segmentOffset += n;
        }
    }

    /** Drops the last {@code n} bytes. */
    public void cutBack(int n) {
        length -= n;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("key[").append(offset).append("+").append(length);
        if (isEmpty()) {
            sb.append(" EMPTY");
        } else {
            sb.append(" @").append(segment).append(':').append(segmentOffset).append(" gen ")
                    .append(generation);
            if (isClean()) {
                sb.append(" CLEAN");
            }
        }
        return sb.append(']').toString();
    }
}
