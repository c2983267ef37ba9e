package pcache.segment.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import pcache.api.format.PcacheFormat;

/**
 * segment_info (reference §2.3), 16 bytes in two slots at segment +0 and +4 KiB:
 * {@code header(8) | flags u32 (bit 0 HAS_NEXT, bits 1-4 type) | next_seg u32}.
 */
final class SegmentInfoCodec {

    static final int FLAGS_OFF = 8;
    static final int NEXT_SEG_OFF = 12;
    static final int TYPE_SHIFT = 1;
    static final int TYPE_MASK = 0xF << TYPE_SHIFT;

    /** A decoded segment_info. */
    record SegmentInfo(int flags, int nextSegment) {
        boolean hasNext() {
            return (flags & PcacheFormat.SEG_INFO_FLAG_HAS_NEXT) != 0;
        }

        int type() {
            return (flags & TYPE_MASK) >>> TYPE_SHIFT;
        }
    }

    private SegmentInfoCodec() {
    }

    /** A cache-data segment_info, linked to {@code next} when {@code next >= 0}. */
    static SegmentInfo cacheSegment(int next) {
        int flags = PcacheFormat.SEG_TYPE_CACHE_DATA << TYPE_SHIFT;
        if (next >= 0) {
            flags |= PcacheFormat.SEG_INFO_FLAG_HAS_NEXT;
        }
        return new SegmentInfo(flags, Math.max(next, 0));
    }

    /** The structure with a zero header (sealed by the slot record on store). */
    static byte[] encode(SegmentInfo info) {
        byte[] b = new byte[PcacheFormat.SEG_INFO_STRUCT_SIZE];
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        bb.putInt(FLAGS_OFF, info.flags());
        bb.putInt(NEXT_SEG_OFF, info.nextSegment());
        return b;
    }

    static SegmentInfo decode(byte[] b) {
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        return new SegmentInfo(bb.getInt(FLAGS_OFF), bb.getInt(NEXT_SEG_OFF));
    }
}
