package pcache.engine.internal.media;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import pcache.api.CachePos;
import pcache.api.format.PcacheLayout;

/**
 * A cache position record (reference §2.3), 16 bytes, used for key_tail (slots at cache_ctrl +0,
 * +16) and dirty_tail (+32, +48): {@code header(8) | cache_seg_id u32 | seg_off u32}. Field offsets:
 * {@link PcacheLayout.CachePos}.
 */
public final class CachePosCodec {

    private CachePosCodec() {
    }

    public static byte[] encode(CachePos pos) {
        byte[] b = new byte[PcacheLayout.CachePos.SIZE];
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        bb.putInt(PcacheLayout.CachePos.SEG, pos.segment());
        bb.putInt(PcacheLayout.CachePos.OFF, pos.offset());
        return b;
    }

    public static CachePos decode(byte[] b) {
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        return new CachePos(bb.getInt(PcacheLayout.CachePos.SEG), bb.getInt(PcacheLayout.CachePos.OFF));
    }
}
