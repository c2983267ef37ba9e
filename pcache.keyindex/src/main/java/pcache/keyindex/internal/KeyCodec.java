package pcache.keyindex.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import pcache.api.format.PcacheFormat;
import pcache.api.spi.CacheKey;

/**
 * The 40-byte on-media key record (reference §2.3):
 * {@code off u64 | len u32 | flags u32 | cache_seg_id u32 | cache_seg_off u32 | seg_gen u64 |
 * data_crc u32 | reserved u32}.
 */
public final class KeyCodec {

    static final int OFF = 0;
    static final int LEN = 8;
    static final int FLAGS = 12;
    static final int SEG = 16;
    static final int SEG_OFF = 20;
    static final int GEN = 24;
    static final int DATA_CRC = 32;
    static final int RESERVED = 36;

    private KeyCodec() {
    }

    /** Writes {@code key} at {@code at} of {@code buf} (absolute, little-endian buffer). */
    public static void encode(CacheKey key, ByteBuffer buf, int at) {
        buf.putLong(at + OFF, key.offset());
        buf.putInt(at + LEN, key.length());
        buf.putInt(at + FLAGS, key.mediaFlags() & ~PcacheFormat.KEY_FLAG_EMPTY);
        buf.putInt(at + SEG, key.segment());
        buf.putInt(at + SEG_OFF, key.segmentOffset());
        buf.putLong(at + GEN, key.generation());
        buf.putInt(at + DATA_CRC, key.dataCrc());
        buf.putInt(at + RESERVED, 0);
    }

    /** Reads the key at {@code at} of {@code buf}. */
    public static CacheKey decode(ByteBuffer buf, int at) {
        CacheKey key = new CacheKey(buf.getLong(at + OFF), buf.getInt(at + LEN));
        key.place(buf.getInt(at + SEG), buf.getInt(at + SEG_OFF), buf.getLong(at + GEN));
        // EMPTY marks DRAM-only placeholders and is never written; a record claiming it is still a
        // data key (replay inserts it, and insert refuses placeholders)
        key.setMediaFlags(buf.getInt(at + FLAGS) & ~PcacheFormat.KEY_FLAG_EMPTY);
        key.setDataCrc(buf.getInt(at + DATA_CRC));
        return key;
    }

    /** A 40-byte array holding {@code key}'s record. */
    public static byte[] encode(CacheKey key) {
        byte[] b = new byte[PcacheFormat.KEY_SIZE];
        encode(key, ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN), 0);
        return b;
    }
}
