package pcache.segment.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import pcache.api.format.PcacheLayout;

/**
 * A segment's generation record (reference §2.3), 16 bytes in two slots 16 bytes apart at
 * segment +8 KiB: {@code header(8) | gen u64}.
 */
final class SegmentGenCodec {

    private SegmentGenCodec() {
    }

    static byte[] encode(long generation) {
        byte[] b = new byte[PcacheLayout.SegmentGen.SIZE];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(PcacheLayout.SegmentGen.GEN, generation);
        return b;
    }

    static long decode(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(PcacheLayout.SegmentGen.GEN);
    }
}
