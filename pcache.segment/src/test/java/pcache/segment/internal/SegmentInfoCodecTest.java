package pcache.segment.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HexFormat;

import org.junit.jupiter.api.Test;

import pcache.crc.internal.PcacheCrc32c;

/** segment_info (reference §2.3): {@code header(8) | flags u32 | next_seg u32}, little-endian. */
class SegmentInfoCodecTest {

    private static final HexFormat HEX = HexFormat.of();

    @Test
    void linkedCacheSegmentEncodesFlagsThreeAndNextSegment() {
        byte[] expected = HEX.parseHex(""
                // 0: header (crc u32, seq u8, version u8, reserved u16): left zero, the slot record seals it
                + "00000000" + "00" + "00" + "0000"
                // 8: flags u32 = HAS_NEXT (bit 0) | type 1 << 1 (bits 1-4) = 0x3
                + "03000000"
                // 12: next_seg u32 = 42 = 0x2a
                + "2a000000");
        assertArrayEquals(expected, SegmentInfoCodec.encode(SegmentInfoCodec.cacheSegment(42)));
    }

    @Test
    void lastCacheSegmentHasTypeOnlyAndNextZero() {
        byte[] expected = HEX.parseHex(""
                + "0000000000000000"
                // 8: flags = type 1 << 1 = 0x2, no HAS_NEXT
                + "02000000"
                // 12: next_seg 0 (meaningless without HAS_NEXT)
                + "00000000");
        assertArrayEquals(expected, SegmentInfoCodec.encode(SegmentInfoCodec.cacheSegment(-1)));
    }

    @Test
    void decodesFlagsTypeAndNext() {
        // flags 0x00000003, next_seg 0x01020304
        SegmentInfoCodec.SegmentInfo info = SegmentInfoCodec.decode(HEX.parseHex("0000000000000000" + "03000000" + "04030201"));
        assertTrue(info.hasNext());
        assertEquals(1, info.type());
        assertEquals(0x01020304, info.nextSegment());

        // flags 0x1e: type 15 (bits 1-4 all set), no HAS_NEXT; bits above the type are not part of it
        SegmentInfoCodec.SegmentInfo other = SegmentInfoCodec.decode(HEX.parseHex("0000000000000000" + "3e000000" + "00000000"));
        assertFalse(other.hasNext());
        assertEquals(15, other.type());
    }

    @Test
    void roundTrips() {
        SegmentInfoCodec.SegmentInfo info = SegmentInfoCodec.cacheSegment(46);
        assertEquals(info, SegmentInfoCodec.decode(SegmentInfoCodec.encode(info)));
    }

    /**
     * Sealed records must equal what the Linux kernel wrote (the dirty-nocrc fixture, segment 0):
     * its first segment_info store (slot 1, seq 1, type only) and the relink to segment 1
     * (slot 0, seq 2, flags 3, next 1). Pins the CRC (seed 0x3B15A over bytes 4..15) too.
     */
    @Test
    void sealedRecordsMatchTheKernelsBytes() {
        byte[] first = SegmentInfoCodec.encode(SegmentInfoCodec.cacheSegment(-1));
        MetaHeader.seal(new PcacheCrc32c(), first, 1);
        assertArrayEquals(HEX.parseHex("fe258dfc" + "01" + "00" + "0000" + "02000000" + "00000000"), first);

        byte[] linked = SegmentInfoCodec.encode(SegmentInfoCodec.cacheSegment(1));
        MetaHeader.seal(new PcacheCrc32c(), linked, 2);
        assertArrayEquals(HEX.parseHex("318e663b" + "02" + "00" + "0000" + "03000000" + "01000000"), linked);
    }
}
