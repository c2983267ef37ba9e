package pcache.api.format;

/**
 * The inside of every on-media record (reference §2.2-§2.3): record sizes, field offsets relative
 * to the start of the record, flag bits and masks, magics. {@link PcacheFormat} says where the
 * records lie on the device; this class says what their bytes mean. Every codec, the replay, the
 * offline image tool and the status output read these constants, so each fact is written once.
 * Values that {@link PcacheFormat} already defines are repeated here by reference, never by value.
 * All multi-byte fields are little-endian.
 */
public final class PcacheLayout {

    private PcacheLayout() {
    }

    /**
     * The 8-byte header every replicated record starts with:
     * {@code crc u32 | seq u8 | version u8 | reserved u16}. The CRC covers the record from
     * {@link #CRC_START} to its end.
     */
    public static final class MetaHeader {
        public static final int SIZE = PcacheFormat.META_HEADER_SIZE;
        public static final int CRC = 0;
        public static final int SEQ = 4;
        public static final int VERSION = 5;
        /** First byte the CRC covers (the byte after the CRC field). */
        public static final int CRC_START = 4;

        private MetaHeader() {
        }
    }

    /**
     * The superblock, single copy: {@code crc u32 | flags u32 | magic u64 | seg_num u32 | pad u32};
     * the CRC covers bytes {@link #CRC_START} to {@link #SIZE}.
     */
    public static final class Superblock {
        public static final int SIZE = PcacheFormat.SB_STRUCT_SIZE;
        public static final int CRC = 0;
        public static final int FLAGS = 4;
        public static final int MAGIC = 8;
        public static final int SEG_NUM = 16;
        public static final int CRC_START = 4;
        public static final long MAGIC_VALUE = PcacheFormat.SB_MAGIC;
        /** Flag: formatted on a big-endian host. */
        public static final int FLAG_BIGENDIAN = PcacheFormat.SB_FLAG_BIGENDIAN;

        private Superblock() {
        }
    }

    /**
     * cache_info: {@code header(8) | seg_id u32 (first physical segment) | n_segs u32 | flags u32 |
     * reserved u32}. Flags: bit 0 DATA_CRC, bit 1 INIT_DONE, bits 2-5 cache mode, bits 6-12
     * gc_percent.
     */
    public static final class CacheInfo {
        public static final int SIZE = PcacheFormat.CACHE_INFO_STRUCT_SIZE;
        public static final int SEG_ID = 8;
        public static final int N_SEGS = 12;
        public static final int FLAGS = 16;

        public static final int FLAG_DATA_CRC = PcacheFormat.CACHE_FLAG_DATA_CRC;
        public static final int FLAG_INIT_DONE = PcacheFormat.CACHE_FLAG_INIT_DONE;
        public static final int MODE_SHIFT = PcacheFormat.CACHE_FLAG_MODE_SHIFT;
        public static final int MODE_MASK = PcacheFormat.CACHE_FLAG_MODE_MASK;
        public static final int GC_PERCENT_SHIFT = PcacheFormat.CACHE_FLAG_GC_PERCENT_SHIFT;
        public static final int GC_PERCENT_MASK = PcacheFormat.CACHE_FLAG_GC_PERCENT_MASK;

        /** Cache mode numbers the flags reserve (dm-pcache itself only uses write-back). */
        public static final int MODE_WRITEBACK = 0;
        public static final int MODE_WRITETHROUGH = 1;
        public static final int MODE_WRITEAROUND = 2;
        public static final int MODE_WRITEONLY = 3;

        private CacheInfo() {
        }

        /** The cache mode number in {@code flags}. */
        public static int mode(int flags) {
            return (flags & MODE_MASK) >>> MODE_SHIFT;
        }

        /** The gc_percent in {@code flags}. */
        public static int gcPercent(int flags) {
            return (flags & GC_PERCENT_MASK) >>> GC_PERCENT_SHIFT;
        }

        /** The name of a cache mode number ({@code writeback}, ...), or null for an unknown one. */
        public static String modeName(int mode) {
            return switch (mode) {
                case MODE_WRITEBACK -> "writeback";
                case MODE_WRITETHROUGH -> "writethrough";
                case MODE_WRITEAROUND -> "writearound";
                case MODE_WRITEONLY -> "writeonly";
                default -> null;
            };
        }
    }

    /**
     * A cache position record (key_tail, dirty_tail): {@code header(8) | cache_seg_id u32 |
     * seg_off u32}.
     */
    public static final class CachePos {
        public static final int SIZE = PcacheFormat.POS_STRUCT_SIZE;
        public static final int SEG = 8;
        public static final int OFF = 12;

        private CachePos() {
        }
    }

