package pcache.target.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import pcache.api.format.PcacheFormat;

/**
 * cache_info (reference §2.3), 24 bytes in two slots 4 KiB apart at device offset 8 KiB:
 * {@code header(8) | seg_id u32 (first physical segment) | n_segs u32 | flags u32 | reserved u32}.
 * flags: bit 0 DATA_CRC, bit 1 INIT_DONE, bits 2-5 cache mode, bits 6-12 gc_percent.
 */
final class CacheInfoCodec {

    static final int SEG_ID = 8;
    static final int N_SEGS = 12;
    static final int FLAGS = 16;

    /** Mode numbers dm-pcache reserves in the flags (only 0 is used by the kernel). */
    static final int MODE_WRITEBACK = 0;
    static final int MODE_WRITETHROUGH = 1;

    /** A decoded cache_info. */
    record CacheInfo(int firstSegment, int segmentCount, int flags) {

        boolean dataCrc() {
            return (flags & PcacheFormat.CACHE_FLAG_DATA_CRC) != 0;
        }

        boolean initDone() {
            return (flags & PcacheFormat.CACHE_FLAG_INIT_DONE) != 0;
        }

        int gcPercent() {
            return (flags & PcacheFormat.CACHE_FLAG_GC_PERCENT_MASK) >>> PcacheFormat.CACHE_FLAG_GC_PERCENT_SHIFT;
        }

        int mode() {
            return (flags & PcacheFormat.CACHE_FLAG_MODE_MASK) >>> PcacheFormat.CACHE_FLAG_MODE_SHIFT;
        }

        CacheInfo withGcPercent(int percent) {
            return new CacheInfo(firstSegment, segmentCount, (flags & ~PcacheFormat.CACHE_FLAG_GC_PERCENT_MASK)
                    | (percent << PcacheFormat.CACHE_FLAG_GC_PERCENT_SHIFT));
        }

        CacheInfo withInitDone() {
            return new CacheInfo(firstSegment, segmentCount, flags | PcacheFormat.CACHE_FLAG_INIT_DONE);
        }

        CacheInfo withMode(int mode) {
            return new CacheInfo(firstSegment, segmentCount, (flags & ~PcacheFormat.CACHE_FLAG_MODE_MASK)
                    | (mode << PcacheFormat.CACHE_FLAG_MODE_SHIFT));
        }
    }

    private CacheInfoCodec() {
    }

    static int flags(boolean dataCrc, boolean initDone, int mode, int gcPercent) {
        return (dataCrc ? PcacheFormat.CACHE_FLAG_DATA_CRC : 0)
                | (initDone ? PcacheFormat.CACHE_FLAG_INIT_DONE : 0)
                | (mode << PcacheFormat.CACHE_FLAG_MODE_SHIFT)
                | (gcPercent << PcacheFormat.CACHE_FLAG_GC_PERCENT_SHIFT);
    }

    /** The structure with a zero header (sealed by the slot record on store). */
    static byte[] encode(CacheInfo info) {
        byte[] b = new byte[PcacheFormat.CACHE_INFO_STRUCT_SIZE];
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        bb.putInt(SEG_ID, info.firstSegment());
        bb.putInt(N_SEGS, info.segmentCount());
        bb.putInt(FLAGS, info.flags());
        return b;
    }

    static CacheInfo decode(byte[] b) {
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        return new CacheInfo(bb.getInt(SEG_ID), bb.getInt(N_SEGS), bb.getInt(FLAGS));
    }
}
