package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import pcache.engine.internal.engine.CacheEngine;
import pcache.engine.internal.engine.EngineConfig;

/**
 * Images pcache writes are dm-pcache images: read back here by a deliberately independent,
 * minimal reader that follows the kernel's layout from the reference alone — its own offsets, its
 * own bit-by-bit CRC-32C with seed 0x3B15A, its own slot selection and replay — without any of
 * pcache's codecs. What it reconstructs must be exactly what was written through pcache.
 */
class IndependentReaderTest {

    private static final long LOGICAL = 64L << 20;

    // ---- the independent reader -------------------------------------------------------------

    /** Kernel crc32c(0x3B15A, data): reflected Castagnoli, no final inversion, one bit at a time. */
    static int kernelCrc(byte[] b, int off, int len) {
        int crc = 0x3B15A;
        for (int i = off; i < off + len; i++) {
            crc ^= b[i] & 0xFF;
            for (int k = 0; k < 8; k++) {
                crc = (crc >>> 1) ^ ((crc & 1) != 0 ? 0x82F63B78 : 0);
            }
        }
        return crc;
    }

    private static final class Image {
        final SimulatedPmem dev;

        Image(SimulatedPmem dev) {
            this.dev = dev;
        }

        byte[] bytes(long off, int len) throws Exception {
            byte[] b = new byte[len];
            dev.read(off, b, 0, len);
            return b;
        }

        ByteBuffer le(long off, int len) throws Exception {
            return ByteBuffer.wrap(bytes(off, len)).order(ByteOrder.LITTLE_ENDIAN);
        }

        /** The newest of two slots whose CRC over bytes 4..size holds; null if none. */
        ByteBuffer newestSlot(long slot0, long stride, int size) throws Exception {
            ByteBuffer best = null;
            for (int i = 0; i < 2; i++) {
                byte[] b = bytes(slot0 + i * stride, size);
                ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
                if (bb.getInt(0) != kernelCrc(b, 4, size - 4)) {
                    continue;
                }
                if (best == null || (byte) ((b[4] & 0xFF) - (best.get(4) & 0xFF)) > 0) {
                    best = bb;
                }
            }
            return best;
        }
    }

