package pcache.engine.internal.media;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import pcache.api.format.PcacheLayout;
import pcache.api.spi.CrcProvider;

/**
 * The superblock (reference §2.3), 24 bytes at device offset 4 KiB, single copy:
 * {@code crc u32 | flags u32 (bit 0 BIGENDIAN) | magic u64 | seg_num u32 | pad u32}, CRC over
 * bytes 4..23. Field offsets: {@link PcacheLayout.Superblock}.
 */
public final class SuperblockCodec {

    /** A decoded superblock. */
    public record Superblock(int storedCrc, int flags, long magic, int segNum) {
    }

    private SuperblockCodec() {
    }

    public static byte[] encode(int flags, int segNum, CrcProvider crc) {
        byte[] b = new byte[PcacheLayout.Superblock.SIZE];
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        bb.putInt(PcacheLayout.Superblock.FLAGS, flags);
        bb.putLong(PcacheLayout.Superblock.MAGIC, PcacheLayout.Superblock.MAGIC_VALUE);
        bb.putInt(PcacheLayout.Superblock.SEG_NUM, segNum);
        bb.putInt(PcacheLayout.Superblock.CRC, crcOf(b, crc));
        return b;
    }

    public static Superblock decode(byte[] b) {
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        return new Superblock(bb.getInt(PcacheLayout.Superblock.CRC), bb.getInt(PcacheLayout.Superblock.FLAGS),
                bb.getLong(PcacheLayout.Superblock.MAGIC), bb.getInt(PcacheLayout.Superblock.SEG_NUM));
    }

    public static boolean crcMatches(byte[] b, CrcProvider crc) {
        return decode(b).storedCrc() == crcOf(b, crc);
    }

    /** The CRC a superblock's bytes call for (over the bytes after the CRC field). */
    public static int crcOf(byte[] b, CrcProvider crc) {
        return crc.checksum(b, PcacheLayout.Superblock.CRC_START, PcacheLayout.Superblock.SIZE
                - PcacheLayout.Superblock.CRC_START);
    }
}
