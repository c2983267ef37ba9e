package pcache.engine.internal.media;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HexFormat;
import java.util.List;

import org.junit.jupiter.api.Test;

import pcache.api.CachePos;
import pcache.api.format.PcacheLayout;
import pcache.api.spi.BackingIdentity;
import pcache.api.spi.CrcProvider;
import pcache.crc.internal.PcacheCrc32c;
import pcache.engine.internal.media.CacheInfoCodec.CacheInfo;
import pcache.engine.internal.media.ExtensionCodec.Extension;
import pcache.engine.internal.media.ExtensionCodec.Range;

/**
 * The structures pcache.engine owns, pinned to bytes: hand-derived from the reference (§2.3) and
 * the very bytes Linux dm-pcache wrote in the fixture image dirty-nocrc (see KernelFixtureTest).
 */
class TargetCodecsTest {

    private static final CrcProvider CRC = new PcacheCrc32c();

    private static byte[] hex(String s) {
        return HexFormat.of().parseHex(s.replace(" ", ""));
    }

    @Test
    void superblockAsTheKernelWroteIt() {
        // crc 0x8d091b6f | flags 0 | magic 0x65B05EFA96C596EF | seg_num 47 | pad
        byte[] kernel = hex("6f1b098d 00000000 ef96c596fa5eb065 2f000000 00000000");
        assertArrayEquals(kernel, SuperblockCodec.encode(0, 47, CRC));
        SuperblockCodec.Superblock sb = SuperblockCodec.decode(kernel);
        assertEquals(47, sb.segNum());
        assertEquals(0x65B05EFA96C596EFL, sb.magic());
        assertTrue(SuperblockCodec.crcMatches(kernel, CRC));
    }

    @Test
    void cacheInfoFields() {
        // header(8) | seg_id 0 | n_segs 47 | flags 0x1182 (gc 70 << 6, INIT_DONE) | reserved
        byte[] body = hex("0000000000000000 00000000 2f000000 82110000 00000000");
        CacheInfo info = new CacheInfo(0, 47, CacheInfoCodec.flags(false, true, 0, 70));
        assertEquals(0x1182, info.flags());
        assertArrayEquals(body, CacheInfoCodec.encode(info));
        assertEquals(info, CacheInfoCodec.decode(body));
        assertEquals(70, info.gcPercent());
        assertTrue(info.initDone());
        assertEquals(0, info.mode());
        CacheInfo crc = new CacheInfo(3, 10, CacheInfoCodec.flags(true, false, 1, 90));
        assertTrue(crc.dataCrc());
        assertEquals(1, crc.mode());
        assertEquals(90, crc.gcPercent());
        assertEquals(1 | 1 << 2 | 90 << 6, crc.flags());
        assertEquals(5, crc.withGcPercent(5).gcPercent());
    }

    @Test
    void cacheInfoAsTheKernelWroteIt() {
        // slot 1 of the fixture's cache_info: crc 0xf6b09658, seq 1
        byte[] kernel = hex("5896b0f6 01 00 0000 00000000 2f000000 82110000 00000000");
        CacheInfo info = CacheInfoCodec.decode(kernel);
        assertEquals(new CacheInfo(0, 47, 0x1182), info);
        assertEquals(CRC.checksum(kernel, 4, 20), 0xf6b09658);
    }

    @Test
    void positionAsTheKernelWroteIt() {
        // key_tail slot 0 of the fixture: crc 0x6ef5dfb0, seq 1, segment 0, offset 0
        byte[] kernel = hex("b0dff56e 01 00 0000 00000000 00000000");
        assertEquals(new CachePos(0, 0), CachePosCodec.decode(kernel));
        assertEquals(0x6ef5dfb0, CRC.checksum(kernel, 4, 12));
        // a later dirty_tail of the clean fixture: seq 5, 0:8536
        byte[] later = hex("266bb15b 05 00 0000 00000000 58210000");
        assertEquals(new CachePos(0, 8536), CachePosCodec.decode(later));
        assertEquals(0x5bb16b26, CRC.checksum(later, 4, 12));
        assertArrayEquals(hex("0000000000000000 07000000 10000000"), CachePosCodec.encode(new CachePos(7, 16)));
    }

    @Test
    void extensionRoundTripAndForeignBytes() {
        Extension ext = new Extension(new BackingIdentity(1L << 30, "file:/srv/disk.img"),
                List.of(new Range(4096, 512), new Range(1L << 20, 8192)));
        byte[] b = ExtensionCodec.encode(ext);
        assertEquals(PcacheLayout.Extension.SIZE, b.length);
        assertEquals("PCACHEX1", new String(b, 8, 8, java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(ext, ExtensionCodec.decode(b));
        // what the kernel fixture holds at offset 0 (a test marker): not ours
        byte[] marker = new byte[PcacheLayout.Extension.SIZE];
        byte[] text = "KPCACHE-PMEM0-OFFSET0-MARKER fx-dirty\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        System.arraycopy(text, 0, marker, 0, text.length);
        assertNull(ExtensionCodec.decode(marker));
        assertEquals(new Extension(null, List.of()), ExtensionCodec.decode(ExtensionCodec.encode(new Extension(null, List.of()))));
    }
    /**
     * A record with our magic (its CRC matching) that holds what pcache never writes is refused,
     * naming the field. Before, a negative size or an identity growing past its limit when decoded
     * threw from BackingIdentity's constructor (failing the open and fsck with no structure named),
     * and too many ranges or too long an identity read as "no record": the quarantine was dropped.
     */
    @Test
    void anExtensionHoldingWhatPcacheNeverWritesIsRefusedNamingTheField() {
        byte[] good = ExtensionCodec.encode(new Extension(new BackingIdentity(1L << 30, "disk"),
                List.of(new Range(4096, 512))));
        java.util.function.BiFunction<Integer, byte[], String> refusal = (at, value) -> {
            byte[] b = good.clone();
            System.arraycopy(value, 0, b, at, value.length);
            return org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> ExtensionCodec.decode(b)).getMessage();
        };
        java.util.function.LongFunction<byte[]> le64 = v -> java.nio.ByteBuffer.allocate(8)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(v).array();
        java.util.function.IntFunction<byte[]> le16 = v -> java.nio.ByteBuffer.allocate(2)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN).putShort((short) v).array();
        assertTrue(refusal.apply(PcacheLayout.Extension.BACKING_SIZE, le64.apply(-512)).contains("-512 bytes"));
        assertTrue(refusal.apply(PcacheLayout.Extension.BACKING_SIZE, le64.apply(1000)).contains("1000 bytes"));
        assertTrue(refusal.apply(PcacheLayout.Extension.ID_LENGTH, le16.apply(PcacheLayout.Extension.ID_MAX_BYTES + 1))
                .contains("an identity of"));
        byte[] notUtf8 = new byte[] {(byte) 0xff, (byte) 0xfe, (byte) 0xfd, (byte) 0xfc};
        assertTrue(refusal.apply(PcacheLayout.Extension.ID, notUtf8).contains("not UTF-8"));
        assertTrue(refusal.apply(PcacheLayout.Extension.QUARANTINE_COUNT,
                le16.apply(PcacheLayout.Extension.QUARANTINE_MAX + 1)).contains("quarantined ranges"));
        assertTrue(refusal.apply(PcacheLayout.Extension.QUARANTINE + PcacheLayout.Extension.QUARANTINE_ENTRY_LEN,
                le64.apply(0)).contains("quarantined range 0"));
    }
}
