package pcache.target.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import pcache.api.format.PcacheFormat;
import pcache.api.spi.CrcProvider;

/**
 * The superblock (reference §2.3), 24 bytes at device offset 4 KiB, single copy:
 * {@code crc u32 | flags u32 (bit 0 BIGENDIAN) | magic u64 | seg_num u32 | pad u32}, CRC over
 * bytes 4..23.
 */
final class SuperblockCodec {

    static final int CRC = 0;
    static final int FLAGS = 4;
    static final int MAGIC = 8;
    static final int SEG_NUM = 16;

    /** A decoded superblock. */
    record Superblock(int storedCrc, int flags, long magic, int segNum) {
    }

    private SuperblockCodec() {
    }

    static byte[] encode(int flags, int segNum, CrcProvider crc) {
        byte[] b = new byte[PcacheFormat.SB_STRUCT_SIZE];
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        bb.putInt(FLAGS, flags);
        bb.putLong(MAGIC, PcacheFormat.SB_MAGIC);
        bb.putInt(SEG_NUM, segNum);
        bb.putInt(CRC, crc.checksum(b, 4, PcacheFormat.SB_STRUCT_SIZE - 4));
        return b;
    }

    static Superblock decode(byte[] b) {
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        return new Superblock(bb.getInt(CRC), bb.getInt(FLAGS), bb.getLong(MAGIC), bb.getInt(SEG_NUM));
    }

    static boolean crcMatches(byte[] b, CrcProvider crc) {
        return decode(b).storedCrc() == crc.checksum(b, 4, PcacheFormat.SB_STRUCT_SIZE - 4);
    }
}
