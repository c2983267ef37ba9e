package pcache.target.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import pcache.api.CachePos;
import pcache.api.format.PcacheFormat;

/**
 * A cache position record (reference §2.3), 16 bytes, used for key_tail (slots at cache_ctrl +0,
 * +16) and dirty_tail (+32, +48): {@code header(8) | cache_seg_id u32 | seg_off u32}.
 */
final class CachePosCodec {

    static final int SEG = 8;
    static final int OFF = 12;

    private CachePosCodec() {
    }

    static byte[] encode(CachePos pos) {
        byte[] b = new byte[PcacheFormat.POS_STRUCT_SIZE];
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        bb.putInt(SEG, pos.segment());
        bb.putInt(OFF, pos.offset());
        return b;
    }

    static CachePos decode(byte[] b) {
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        return new CachePos(bb.getInt(SEG), bb.getInt(OFF));
    }
}
