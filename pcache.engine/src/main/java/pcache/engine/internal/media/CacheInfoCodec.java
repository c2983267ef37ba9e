package pcache.engine.internal.media;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import pcache.api.format.PcacheLayout;

/**
 * cache_info (reference §2.3), 24 bytes in two slots 4 KiB apart at device offset 8 KiB:
 * {@code header(8) | seg_id u32 (first physical segment) | n_segs u32 | flags u32 | reserved u32}.
 * flags: bit 0 DATA_CRC, bit 1 INIT_DONE, bits 2-5 cache mode, bits 6-12 gc_percent. Field offsets and
 * flag bits: {@link PcacheLayout.CacheInfo}.
 */
public final class CacheInfoCodec {


    /** A decoded cache_info. */
    public record CacheInfo(int firstSegment, int segmentCount, int flags) {

        public boolean dataCrc() {
            return (flags & PcacheLayout.CacheInfo.FLAG_DATA_CRC) != 0;
        }

        public boolean initDone() {
            return (flags & PcacheLayout.CacheInfo.FLAG_INIT_DONE) != 0;
        }

        public int gcPercent() {
            return PcacheLayout.CacheInfo.gcPercent(flags);
        }

        public int mode() {
            return PcacheLayout.CacheInfo.mode(flags);
        }

        public CacheInfo withGcPercent(int percent) {
            return new CacheInfo(firstSegment, segmentCount, (flags & ~PcacheLayout.CacheInfo.GC_PERCENT_MASK)
                    | (percent << PcacheLayout.CacheInfo.GC_PERCENT_SHIFT));
        }

        public CacheInfo withInitDone() {
            return new CacheInfo(firstSegment, segmentCount, flags | PcacheLayout.CacheInfo.FLAG_INIT_DONE);
        }

        public CacheInfo withMode(int mode) {
            return new CacheInfo(firstSegment, segmentCount, (flags & ~PcacheLayout.CacheInfo.MODE_MASK)
                    | (mode << PcacheLayout.CacheInfo.MODE_SHIFT));
        }
    }

    private CacheInfoCodec() {
    }

    public static int flags(boolean dataCrc, boolean initDone, int mode, int gcPercent) {
        return (dataCrc ? PcacheLayout.CacheInfo.FLAG_DATA_CRC : 0)
                | (initDone ? PcacheLayout.CacheInfo.FLAG_INIT_DONE : 0)
                | (mode << PcacheLayout.CacheInfo.MODE_SHIFT)
                | (gcPercent << PcacheLayout.CacheInfo.GC_PERCENT_SHIFT);
    }

    /** The structure with a zero header (sealed by the slot record on store). */
    public static byte[] encode(CacheInfo info) {
        byte[] b = new byte[PcacheLayout.CacheInfo.SIZE];
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        bb.putInt(PcacheLayout.CacheInfo.SEG_ID, info.firstSegment());
        bb.putInt(PcacheLayout.CacheInfo.N_SEGS, info.segmentCount());
        bb.putInt(PcacheLayout.CacheInfo.FLAGS, info.flags());
        return b;
    }

    public static CacheInfo decode(byte[] b) {
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        return new CacheInfo(bb.getInt(PcacheLayout.CacheInfo.SEG_ID), bb.getInt(PcacheLayout.CacheInfo.N_SEGS),
                bb.getInt(PcacheLayout.CacheInfo.FLAGS));
    }
}
