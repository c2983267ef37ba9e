package pcache.segment.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import pcache.api.format.PcacheFormat;

/**
 * A segment's generation record (reference §2.3), 16 bytes in two slots 16 bytes apart at
 * segment +8 KiB: {@code header(8) | gen u64}.
 */
final class SegmentGenCodec {

    static final int GEN_OFF = 8;

    private SegmentGenCodec() {
    }

    static byte[] encode(long generation) {
        byte[] b = new byte[PcacheFormat.SEG_GEN_STRUCT_SIZE];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(GEN_OFF, generation);
        return b;
    }

    static long decode(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(GEN_OFF);
    }
}