    /**
     * segment_info: {@code header(8) | flags u32 (bit 0 HAS_NEXT, bits 1-4 type) | next_seg u32}.
     */
    public static final class SegmentInfo {
        public static final int SIZE = PcacheFormat.SEG_INFO_STRUCT_SIZE;
        public static final int FLAGS = 8;
        public static final int NEXT_SEG = 12;
        public static final int FLAG_HAS_NEXT = PcacheFormat.SEG_INFO_FLAG_HAS_NEXT;
        public static final int TYPE_SHIFT = 1;
        public static final int TYPE_MASK = 0xF << TYPE_SHIFT;
        /** Type of a cache segment. */
        public static final int TYPE_CACHE_DATA = PcacheFormat.SEG_TYPE_CACHE_DATA;

        private SegmentInfo() {
        }

        /** The segment type in {@code flags}. */
        public static int type(int flags) {
            return (flags & TYPE_MASK) >>> TYPE_SHIFT;
        }
    }

    /** A segment's generation record: {@code header(8) | gen u64}. */
    public static final class SegmentGen {
        public static final int SIZE = PcacheFormat.SEG_GEN_STRUCT_SIZE;
        public static final int GEN = 8;

        private SegmentGen() {
        }
    }

    /**
     * The kset header: {@code crc u32 | key_num u32 (next cache segment in a LAST kset) |
     * magic u64 | flags u64 (bit 0 LAST)}, followed by key_num keys. The CRC covers bytes
     * {@link #CRC_START} to the end of the last key.
     */
    public static final class KsetHeader {
        public static final int SIZE = PcacheFormat.KSET_HEADER_SIZE;
        public static final int CRC = 0;
        /** The key count, or in a LAST kset the cache segment the log goes on in. */
        public static final int KEY_NUM = 4;
        public static final int MAGIC = 8;
        public static final int FLAGS = 16;
        public static final int CRC_START = 4;
        public static final long MAGIC_VALUE = PcacheFormat.KSET_MAGIC;
        public static final long FLAG_LAST = PcacheFormat.KSET_FLAG_LAST;
        public static final int KEYS_MAX = PcacheFormat.KSET_KEYS_MAX;

        private KsetHeader() {
        }

        /** Bytes of a kset holding {@code keys} keys (header included); also where key number {@code keys} starts. */
        public static int size(int keys) {
            return SIZE + keys * Key.SIZE;
        }
    }

    /**
     * A key: {@code off u64 | len u32 | flags u32 | cache_seg_id u32 | cache_seg_off u32 |
     * seg_gen u64 | data_crc u32 | reserved u32}.
     */
    public static final class Key {
        public static final int SIZE = PcacheFormat.KEY_SIZE;
        public static final int OFF = 0;
        public static final int LEN = 8;
        public static final int FLAGS = 12;
        public static final int SEG = 16;
        public static final int SEG_OFF = 20;
        public static final int GEN = 24;
        public static final int DATA_CRC = 32;
        public static final int RESERVED = 36;
        /** Placeholder (never on media). */
        public static final int FLAG_EMPTY = PcacheFormat.KEY_FLAG_EMPTY;
        /** Data also on the backing device (read-miss fill). */
        public static final int FLAG_CLEAN = PcacheFormat.KEY_FLAG_CLEAN;

        private Key() {
        }
    }

    /**
     * pcache's extension record (not dm-pcache's), two slots of 2 KiB at {@link PcacheFormat#EXT_OFF}:
     *
     * <pre>
     * 0    header (crc, seq, version, reserved)
     * 8    magic u64 "PCACHEX1"
     * 16   backing size u64
     * 24   quarantine count u16 | 26 id length u16 | 28 reserved u32
     * 32   backing id, UTF-8, up to 1024 bytes
     * 1056 quarantine entries: off u64, len u64 (up to 62)
     * </pre>
     */
    public static final class Extension {
        public static final int SLOT_STRIDE = 2048;
        public static final int SIZE = 2048;
        /** "PCACHEX1" read as a little-endian u64. */
        public static final long MAGIC_VALUE = 0x3158454843414350L;
        public static final int MAGIC = 8;
        public static final int BACKING_SIZE = 16;
        public static final int QUARANTINE_COUNT = 24;
        public static final int ID_LENGTH = 26;
        public static final int ID = 32;
        /** Room for the backing id, in UTF-8 bytes. */
        public static final int ID_MAX_BYTES = 1024;
        public static final int QUARANTINE = ID + ID_MAX_BYTES;
        /** One quarantine entry: offset u64 at +0, length u64 at +8. */
        public static final int QUARANTINE_ENTRY = 16;
        public static final int QUARANTINE_ENTRY_OFF = 0;
        public static final int QUARANTINE_ENTRY_LEN = 8;
        public static final int QUARANTINE_MAX = (SIZE - QUARANTINE) / QUARANTINE_ENTRY;

        private Extension() {
        }
    }
}
