package pcache.api.format;

/**
 * Layout constants of a dm-pcache cache device (reference §2.1), byte for byte the kernel's.
 *
 * <pre>
 * offset 0      4K           8K             12K            16K          20K
 *        | ext  | superblock | cache_info#0 | cache_info#1 | cache_ctrl | seg 0 (16M) | seg 1 | ...
 * segment: +0 seg_info#0 | +4K seg_info#1 | +8K gen#0, gen#1 (16 B each) | +12K data area
 * </pre>
 * The first 4 KiB are unused by dm-pcache; pcache keeps its own extension record there
 * ({@link #EXT_OFF}). The fields inside each record (offsets, flag bits, masks) are in
 * {@link PcacheLayout}.
 */
public final class PcacheFormat {

    private PcacheFormat() {
    }

    public static final int KIB = 1024;
    public static final int MIB = 1024 * 1024;

    /** Initial CRC register of every CRC in the format. */
    public static final int CRC_SEED = 0x3B15A;
    /** Superblock magic, le64 at superblock offset 8. */
    public static final long SB_MAGIC = 0x65B05EFA96C596EFL;
    /** Kset magic, le64 at kset offset 8. */
    public static final long KSET_MAGIC = 0x676894a64e164f1aL;

    /** Number of copies ("slots") of each replicated metadata record. */
    public static final int META_SLOTS = 2;
    /** Size of the common metadata header: crc(4) seq(1) version(1) reserved(2). */
    public static final int META_HEADER_SIZE = 8;

    /** pcache's extension record (backing identity, quarantine), in the area dm-pcache leaves unused. */
    public static final long EXT_OFF = 0;
    public static final int EXT_SIZE = 4 * KIB;

    public static final long SB_OFF = 4 * KIB;
    public static final int SB_SIZE = 4 * KIB;
    /** Bytes of the superblock structure (CRC covers bytes 4..23). */
    public static final int SB_STRUCT_SIZE = 24;
    /** Superblock flag: formatted on a big-endian host. */
    public static final int SB_FLAG_BIGENDIAN = 1;

    public static final long CACHE_INFO_OFF = 8 * KIB;
    /** Distance between the two cache_info slots (the Dec-2025 stride fix: 4 KiB, not 24 B). */
    public static final int CACHE_INFO_SLOT_STRIDE = 4 * KIB;
    public static final int CACHE_INFO_STRUCT_SIZE = 24;

    public static final long CACHE_CTRL_OFF = 16 * KIB;
    public static final int CACHE_CTRL_SIZE = 4 * KIB;
    /** Size of a cache position record: header(8) cache_seg_id(4) seg_off(4). */
    public static final int POS_STRUCT_SIZE = 16;
    /** key_tail slots at cache_ctrl +0 and +16. */
    public static final long KEY_TAIL_OFF = CACHE_CTRL_OFF;
    /** dirty_tail slots at cache_ctrl +32 and +48. */
    public static final long DIRTY_TAIL_OFF = CACHE_CTRL_OFF + 2 * POS_STRUCT_SIZE;

    public static final long SEGMENTS_OFF = 20 * KIB;
    public static final int SEG_SIZE = 16 * MIB;
    public static final int SEG_INFO_SLOT_STRIDE = 4 * KIB;
    public static final int SEG_INFO_STRUCT_SIZE = 16;
    /** Segment-relative offset of the generation slots (16 B apart). */
    public static final int SEG_GEN_OFF = 8 * KIB;
    public static final int SEG_GEN_STRUCT_SIZE = 16;
    public static final int SEG_CTRL_SIZE = 4 * KIB;
    /** Segment-relative offset of the data area. */
    public static final int SEG_DATA_OFF = 12 * KIB;
    /** Bytes in a segment's data area: 16 MiB - 12 KiB = 16,764,928. */
    public static final int SEG_DATA_SIZE = SEG_SIZE - SEG_DATA_OFF;
    /** segment_info flag: next_seg is valid. */
    public static final int SEG_INFO_FLAG_HAS_NEXT = 1;
    /** segment_info type field (bits 1-4) value of a cache segment. */
    public static final int SEG_TYPE_CACHE_DATA = 1;

    /** Smallest cache device dm-pcache accepts. */
    public static final long CACHE_DEV_SIZE_MIN = 512L * MIB;
    public static final int CACHE_SEGS_MAX = 1024 * 1024;

