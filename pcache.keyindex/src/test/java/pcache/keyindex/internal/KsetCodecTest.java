package pcache.keyindex.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;
import java.util.List;

import org.junit.jupiter.api.Test;

import pcache.api.CachePos;
import pcache.api.format.PcacheFormat;
import pcache.api.spi.CacheKey;
import pcache.api.spi.CrcProvider;
import pcache.api.spi.Kset;
import pcache.crc.internal.PcacheCrc32c;

/** The kset record (reference §2.3): 24-byte header, then 40-byte keys; CRC over bytes 4..end. */
class KsetCodecTest {

    private static final HexFormat HEX = HexFormat.of();
    private final CrcProvider crc = new PcacheCrc32c();

    private static CacheKey secondKey() {
        return new CacheKey(4L << 20, 4096).place(2, 0x10, 0);
    }

    private static final String SECOND_KEY_HEX = ""
            + "0000400000000000" // off = 4 MiB = 0x400000
            + "00100000" // len = 4096
            + "00000000" // flags: dirty
            + "02000000" // cache_seg_id 2
            + "10000000" // cache_seg_off 0x10
            + "0000000000000000" // seg_gen 0
            + "00000000" // data_crc 0
            + "00000000"; // reserved

    /** Puts the little-endian CRC of bytes 4..end into bytes 0..3. */
    private byte[] withCrc(byte[] b) {
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(0, crc.checksum(b, 4, b.length - 4));
        return b;
    }

    private byte[] twoKeyKset() {
        return withCrc(HEX.parseHex(""
                + "00000000" // 0: crc, computed below over bytes 4..103
                + "02000000" // 4: key_num 2
                + "1a4f164ea6946867" // 8: magic 0x676894a64e164f1a
                + "0000000000000000" // 16: flags 0 (not LAST)
                + KeyCodecTest.SAMPLE_KEY_HEX // 24: key 0
                + SECOND_KEY_HEX)); // 64: key 1; total 24 + 2 * 40 = 104 bytes
    }

    private static void assertSameKey(CacheKey expected, CacheKey actual) {
        assertEquals(expected.offset(), actual.offset());
        assertEquals(expected.length(), actual.length());
        assertEquals(expected.mediaFlags(), actual.mediaFlags());
        assertEquals(expected.segment(), actual.segment());
        assertEquals(expected.segmentOffset(), actual.segmentOffset());
        assertEquals(expected.generation(), actual.generation());
        assertEquals(expected.dataCrc(), actual.dataCrc());
    }

    @Test
    void encodesAKsetOfTwoKeys() {
        byte[] expected = twoKeyKset();
        assertEquals(104, expected.length);
        assertEquals(104, KsetCodec.size(2));
        assertArrayEquals(expected, KsetCodec.encode(List.of(KeyCodecTest.sampleKey(), secondKey()), crc));
    }

    @Test
    void sealKeysFillsTheHeaderOfABufferImage() {
        ByteBuffer image = ByteBuffer.allocate(PcacheFormat.KSET_MAX_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        image.putLong(16, 0xFFL); // stale flags from an earlier use of the buffer
        KeyCodec.encode(KeyCodecTest.sampleKey(), image, 24);
        KeyCodec.encode(secondKey(), image, 64);
        assertEquals(104, KsetCodec.sealKeys(image, 2, crc));
        byte[] got = new byte[104];
        image.get(0, got);
        assertArrayEquals(twoKeyKset(), got);
        assertEquals(0, image.position());
    }

    @Test
    void decodesAKsetOfTwoKeys() {
        ByteBuffer b = ByteBuffer.wrap(twoKeyKset()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(KsetCodec.HeaderCheck.KEYS, KsetCodec.checkHeader(b, crc));
        assertEquals(2, KsetCodec.keyNumOrNext(b));
        Kset k = KsetCodec.decodeBody(new CachePos(3, 4096), b, crc);
        assertNotNull(k);
        assertEquals(104, k.sizeBytes());
        assertEquals(new CachePos(3, 4096 + 104), k.next());
        assertEquals(2, k.keys().size());
        assertSameKey(KeyCodecTest.sampleKey(), k.keys().get(0));
        assertSameKey(secondKey(), k.keys().get(1));
        assertEquals(4096, k.dirtyBytes(), "the first key is CLEAN");
    }

    @Test
    void aDamagedBodyFailsItsCrc() {
        for (int at : new int[] {0, 3, 17, 24, 63, 103}) {
            byte[] b = twoKeyKset();
            b[at] ^= 0x40;
            ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(KsetCodec.HeaderCheck.KEYS, KsetCodec.checkHeader(bb, crc));
            assertNull(KsetCodec.decodeBody(new CachePos(0, 0), bb, crc), "byte " + at + " damaged");
        }
    }

    @Test
    void encodesALastKset() {
        byte[] expected = withCrc(HEX.parseHex(""
                + "00000000" // 0: crc over bytes 4..23
                + "05000000" // 4: next_cache_seg_id 5 (shares the field with key_num)
                + "1a4f164ea6946867" // 8: magic
                + "0100000000000000")); // 16: flags = LAST (bit 0)
        assertArrayEquals(expected, KsetCodec.last(5, crc));
        ByteBuffer b = ByteBuffer.wrap(expected).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(KsetCodec.HeaderCheck.LAST, KsetCodec.checkHeader(b, crc));
        assertEquals(5, KsetCodec.keyNumOrNext(b));
    }

    @Test
    void aLastKsetWithABadCrcIsNotAKset() {
        byte[] b = KsetCodec.last(5, crc);
        b[4] = 6;
        assertEquals(KsetCodec.HeaderCheck.INVALID, KsetCodec.checkHeader(ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN), crc));
    }

    @Test
    void headersWithoutMagicOrWithAKeyCountOutOfRangeAreNotKsets() {
        ByteBuffer zero = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(KsetCodec.HeaderCheck.INVALID, KsetCodec.checkHeader(zero, crc));

        for (int n : new int[] {0, 129, -1}) {
            ByteBuffer h = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
            h.putInt(4, n).putLong(8, PcacheFormat.KSET_MAGIC);
            assertEquals(KsetCodec.HeaderCheck.INVALID, KsetCodec.checkHeader(h, crc), "key_num " + n);
        }
        for (int n : new int[] {1, 128}) {
            ByteBuffer h = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
            h.putInt(4, n).putLong(8, PcacheFormat.KSET_MAGIC);
            assertEquals(KsetCodec.HeaderCheck.KEYS, KsetCodec.checkHeader(h, crc), "key_num " + n);
        }
        byte[] b = twoKeyKset();
        b[15] ^= 1; // last magic byte
        assertEquals(KsetCodec.HeaderCheck.INVALID, KsetCodec.checkHeader(ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN), crc));
    }

    @Test
    void aFullKsetIs5144Bytes() {
        CacheKey[] keys = new CacheKey[128];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = new CacheKey(i * 4096L, 4096).place(1, i * 4096, 0);
        }
        byte[] b = KsetCodec.encode(List.of(keys), crc);
        assertEquals(5144, b.length);
        Kset k = KsetCodec.decodeBody(new CachePos(0, 0), ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN), crc);
        assertNotNull(k);
        assertEquals(128, k.keys().size());
        assertTrue(k.keys().stream().allMatch(key -> key.length() == 4096));
        assertEquals(127 * 4096L, k.keys().get(127).offset());
    }
}
