package pcache.keyindex.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;

import org.junit.jupiter.api.Test;

import pcache.api.spi.CacheKey;

/** The 40-byte key record (reference §2.3), little-endian. */
class KeyCodecTest {

    private static final HexFormat HEX = HexFormat.of();

    /** Every field distinct and more than one byte wide, so a swapped or shifted field shows. */
    static CacheKey sampleKey() {
        CacheKey k = new CacheKey(0x0000_0123_4567_8A00L, 0x0001_2200);
        k.place(7, 0x0003_4500, 0x0000_0009_0000_0002L);
        k.markClean();
        k.setDataCrc(0xDEADBEEF);
        return k;
    }

    static final String SAMPLE_KEY_HEX = ""
            // 0: off u64 = 0x0000012345678a00
            + "008a674523010000"
            // 8: len u32 = 0x00012200 (74,240 bytes)
            + "00220100"
            // 12: flags u32 = CLEAN (bit 1) = 0x2
            + "02000000"
            // 16: cache_seg_id u32 = 7
            + "07000000"
            // 20: cache_seg_off u32 = 0x00034500
            + "00450300"
            // 24: seg_gen u64 = 0x0000000900000002
            + "0200000009000000"
            // 32: data_crc u32 = 0xdeadbeef
            + "efbeadde"
            // 36: reserved u32 = 0
            + "00000000";

    @Test
    void encodesEveryFieldAtItsOffset() {
        assertArrayEquals(HEX.parseHex(SAMPLE_KEY_HEX), KeyCodec.encode(sampleKey()));
    }

    @Test
    void encodesIntoABufferAtAnOffset() {
        ByteBuffer buf = ByteBuffer.allocate(100).order(ByteOrder.LITTLE_ENDIAN);
        KeyCodec.encode(sampleKey(), buf, 24);
        byte[] got = new byte[40];
        buf.get(24, got);
        assertArrayEquals(HEX.parseHex(SAMPLE_KEY_HEX), got);
        assertEquals(0, buf.position(), "absolute puts only");
    }

    @Test
    void decodesEveryField() {
        CacheKey k = KeyCodec.decode(ByteBuffer.wrap(HEX.parseHex(SAMPLE_KEY_HEX)).order(ByteOrder.LITTLE_ENDIAN), 0);
        assertEquals(0x0000_0123_4567_8A00L, k.offset());
        assertEquals(0x0001_2200, k.length());
        assertTrue(k.isClean());
        assertFalse(k.isEmpty());
        assertFalse(k.isLinked());
        assertEquals(7, k.segment());
        assertEquals(0x0003_4500, k.segmentOffset());
        assertEquals(0x0000_0009_0000_0002L, k.generation());
        assertEquals(0xDEADBEEF, k.dataCrc());
        assertTrue(k.crcCoversExactly(), "the CRC of a decoded key covers its whole extent");
    }

    @Test
    void aDirtyKeyHasFlagsZero() {
        CacheKey k = new CacheKey(4096, 512).place(1, 0, 0);
        byte[] b = KeyCodec.encode(k);
        assertEquals(0, ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getInt(12));
    }

    @Test
    void theLinkedStateAndEmptyFlagNeverReachTheMedia() {
        CacheKey placeholder = CacheKey.placeholder(0, 4096);
        placeholder.setLinked(true);
        assertEquals(0, ByteBuffer.wrap(KeyCodec.encode(placeholder)).order(ByteOrder.LITTLE_ENDIAN).getInt(12));
        CacheKey linked = sampleKey();
        linked.setLinked(true);
        assertArrayEquals(HEX.parseHex(SAMPLE_KEY_HEX), KeyCodec.encode(linked));
    }

    @Test
    void anEmptyFlagOnTheMediaDoesNotMakeAPlaceholder() {
        byte[] b = HEX.parseHex(SAMPLE_KEY_HEX);
        b[12] = 3; // EMPTY | CLEAN: never written by dm-pcache, but a CRC does not rule it out
        CacheKey k = KeyCodec.decode(ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN), 0);
        assertFalse(k.isEmpty(), "a replayed key must be insertable as a data key");
        assertTrue(k.isClean());
    }

    @Test
    void unsignedFieldsSurviveARoundTrip() {
        CacheKey k = new CacheKey(Long.MAX_VALUE - 511, 4 << 20);
        k.place(0xFFFF_FFFE, 16_764_928 - 512, -1L);
        CacheKey back = KeyCodec.decode(ByteBuffer.wrap(KeyCodec.encode(k)).order(ByteOrder.LITTLE_ENDIAN), 0);
        assertEquals(k.offset(), back.offset());
        assertEquals(k.length(), back.length());
        assertEquals(k.segment(), back.segment());
        assertEquals(k.segmentOffset(), back.segmentOffset());
        assertEquals(-1L, back.generation());
    }
}