    public static final int KSET_HEADER_SIZE = 24;
    public static final int KEY_SIZE = 40;
    public static final int KSET_KEYS_MAX = 128;
    public static final int KSET_MAX_SIZE = KSET_HEADER_SIZE + KSET_KEYS_MAX * KEY_SIZE;
    /** Kset flag: a LAST kset (header only, chains the log to the next key segment). */
    public static final long KSET_FLAG_LAST = 1;

    /** Key flag: placeholder (never on media). */
    public static final int KEY_FLAG_EMPTY = 1;
    /** Key flag: data also on the backing device (read-miss fill). */
    public static final int KEY_FLAG_CLEAN = 2;

    /** log2 of the logical slice covered by one index subtree and the longest key. */
    public static final int SUBTREE_SHIFT = 22;
    public static final long SUBTREE_SIZE = 1L << SUBTREE_SHIFT;

    /** cache_info flag bits. */
    public static final int CACHE_FLAG_DATA_CRC = 1;
    public static final int CACHE_FLAG_INIT_DONE = 1 << 1;
    public static final int CACHE_FLAG_MODE_SHIFT = 2;
    public static final int CACHE_FLAG_MODE_MASK = 0xF << CACHE_FLAG_MODE_SHIFT;
    public static final int CACHE_FLAG_GC_PERCENT_SHIFT = 6;
    public static final int CACHE_FLAG_GC_PERCENT_MASK = 0x7F << CACHE_FLAG_GC_PERCENT_SHIFT;

    /** dm-pcache keys cover whole 512-byte sectors, at sector offsets in their segment too. */
    public static final int SECTOR = pcache.api.BlockDevice.SECTOR_SIZE;

    /**
     * What is wrong with a key's place ({@code offset}, {@code length} and {@code segmentOffset} in
     * bytes) that dm-pcache never writes, or null: every one a multiple of {@link #SECTOR}. A key
     * that is not would fail every write-back and read of it on a backing device that takes only
     * whole sectors.
     */
    public static String misalignment(long offset, long length, long segmentOffset) {
        if ((offset | length | segmentOffset) % SECTOR == 0) {
            return null;
        }
        return "lies at offset " + offset + ", length " + length + ", segment offset " + segmentOffset
                + ", not all multiples of " + SECTOR + " bytes (dm-pcache writes whole sectors)";
    }

    /**
     * Whether a kset of {@code size} bytes at {@code offset} in a key segment's data area leaves
     * room for a LAST kset after it, as dm-pcache always does (reference §3.5): one that does not
     * was not written by it.
     */
    public static boolean leavesRoomForLast(long offset, long size) {
        return offset + size + KSET_HEADER_SIZE <= SEG_DATA_SIZE;
    }

    /** Bytes of cache_info's two slots, from {@link #CACHE_INFO_OFF}. */
    public static final int CACHE_INFO_AREA = META_SLOTS * CACHE_INFO_SLOT_STRIDE;

    /**
     * The index of the first non-zero byte of {@code b}, or -1. A device whose superblock magic is
     * 0 is blank (formatted by an open) only when its cache_info area is all zero too: a format
     * zeroes cache_info before it writes the superblock, and every cache has a cache_info.
     */
    public static int firstNonZero(byte[] b) {
        for (int i = 0; i < b.length; i++) {
            if (b[i] != 0) {
                return i;
            }
        }
        return -1;
    }

    /** Device offset of physical segment {@code physicalId}. */
    public static long segmentOffset(int physicalId) {
        return SEGMENTS_OFF + (long) physicalId * SEG_SIZE;
    }

    /** Segments a device of {@code deviceBytes} holds: (size - 20 KiB) / 16 MiB. */
    public static int segmentsFor(long deviceBytes) {
        long n = (deviceBytes - SEGMENTS_OFF) / SEG_SIZE;
        return (int) Math.max(0, Math.min(n, Integer.MAX_VALUE));
    }

    /**
     * Whether 8-bit sequence number {@code a} is newer than {@code b}: the signed 8-bit difference
     * is positive (wrap-safe, reference §2.4).
     */
    public static boolean seqAfter(int a, int b) {
        return (byte) (a - b) > 0;
    }
}
