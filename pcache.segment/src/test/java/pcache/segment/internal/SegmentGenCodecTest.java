package pcache.segment.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HexFormat;

import org.junit.jupiter.api.Test;

import pcache.crc.internal.PcacheCrc32c;

/** The segment generation record (reference §2.3): {@code header(8) | gen u64}, little-endian. */
class SegmentGenCodecTest {

    private static final HexFormat HEX = HexFormat.of();

    @Test
    void encodesGenerationLittleEndianAfterTheHeader() {
        byte[] expected = HEX.parseHex(""
                // 0: header, sealed later by the slot record
                + "0000000000000000"
                // 8: gen u64 = 0x0102030405060708, least significant byte first
                + "0807060504030201");
        assertArrayEquals(expected, SegmentGenCodec.encode(0x0102030405060708L));
    }

    @Test
    void decodesTheFullUnsignedRange() {
        assertEquals(0x0102030405060708L, SegmentGenCodec.decode(HEX.parseHex("0000000000000000" + "0807060504030201")));
        // gen 2^64 - 1: all bits set, a Java long of -1
        assertEquals(-1L, SegmentGenCodec.decode(HEX.parseHex("0000000000000000" + "ffffffffffffffff")));
        assertEquals(7L, SegmentGenCodec.decode(SegmentGenCodec.encode(7)));
    }

    /** Generation 0 sealed with seq 1 is what the kernel writes when it formats a segment. */
    @Test
    void sealedGenerationZeroMatchesTheKernelsBytes() {
        byte[] gen = SegmentGenCodec.encode(0);
        MetaHeader.seal(new PcacheCrc32c(), gen, 1);
        assertArrayEquals(HEX.parseHex("b0dff56e" + "01" + "00" + "0000" + "0000000000000000"), gen);
    }
}
