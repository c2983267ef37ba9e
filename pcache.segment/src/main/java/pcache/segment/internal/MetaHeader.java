package pcache.segment.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import pcache.api.spi.CrcProvider;

/**
 * The 8-byte header every replicated metadata record starts with (reference §2.2):
 * {@code u32 crc | u8 seq | u8 version | u16 reserved}. The CRC covers the structure from byte 4
 * to its end.
 */
final class MetaHeader {

    static final int CRC_OFF = 0;
    static final int SEQ_OFF = 4;
    static final int VERSION_OFF = 5;

    private MetaHeader() {
    }

    static int storedCrc(byte[] record) {
        return ByteBuffer.wrap(record).order(ByteOrder.LITTLE_ENDIAN).getInt(CRC_OFF);
    }

    static int computeCrc(CrcProvider crc, byte[] record) {
        return crc.checksum(record, 4, record.length - 4);
    }

    static boolean crcMatches(CrcProvider crc, byte[] record) {
        return storedCrc(record) == computeCrc(crc, record);
    }

    static int seq(byte[] record) {
        return record[SEQ_OFF] & 0xFF;
    }

    /** Sets seq (version 0) and then the CRC over the result. */
    static void seal(CrcProvider crc, byte[] record, int seq) {
        record[SEQ_OFF] = (byte) seq;
        record[VERSION_OFF] = 0;
        ByteBuffer.wrap(record).order(ByteOrder.LITTLE_ENDIAN).putInt(CRC_OFF, computeCrc(crc, record));
    }
}
