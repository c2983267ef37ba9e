package pcache.keyindex.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import pcache.api.format.PcacheLayout.Key;
import pcache.api.spi.CacheKey;

/**
 * The 40-byte on-media key record (reference §2.3; fields in {@link Key}):
 * {@code off u64 | len u32 | flags u32 | cache_seg_id u32 | cache_seg_off u32 | seg_gen u64 |
 * data_crc u32 | reserved u32}.
 */
public final class KeyCodec {

    private KeyCodec() {
    }

    /** Writes {@code key} at {@code at} of {@code buf} (absolute, little-endian buffer). */
    public static void encode(CacheKey key, ByteBuffer buf, int at) {
        buf.putLong(at + Key.OFF, key.offset());
        buf.putInt(at + Key.LEN, key.length());
        buf.putInt(at + Key.FLAGS, key.mediaFlags() & ~Key.FLAG_EMPTY);
        buf.putInt(at + Key.SEG, key.segment());
        buf.putInt(at + Key.SEG_OFF, key.segmentOffset());
        buf.putLong(at + Key.GEN, key.generation());
        buf.putInt(at + Key.DATA_CRC, key.dataCrc());
        buf.putInt(at + Key.RESERVED, 0);
    }

    /** Reads the key at {@code at} of {@code buf}. */
    public static CacheKey decode(ByteBuffer buf, int at) {
        CacheKey key = new CacheKey(buf.getLong(at + Key.OFF), buf.getInt(at + Key.LEN));
        key.place(buf.getInt(at + Key.SEG), buf.getInt(at + Key.SEG_OFF), buf.getLong(at + Key.GEN));
        // EMPTY marks DRAM-only placeholders and is never written; a record claiming it is still a
        // data key (replay inserts it, and insert refuses placeholders)
        key.setMediaFlags(buf.getInt(at + Key.FLAGS) & ~Key.FLAG_EMPTY);
        key.setDataCrc(buf.getInt(at + Key.DATA_CRC));
        return key;
    }

    /** A 40-byte array holding {@code key}'s record. */
    public static byte[] encode(CacheKey key) {
        byte[] b = new byte[Key.SIZE];
        encode(key, ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN), 0);
        return b;
    }
}