    /** Replays an image into sector -> 512 bytes, checking every structure on the way. */
    private static Map<Long, byte[]> read(SimulatedPmem dev, boolean dataCrc) throws Exception {
        Image img = new Image(dev);
        // superblock at 4 KiB: crc | flags | magic | seg_num | pad
        byte[] sb = img.bytes(4096, 24);
        ByteBuffer sbb = ByteBuffer.wrap(sb).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0x65B05EFA96C596EFL, sbb.getLong(8), "superblock magic");
        assertEquals(sbb.getInt(0), kernelCrc(sb, 4, 20), "superblock CRC");
        assertEquals(0, sbb.getInt(4), "superblock flags");
        int segNum = sbb.getInt(16);
        assertEquals((dev.sizeBytes() - 20480) / (16L << 20), segNum, "seg_num");
        // cache_info: two slots 4 KiB apart at 8 KiB
        ByteBuffer info = img.newestSlot(8192, 4096, 24);
        assertTrue(info != null, "a valid cache_info slot");
        int firstSeg = info.getInt(8);
        int nSegs = info.getInt(12);
        int flags = info.getInt(16);
        assertEquals(dataCrc, (flags & 1) != 0, "DATA_CRC flag");
        assertTrue((flags & 2) != 0, "INIT_DONE flag");
        assertEquals(0, (flags >>> 2) & 0xF, "cache mode writeback");
        // key_tail and dirty_tail: position records 16 bytes apart at 16 KiB
        ByteBuffer keyTail = img.newestSlot(16384, 16, 16);
        ByteBuffer dirtyTail = img.newestSlot(16384 + 32, 16, 16);
        assertTrue(keyTail != null && dirtyTail != null, "valid tail slots");
        // the segment chain: cache segment i -> physical id; generations
        long[] phys = new long[nSegs];
        long[] gen = new long[nSegs];
        long p = firstSeg;
        for (int i = 0; i < nSegs; i++) {
            phys[i] = p;
            long base = 20480 + p * (16L << 20);
            ByteBuffer si = img.newestSlot(base, 4096, 16);
            assertTrue(si != null, "segment_info of segment " + i);
            assertEquals(1, (si.getInt(8) >>> 1) & 0xF, "segment type");
            ByteBuffer g = img.newestSlot(base + 8192, 16, 16);
            assertTrue(g != null, "generation of segment " + i);
            gen[i] = g.getLong(8);
            if (i < nSegs - 1) {
                assertTrue((si.getInt(8) & 1) != 0, "HAS_NEXT on segment " + i);
                p = si.getInt(12);
            }
        }
        // replay from key_tail: ksets (crc | key_num or next | magic | flags), 40-byte keys
        Map<Long, byte[]> sectors = new HashMap<>();
        int seg = keyTail.getInt(8);
        int off = keyTail.getInt(12);
        while (true) {
            long at = 20480 + phys[seg] * (16L << 20) + 12288 + off;
            ByteBuffer h = img.le(at, 24);
            if (h.getLong(8) != 0x676894a64e164f1aL) {
                break;
            }
            if ((h.getLong(16) & 1) != 0) { // LAST
                byte[] hb = img.bytes(at, 24);
                assertEquals(h.getInt(0), kernelCrc(hb, 4, 20), "LAST kset CRC");
                seg = h.getInt(4);
                off = 0;
                continue;
            }
            int n = h.getInt(4);
            byte[] body = img.bytes(at, 24 + 40 * n);
            if (h.getInt(0) != kernelCrc(body, 4, 20 + 40 * n)) {
                break;
            }
            ByteBuffer kb = ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN);
            for (int k = 0; k < n; k++) {
                int r = 24 + 40 * k;
                long lOff = kb.getLong(r);
                int len = kb.getInt(r + 8);
                int kflags = kb.getInt(r + 12);
                int kseg = kb.getInt(r + 16);
                int ksegOff = kb.getInt(r + 20);
                long kgen = kb.getLong(r + 24);
                int kcrc = kb.getInt(r + 32);
                assertEquals(0, kflags & 1, "no EMPTY key on media");
                assertEquals(0, kb.getInt(r + 36), "reserved");
                if (kgen < gen[kseg]) {
                    continue; // stale
                }
                byte[] data = img.bytes(20480 + phys[kseg] * (16L << 20) + 12288 + ksegOff, len);
                if (dataCrc) {
                    assertEquals(kcrc, kernelCrc(data, 0, len), "data CRC of key at " + lOff);
                }
                for (int s = 0; s < len / 512; s++) {
                    byte[] sec = new byte[512];
                    System.arraycopy(data, s * 512, sec, 0, 512);
                    sectors.put(lOff / 512 + s, sec);
                }
            }
            off += 24 + 40 * n;
        }
        return sectors;
    }

    // ---- the test ---------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void pcacheImagesReadAsDmPcacheImages(boolean dataCrc) throws Exception {
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(6), false);
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        EngineConfig cfg = Harness.config("image").withDataCrc(dataCrc);
        CacheEngine e = Harness.open(cfg, pmem, Harness.holder(backing), null);
        Random r = new Random(dataCrc ? 2 : 1);
        byte[] model = new byte[(int) LOGICAL];
        boolean[] written = new boolean[(int) (LOGICAL / 512)];
        for (int i = 0; i < 400; i++) {
            long off = (r.nextInt((int) (LOGICAL / 512 - 4096))) * 512L;
            int len = 512 * (1 + r.nextInt(r.nextInt(10) == 0 ? 4096 : 24));
            byte[] data = Harness.random(r, len).array();
            e.write(off, ByteBuffer.wrap(data), r.nextInt(6) == 0);
            System.arraycopy(data, 0, model, (int) off, len);
            java.util.Arrays.fill(written, (int) (off / 512), (int) ((off + len) / 512), true);
            if (r.nextInt(30) == 0) {
                e.flush();
            }
        }
        e.writeZeroes(8L << 20, 5L << 20, false);
        java.util.Arrays.fill(model, 8 << 20, 13 << 20, (byte) 0);
        java.util.Arrays.fill(written, (8 << 20) / 512, (13 << 20) / 512, true);
        e.close(); // persists every open kset, as dmsetup remove does
        Map<Long, byte[]> image = read(pmem.reopen(), dataCrc);
        for (int s = 0; s < written.length; s++) {
            byte[] want = java.util.Arrays.copyOfRange(model, s * 512, s * 512 + 512);
            byte[] got = image.get((long) s);
            if (written[s]) {
                if (got == null) {
                    fail("sector " + s + " was written through pcache but the image has no key for it");
                }
                assertArrayEquals(want, got, "sector " + s);
            } else if (got != null) {
                fail("sector " + s + " was never written but the image has a key for it");
            }
        }
    }
}
