package pcache.segment.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import pcache.api.format.PcacheLayout;

/**
 * segment_info (reference §2.3), 16 bytes in two slots at segment +0 and +4 KiB:
 * {@code header(8) | flags u32 (bit 0 HAS_NEXT, bits 1-4 type) | next_seg u32}.
 */
final class SegmentInfoCodec {

    /** A decoded segment_info. */
    record SegmentInfo(int flags, int nextSegment) {
        boolean hasNext() {
            return (flags & PcacheLayout.SegmentInfo.FLAG_HAS_NEXT) != 0;
        }

        int type() {
            return PcacheLayout.SegmentInfo.type(flags);
        }
    }

    private SegmentInfoCodec() {
    }

    /** A cache-data segment_info, linked to {@code next} when {@code next >= 0}. */
    static SegmentInfo cacheSegment(int next) {
        int flags = PcacheLayout.SegmentInfo.TYPE_CACHE_DATA << PcacheLayout.SegmentInfo.TYPE_SHIFT;
        if (next >= 0) {
            flags |= PcacheLayout.SegmentInfo.FLAG_HAS_NEXT;
        }
        return new SegmentInfo(flags, Math.max(next, 0));
    }

    /** The structure with a zero header (sealed by the slot record on store). */
    static byte[] encode(SegmentInfo info) {
        byte[] b = new byte[PcacheLayout.SegmentInfo.SIZE];
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        bb.putInt(PcacheLayout.SegmentInfo.FLAGS, info.flags());
        bb.putInt(PcacheLayout.SegmentInfo.NEXT_SEG, info.nextSegment());
        return b;
    }

    static SegmentInfo decode(byte[] b) {
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        return new SegmentInfo(bb.getInt(PcacheLayout.SegmentInfo.FLAGS), bb.getInt(PcacheLayout.SegmentInfo.NEXT_SEG));
    }
}
