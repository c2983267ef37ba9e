package pcache.crc.internal;

/** The plain definition, one bit at a time: the reference every fast path is checked against. */
final class BitwiseCrc32c {

    private BitwiseCrc32c() {
    }

    static int crc(int register, byte[] data, int offset, int length) {
        for (int i = offset; i < offset + length; i++) {
            register ^= data[i] & 0xFF;
            for (int bit = 0; bit < 8; bit++) {
                register = (register & 1) != 0 ? (register >>> 1) ^ 0x82F63B78 : register >>> 1;
            }
        }
        return register;
    }

    static int pcache(byte[] data, int offset, int length) {
        return crc(0x3B15A, data, offset, length);
    }
}
