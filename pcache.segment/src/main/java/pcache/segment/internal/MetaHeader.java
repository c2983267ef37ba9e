package pcache.segment.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import pcache.api.format.PcacheLayout;
import pcache.api.spi.CrcProvider;

/**
 * The 8-byte header every replicated metadata record starts with (reference §2.2):
 * {@code u32 crc | u8 seq | u8 version | u16 reserved}. The CRC covers the structure from byte 4
 * to its end. Field offsets: {@link PcacheLayout.MetaHeader}.
 */
final class MetaHeader {

    private MetaHeader() {
    }

    static int storedCrc(byte[] record) {
        return ByteBuffer.wrap(record).order(ByteOrder.LITTLE_ENDIAN).getInt(PcacheLayout.MetaHeader.CRC);
    }

    static int computeCrc(CrcProvider crc, byte[] record) {
        return crc.checksum(record, PcacheLayout.MetaHeader.CRC_START, record.length - PcacheLayout.MetaHeader.CRC_START);
    }

    static boolean crcMatches(CrcProvider crc, byte[] record) {
        return storedCrc(record) == computeCrc(crc, record);
    }

    static int seq(byte[] record) {
        return record[PcacheLayout.MetaHeader.SEQ] & 0xFF;
    }

    /** Sets seq (version 0) and then the CRC over the result. */
    static void seal(CrcProvider crc, byte[] record, int seq) {
        record[PcacheLayout.MetaHeader.SEQ] = (byte) seq;
        record[PcacheLayout.MetaHeader.VERSION] = 0;
        ByteBuffer.wrap(record).order(ByteOrder.LITTLE_ENDIAN).putInt(PcacheLayout.MetaHeader.CRC, computeCrc(crc, record));
    }
}
