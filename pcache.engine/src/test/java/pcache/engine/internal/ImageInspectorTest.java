package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import pcache.api.CacheImageTool.FsckReport;
import pcache.api.CachePos;
import pcache.api.format.PcacheFormat;
import pcache.api.spi.PmemRegion;
import pcache.engine.internal.engine.CacheEngine;
import pcache.engine.internal.engine.EngineConfig;
import pcache.engine.internal.image.Extents;
import pcache.engine.internal.image.ImageInspector;
import pcache.engine.internal.image.ImageSlots;
import pcache.engine.internal.media.CachePosCodec;
import pcache.pmem.internal.MappedPmemProvider;
import pcache.writeback.internal.OrderedWritebackPolicy;

/**
 * The offline image tool on images the Linux kernel wrote, on images pcache formats itself, and
 * on damaged copies of them: every class of damage is reported with the structure and its device
 * offset, errors apart from warnings, without stopping at the first problem.
 */
class ImageInspectorTest {

    private static final long LOGICAL = 64 * Harness.MIB;
    private static final int SEGMENTS = 8; // few enough in use that GC stays idle
    private static final long KSET0 = PcacheFormat.segmentOffset(0) + PcacheFormat.SEG_DATA_OFF;

    @TempDir
    Path dir;

    private final ImageInspector tool = new ImageInspector(Harness.CRC);

    // ---------------------------------------------------------------- kernel images

    /** The fixture's cache device, gunzipped to a sparse file (it is mostly zeroes). */
    private Path kernelImage(String set) throws IOException {
        Path file = dir.resolve(set + "-cachedev.img");
        try (InputStream in = new GZIPInputStream(resource(set + "/cachedev.img.gz"), 1 << 16);
                FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            byte[] chunk = new byte[1 << 16];
            long at = 0;
            boolean lastWritten = false;
            for (int n; (n = in.readNBytes(chunk, 0, chunk.length)) > 0; at += n) {
                lastWritten = !ImageSlots.allZero(n == chunk.length ? chunk : java.util.Arrays.copyOf(chunk, n));
                if (lastWritten) {
                    out.write(ByteBuffer.wrap(chunk, 0, n), at);
                }
            }
            if (!lastWritten) {
                out.write(ByteBuffer.allocate(1), at - 1); // give the file its full size
            }
        }
        return file;
    }

    private static InputStream resource(String name) {
        InputStream in = ImageInspectorTest.class.getResourceAsStream("/dm-pcache-kernel/" + name);
        assertNotNull(in, "fixture " + name + " is missing");
        return in;
    }

    /**
     * The writes of a fixture's manifest as 4 KiB pages: the fixture wrote through the page cache
     * of the device-mapper device, so a partial page was read and written back whole.
     */
    private static List<long[]> manifestWritePages(String set) throws IOException {
        String json;
        try (InputStream in = resource(set + "/manifest.json")) {
            json = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        Matcher m = Pattern.compile("\"kind\": \"write\",\\s*\"op\": \\d+,\\s*\"offset\": (\\d+),\\s*\"length\": (\\d+)")
                .matcher(json);
        List<long[]> extents = new ArrayList<>();
        while (m.find()) {
            long off = Long.parseLong(m.group(1));
            long end = off + Long.parseLong(m.group(2));
            extents.add(new long[] {off & ~4095L, (end + 4095) & ~4095L});
        }
        assertFalse(extents.isEmpty(), "no writes in the manifest of " + set);
        return extents;
    }

    @Test
    void kernelDirtyImageShowsItsThreeKsetsAndIsDirtyAsTheManifestSays() throws Exception {
        Path image = kernelImage("dirty-nocrc");
        String text = tool.inspect(image, false);
        assertTrue(text.contains("superblock at 4096: magic ok, crc ok"), text);
        assertTrue(text.contains("slot 1 at 12288: seq 1, crc ok: first segment 0, 47 segments, flags 0x1182"
                + " (no data_crc, init_done, mode writeback, gc_percent 70)  <- current"), text);
        assertTrue(text.contains("pcache extension (slots at 0 and 2048): none"), text);
        assertTrue(text.contains("  0-45      physical 0-45      type 1, next: the following"), text);
        assertTrue(text.contains("\n  0:0         kset 128 keys  crc ok  dirty\n"), text);
        assertTrue(text.contains("\n  0:5144      kset   8 keys  crc ok  dirty\n"), text);
        assertTrue(text.contains("\n  0:5488      kset  75 keys  crc ok  dirty\n"), text);
        assertTrue(text.contains("end of log at 0:8512 (device offset 41280): zero header"), text);
        assertTrue(text.contains("segments in use: 3 (key log 0; data 1-2)"), text);
        assertTrue(text.endsWith("problems: none\n"), text);
        assertFalse(text.contains("#0 "), "no keys without --keys");

        String withKeys = tool.inspect(image, true);
        assertEquals(211, withKeys.lines().filter(l -> l.startsWith("      #")).count(), withKeys);
        assertTrue(withKeys.contains("      #0   off 0            len 65536    flags -     at 1:0          gen 0"
                + "    data_crc 0x00000000  dirty"), withKeys);
        assertTrue(withKeys.contains("flags CLEAN"), "the read-miss fill is a CLEAN key");

        FsckReport report = tool.fsck(image);
        assertTrue(report.ok(), report.report());
        assertEquals(List.of(), report.warnings());
        List<long[]> pages = manifestWritePages("dirty-nocrc");
        assertEquals(pages.stream().mapToLong(p -> p[1] - p[0]).sum(), report.dirtyBytes());
        List<long[]> expectedRanges = Extents.merge(pages);
        assertEquals(expectedRanges.size(), report.dirtyRanges().size());
        for (int i = 0; i < expectedRanges.size(); i++) {
            assertArrayEquals(expectedRanges.get(i), report.dirtyRanges().get(i), "range " + i);
        }
        assertTrue(report.report().startsWith("fsck of " + image + ": ok\n"), report.report());

        // the engine replaying the same image counts the same dirty bytes
        SimulatedPmem pmem;
        try (InputStream in = Files.newInputStream(image)) {
            pmem = SimulatedPmem.load(Files.size(image), in, false);
        }
        CacheEngine e = Harness.open(EngineConfig.defaults("kernel").withStreams(2), pmem,
                Harness.holder(new MemoryBacking(536870912L, "kernel-backing", false)), null);
        try {
            assertEquals(e.statistics().dirtyBytes(), report.dirtyBytes());
        } finally {
            e.close();
        }
    }

    @Test
    void kernelCleanImageHasNothingDirty() throws Exception {
        Path image = kernelImage("clean-nocrc");
        String text = tool.inspect(image, false);
        assertTrue(text.contains("slot 0 at 16416: seq 5, crc ok: 0:8536  <- current"), text);
        assertTrue(text.contains("\n  0:0         kset  38 keys  crc ok  written back\n"), text);
        assertTrue(text.contains("-- dirty_tail 0:8536: ksets from here are not written back yet --"), text);
        assertTrue(text.contains("end of log at 0:8536 (device offset 41304): zero header"), text);
        FsckReport report = tool.fsck(image);
        assertTrue(report.ok(), report.report());
        assertEquals(0, report.dirtyBytes());
        assertEquals(List.of(), report.dirtyRanges());
        assertEquals(List.of(), report.warnings());
    }

    @Test
    void aMissingImageIsAnErrorNamingIt() {
        Path missing = dir.resolve("nope.img");
        NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> tool.inspect(missing, false));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
    }

    @Test
    void aBlankFileIsNotACache() throws Exception {
        Path blank = dir.resolve("blank.img");
        try (FileChannel ch = FileChannel.open(blank, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(1), Harness.deviceBytes(SEGMENTS) - 1);
        }
        FsckReport r = tool.fsck(blank);
        assertEquals(1, r.errors().size(), r.report());
        assertTrue(r.errors().get(0).startsWith("superblock at 4096: magic 0: the image was never formatted"),
                r.report());
    }

    // ---------------------------------------------------------------- images pcache writes

    /**
     * A cache formatted by the engine on a mapped file, closed cleanly: 64 KiB at 0, optionally
     * written back, then 8 KiB at 64 KiB and 4 KiB at 4 KiB (overwriting part of the first extent)
     * left dirty. Write-back runs only while draining (no policy otherwise), so what is dirty is
     * deterministic.
     */
    private Path pcacheImage(boolean dataCrc, boolean drainFirstWrite) throws Exception {
        Path file = dir.resolve("cache-" + dataCrc + "-" + drainFirstWrite + ".img");
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk0", false);
        EngineConfig config = Harness.config("img").withDataCrc(dataCrc).withKsetFlushDelayMillis(60_000);
        CacheEngine e = Harness.open(config, new MappedPmemProvider().open(file, Harness.deviceBytes(SEGMENTS)),
                Harness.holder(backing), drainFirstWrite ? new OrderedWritebackPolicy() : null);
        try {
            e.write(0, Harness.pattern(0, 65536, 1), false);
            e.flush();
            if (drainFirstWrite) {
                e.drain(null);
            }
        } finally {
            e.close();
        }
        e = Harness.open(config, new MappedPmemProvider().open(file, 0), Harness.holder(backing), null);
        try {
            e.write(65536, Harness.pattern(65536, 8192, 2), false);
            e.write(4096, Harness.pattern(4096, 4096, 3), false);
            e.flush();
        } finally {
            e.close();
        }
        return file;
    }

    @Test
    void pcacheImageWithDataCrcChecksEveryExtent() throws Exception {
        Path image = pcacheImage(true, true);
        String text = tool.inspect(image, true);
        assertTrue(text.contains("(data_crc, init_done, mode writeback, gc_percent 70)"), text);
        assertTrue(text.contains("  backing identity: disk0 (" + LOGICAL + " bytes)"), text);
        assertTrue(text.contains("  quarantine: none"), text);
        assertTrue(text.contains("  0:0         kset   1 keys  crc ok  written back\n"), text);
        assertTrue(text.contains("-- dirty_tail 0:64: ksets from here are not written back yet --"), text);
        assertTrue(text.contains("data CRC: on (not verified by inspect; fsck verifies it)"), text);

        FsckReport r = tool.fsck(image);
        assertTrue(r.ok(), r.report());
        assertEquals(List.of(), r.warnings(), r.report());
        assertEquals(8192 + 4096, r.dirtyBytes());
        assertEquals(2, r.dirtyRanges().size());
        assertArrayEquals(new long[] {4096, 4096}, r.dirtyRanges().get(0));
        assertArrayEquals(new long[] {65536, 8192}, r.dirtyRanges().get(1));
        assertTrue(r.report().contains("data CRC: 3 extents (77824 bytes) verified, 0 mismatch(es)"), r.report());
    }

    @Test
    void inspectAndFsckNeverWrite() throws Exception {
        Path image = pcacheImage(true, false);
        FileTime before = Files.getLastModifiedTime(image);
        byte[] digest = digest(image);
        tool.inspect(image, true);
        tool.fsck(image);
        assertEquals(before, Files.getLastModifiedTime(image));
        assertArrayEquals(digest, digest(image));
    }

    private static byte[] digest(Path file) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 20];
            for (int n; (n = in.read(buf)) > 0;) {
                md.update(buf, 0, n);
            }
        }
        return md.digest();
    }

    // ---------------------------------------------------------------- damage

    private static void write(Path file, long offset, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(bytes), offset);
        }
    }

    /**
     * Rewrites the first kset of {@code image} with {@code edit} applied to it (little-endian; its
     * key 0 at {@code KSET_HEADER_SIZE}), its CRC made valid again.
     */
    private static void editFirstKset(Path image, java.util.function.Consumer<ByteBuffer> edit) throws IOException {
        byte[] header = read(image, KSET0, PcacheFormat.KSET_HEADER_SIZE);
        int keys = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN).getInt(4);
        byte[] kset = read(image, KSET0, PcacheFormat.KSET_HEADER_SIZE + keys * PcacheFormat.KEY_SIZE);
        ByteBuffer b = ByteBuffer.wrap(kset).order(ByteOrder.LITTLE_ENDIAN);
        edit.accept(b);
        b.putInt(0, Harness.CRC.checksum(kset, 4, kset.length - 4));
        write(image, KSET0, kset);
    }

    /** The open of {@code image} fails; its error. */
    private static pcache.api.CorruptMediaException refusedToOpen(Path image) {
        return assertThrows(pcache.api.CorruptMediaException.class, () -> Harness.open(
                Harness.config("img").withKsetFlushDelayMillis(60_000), new MappedPmemProvider().open(image, 0),
                Harness.holder(new MemoryBacking(LOGICAL, "disk0", false)), null));
    }

    private static byte[] read(Path file, long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ch.read(b, offset);
        }
        return b.array();
    }

    private static void flip(Path file, long offset) throws IOException {
        byte[] b = read(file, offset, 1);
        b[0] ^= 0x40;
        write(file, offset, b);
    }

    /** A record with its header sealed: seq, then the CRC over bytes 4..end. */
    private static byte[] sealed(byte[] record, int seq) {
        record[4] = (byte) seq;
        ByteBuffer.wrap(record).order(ByteOrder.LITTLE_ENDIAN).putInt(0, Harness.CRC.checksum(record, 4, record.length - 4));
        return record;
    }

    private static String only(List<String> problems, String prefix) {
        List<String> matching = problems.stream().filter(p -> p.startsWith(prefix)).toList();
        assertEquals(1, matching.size(), "expected one problem starting with '" + prefix + "' in " + problems);
        return matching.get(0);
    }

    @Test
    void damagedSuperblockIsAnErrorAndTheRestIsStillRead() throws Exception {
        Path image = pcacheImage(false, false);
        flip(image, PcacheFormat.SB_OFF + 20); // the padding: only the CRC notices
        FsckReport r = tool.fsck(image);
        assertFalse(r.ok());
        only(r.errors(), "superblock at 4096: CRC mismatch");
        assertEquals(65536 + 8192 + 4096, r.dirtyBytes(), "the key log is still read");
    }

    @Test
    void bothCacheInfoSlotsDamagedIsAnError() throws Exception {
        Path image = pcacheImage(false, false);
        flip(image, PcacheFormat.CACHE_INFO_OFF + 9);
        flip(image, PcacheFormat.CACHE_INFO_OFF + PcacheFormat.CACHE_INFO_SLOT_STRIDE + 9);
        FsckReport r = tool.fsck(image);
        String e = only(r.errors(), "cache_info at 8192: neither slot holds a valid record");
        assertTrue(e.contains("cannot be opened"), e);
        assertTrue(r.warnings().isEmpty(), r.warnings().toString());
    }

    @Test
    void aDamagedSpareSlotIsOnlyAWarning() throws Exception {
        Path image = pcacheImage(false, false);
        // cache_info: a fresh cache writes slot 1, later updates alternate; damage the one not current
        String text = tool.inspect(image, false);
        int currentInfo = text.contains("slot 0 at 8192: seq") && text.lines()
                .anyMatch(l -> l.startsWith("  slot 0 at 8192:") && l.endsWith("<- current")) ? 0 : 1;
        int spareInfo = 1 - currentInfo;
        long spareAt = PcacheFormat.CACHE_INFO_OFF + (long) spareInfo * PcacheFormat.CACHE_INFO_SLOT_STRIDE;
        if (ImageSlots.allZero(read(image, spareAt, PcacheFormat.CACHE_INFO_STRUCT_SIZE))) {
            write(image, spareAt, new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
        } else {
            flip(image, spareAt + 9);
        }
        // key_tail: slot 0 is current on a cache that never ran GC; damage slot 1
        write(image, PcacheFormat.KEY_TAIL_OFF + PcacheFormat.POS_STRUCT_SIZE, new byte[] {9, 9, 9, 9, 9});
        FsckReport r = tool.fsck(image);
        assertTrue(r.ok(), r.report());
        only(r.warnings(), "cache_info slot " + spareInfo + " at " + spareAt + ": CRC mismatch: a damaged spare copy");
        only(r.warnings(), "key_tail slot 1 at 16400: CRC mismatch: a damaged spare copy (the cache uses slot 0)");
        assertEquals(2, r.warnings().size(), r.warnings().toString());
    }

    @Test
    void bothKeyTailSlotsDamagedIsAnError() throws Exception {
        Path image = pcacheImage(false, false);
        write(image, PcacheFormat.KEY_TAIL_OFF + PcacheFormat.POS_STRUCT_SIZE, new byte[] {9, 9, 9, 9, 9});
        flip(image, PcacheFormat.KEY_TAIL_OFF + 9);
        FsckReport r = tool.fsck(image);
        only(r.errors(), "key_tail at 16384: neither slot holds a valid record");
        assertTrue(tool.inspect(image, false).contains("key log: not read (no usable key_tail)"));
    }

    @Test
    void aBrokenSegmentChainIsAnErrorNamingTheSegment() throws Exception {
        Path image = pcacheImage(false, false);
        long seg1 = PcacheFormat.segmentOffset(1);
        flip(image, seg1 + 9);
        flip(image, seg1 + PcacheFormat.SEG_INFO_SLOT_STRIDE + 9);
        FsckReport r = tool.fsck(image);
        only(r.errors(), "segment_info of cache segment 1 (physical 1) at " + seg1
                + ": neither slot holds a valid record; the chain cannot be followed");
        assertEquals(1, r.errors().size(), "the rest is read assuming the usual order: " + r.errors());
        assertEquals(65536 + 8192 + 4096, r.dirtyBytes());
    }

    @Test
    void aChainLinkingBackIsAnError() throws Exception {
        Path image = pcacheImage(false, false);
        // segment 1's info links to physical 0, which is already in the chain
        byte[] info = new byte[PcacheFormat.SEG_INFO_STRUCT_SIZE];
        ByteBuffer b = ByteBuffer.wrap(info).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(8, PcacheFormat.SEG_INFO_FLAG_HAS_NEXT | (PcacheFormat.SEG_TYPE_CACHE_DATA << 1));
        b.putInt(12, 0);
        long seg1 = PcacheFormat.segmentOffset(1);
        write(image, seg1, sealed(info.clone(), 100));
        write(image, seg1 + PcacheFormat.SEG_INFO_SLOT_STRIDE, sealed(info.clone(), 101));
        FsckReport r = tool.fsck(image);
        only(r.errors(), "segment_info of cache segment 1 (physical 1) at " + (seg1 + PcacheFormat.SEG_INFO_SLOT_STRIDE)
                + " links cache segment 2 to physical segment 0, which is already in the chain");
    }

    @Test
    void aGenerationWithBothSlotsBadIsAnError() throws Exception {
        Path image = pcacheImage(false, false);
        long gen = PcacheFormat.segmentOffset(2) + PcacheFormat.SEG_GEN_OFF;
        write(image, gen, new byte[] {7, 7, 7, 7, 7, 7, 7, 7, 7, 7});
        write(image, gen + PcacheFormat.SEG_GEN_STRUCT_SIZE, new byte[] {7, 7, 7, 7, 7, 7, 7, 7, 7, 7});
        FsckReport r = tool.fsck(image);
        only(r.errors(), "segment generation of cache segment 2 (physical 2) at " + gen
                + ": neither slot holds a valid record");
    }

    @Test
    void aNewerGenerationMakesKeysStaleAWarning() throws Exception {
        Path image = pcacheImage(false, false);
        for (int seg = 1; seg < SEGMENTS; seg++) {
            long gen = PcacheFormat.segmentOffset(seg) + PcacheFormat.SEG_GEN_OFF;
            byte[] record = new byte[PcacheFormat.SEG_GEN_STRUCT_SIZE];
            ByteBuffer.wrap(record).order(ByteOrder.LITTLE_ENDIAN).putLong(8, 5);
            write(image, gen, sealed(record.clone(), 50));
            write(image, gen + PcacheFormat.SEG_GEN_STRUCT_SIZE, sealed(record.clone(), 51));
        }
        FsckReport r = tool.fsck(image);
        assertTrue(r.ok(), r.report());
        only(r.warnings(), "3 stale key(s)");
        assertEquals(0, r.dirtyBytes(), "stale keys are not dirty");
    }

    @Test
    void aDirtyTailOffTheLogIsAnError() throws Exception {
        Path image = pcacheImage(false, false);
        byte[] pos = CachePosCodec.encode(new CachePos(0, 40));
        write(image, PcacheFormat.DIRTY_TAIL_OFF + PcacheFormat.POS_STRUCT_SIZE, sealed(pos, 2));
        FsckReport r = tool.fsck(image);
        only(r.errors(), "dirty_tail at 16416 points to 0:40, which is not on the key log from key_tail 0:0");
    }

    @Test
    void aKeyPointingOutsideTheCacheIsAnError() throws Exception {
        Path image = pcacheImage(false, false);
        // rewrite key 0 of the first kset to point to cache segment 99, with a valid kset CRC
        editFirstKset(image, b -> b.putInt(PcacheFormat.KSET_HEADER_SIZE + 16, 99));
        FsckReport r = tool.fsck(image);
        only(r.errors(), "key 0 of the kset at 0:0 (device offset " + (KSET0 + PcacheFormat.KSET_HEADER_SIZE)
                + ") points to cache segment 99, outside the cache's 8 segments");
    }

    /**
     * A key (with a valid kset CRC) that does not cover whole sectors at a sector offset of its
     * segment is an error, in fsck and at open: dm-pcache never writes one, and its write-back and
     * reads would fail on a backing device that takes whole sectors only, forever. Before, both
     * took it.
     */
    @Test
    void aKeyNotOnWholeSectorsIsAnErrorAndTheCacheDoesNotOpen() throws Exception {
        Path image = pcacheImage(false, false);
        int at = PcacheFormat.KSET_HEADER_SIZE + pcache.api.format.PcacheLayout.Key.LEN;
        int[] length = new int[1];
        editFirstKset(image, b -> {
            length[0] = b.getInt(at) - 1;
            b.putInt(at, length[0]);
        });
        FsckReport r = tool.fsck(image);
        assertTrue(r.errors().stream().anyMatch(e -> e.startsWith("key 0 of the kset at 0:0") && e.contains(
                "length " + length[0]) && e.contains("not all multiples of 512")), r.errors() + "\n" + r.report());
        pcache.api.CorruptMediaException refused = refusedToOpen(image);
        assertTrue(refused.getMessage().contains("not all multiples of 512"), refused.getMessage());
    }

    /**
     * A key (with a valid kset CRC) whose end is exactly 2^63, where its end overflows to a
     * negative number and so passed the checks of its end: an error in fsck, and the open names
     * the key. Before, fsck passed it and the open failed with an IndexOutOfBoundsException.
     */
    @Test
    void aKeyEndingAtTwoToTheSixtyThirdIsAnErrorAndTheCacheDoesNotOpen() throws Exception {
        Path image = pcacheImage(false, false);
        editFirstKset(image, b -> {
            b.putInt(PcacheFormat.KSET_HEADER_SIZE + pcache.api.format.PcacheLayout.Key.LEN, 512);
            b.putLong(PcacheFormat.KSET_HEADER_SIZE + pcache.api.format.PcacheLayout.Key.OFF, Long.MAX_VALUE - 511);
        });
        FsckReport r = tool.fsck(image);
        assertTrue(r.errors().stream().anyMatch(e -> e.startsWith("key 0 of the kset at 0:0")
                && e.contains(Long.toString(Long.MAX_VALUE - 511))), r.errors() + "\n" + r.report());
        pcache.api.CorruptMediaException refused = refusedToOpen(image);
        assertTrue(refused.getMessage().contains("key 0 of the kset at 0:0"), refused.getMessage());
    }

    /**
     * A key of its segment's current generation into the segment that holds the key log: fsck
     * reports it as the open does (GcCrashOrderTest). Before, fsck passed the image.
     */
    @Test
    void aCurrentKeyIntoASegmentOfTheKeyLogIsAnError() throws Exception {
        Path image = pcacheImage(false, false);
        editFirstKset(image, b -> {
            b.putInt(PcacheFormat.KSET_HEADER_SIZE + pcache.api.format.PcacheLayout.Key.SEG, 0);
            b.putLong(PcacheFormat.KSET_HEADER_SIZE + pcache.api.format.PcacheLayout.Key.GEN, 0);
        });
        FsckReport r = tool.fsck(image);
        only(r.errors(), "the key at device offset " + (KSET0 + PcacheFormat.KSET_HEADER_SIZE) + " points into cache"
                + " segment 0 under its current generation, but that segment holds the key log");
    }

    /** fsck says what the engine does with a zeroed superblock over a cache: damage, not a blank device. */
    @Test
    void aZeroedSuperblockOverACacheIsDamageNotABlankDevice() throws Exception {
        Path image = pcacheImage(false, false);
        write(image, PcacheFormat.SB_OFF, new byte[PcacheFormat.SB_STRUCT_SIZE]);
        FsckReport r = tool.fsck(image);
        assertTrue(r.errors().stream().anyMatch(e -> e.contains("magic 0, but cache_info")
                && e.contains("refuses to open it")), r.errors().toString());
    }

    @Test
    void aTornLastKsetIsAWarningAndOneInTheMiddleAnError() throws Exception {
        Path image = pcacheImage(false, false);
        String text = tool.inspect(image, false);
        List<Long> ksets = text.lines().filter(l -> l.matches("  0:\\d+ +kset.*"))
                .map(l -> Long.parseLong(l.trim().split("[: ]")[1])).toList();
        assertTrue(ksets.size() >= 2, text);
        Path copy = dir.resolve("torn-middle.img");
        Files.copy(image, copy);

        flip(image, KSET0 + ksets.get(ksets.size() - 1) + PcacheFormat.KSET_HEADER_SIZE + 1);
        FsckReport torn = tool.fsck(image);
        assertTrue(torn.ok(), torn.report());
        String w = only(torn.warnings(), "kset at 0:" + ksets.get(ksets.size() - 1));
        assertTrue(w.contains("CRC mismatch") && w.contains("torn by a crash"), w);

        flip(copy, KSET0 + ksets.get(0) + PcacheFormat.KSET_HEADER_SIZE + 1);
        FsckReport middle = tool.fsck(copy);
        String e = only(middle.errors(), "kset at 0:0 (device offset " + KSET0 + ")");
        assertTrue(e.contains("damaged in the middle"), e);
    }

    @Test
    void lastKsetsAreFollowedAndALoopIsAnError() throws Exception {
        Path image = pcacheImage(false, false);
        String text = tool.inspect(image, false);
        Matcher end = Pattern.compile("end of log at 0:(\\d+) ").matcher(text);
        assertTrue(end.find(), text);
        long endOff = Long.parseLong(end.group(1));
        write(image, KSET0 + endOff, lastKset(3));
        String chained = tool.inspect(image, false);
        assertTrue(chained.contains(String.format("  %-11s LAST -> cache segment 3  crc ok  dirty", "0:" + endOff)),
                chained);
        assertTrue(chained.contains("end of log at 3:0 (device offset " + (PcacheFormat.segmentOffset(3)
                + PcacheFormat.SEG_DATA_OFF) + "): zero header"), chained);
        assertTrue(chained.contains("key segments 0, 3"), chained);
        assertTrue(tool.fsck(image).ok());

        write(image, PcacheFormat.segmentOffset(3) + PcacheFormat.SEG_DATA_OFF, lastKset(0));
        FsckReport loop = tool.fsck(image);
        only(loop.errors(), "kset at 3:0 (device offset " + (PcacheFormat.segmentOffset(3) + PcacheFormat.SEG_DATA_OFF)
                + "): the LAST kset links the key log back to cache segment 0");
    }

    private static byte[] lastKset(int next) {
        byte[] b = new byte[PcacheFormat.KSET_HEADER_SIZE];
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        bb.putInt(4, next);
        bb.putLong(8, PcacheFormat.KSET_MAGIC);
        bb.putLong(16, PcacheFormat.KSET_FLAG_LAST);
        bb.putInt(0, Harness.CRC.checksum(b, 4, b.length - 4));
        return b;
    }

    /** Key {@code index} of the kset at key-log segment 0 offset {@code ksetOffset}: its data's device offset. */
    private static long dataOffsetOfKey(Path image, long ksetOffset, int index) throws IOException {
        byte[] key = read(image, KSET0 + ksetOffset + PcacheFormat.KSET_HEADER_SIZE + (long) index * PcacheFormat.KEY_SIZE,
                PcacheFormat.KEY_SIZE);
        ByteBuffer b = ByteBuffer.wrap(key).order(ByteOrder.LITTLE_ENDIAN);
        return PcacheFormat.segmentOffset(b.getInt(16)) + PcacheFormat.SEG_DATA_OFF + b.getInt(20);
    }

    @Test
    void dataCrcFailuresAreErrorsWhenDirtyAndWarningsWhenWrittenBack() throws Exception {
        Path image = pcacheImage(true, true);
        // kset 0:0 holds the written-back first write; 0:64 the two dirty ones
        flip(image, dataOffsetOfKey(image, 0, 0) + 100);
        flip(image, dataOffsetOfKey(image, 64, 0) + 100);
        FsckReport r = tool.fsck(image);
        String e = only(r.errors(), "key 0 of the kset at 0:64");
        assertTrue(e.contains("data CRC mismatch") && e.contains("dirty data that is not on the backing device is lost"), e);
        String w = only(r.warnings(), "key 0 of the kset at 0:0");
        assertTrue(w.contains("data CRC mismatch") && w.contains("the backing device holds this data"), w);
        assertTrue(r.report().contains("data CRC: 3 extents (77824 bytes) verified, 2 mismatch(es)"), r.report());
    }

    /**
     * A damaged dirty extent that later writes in the log replaced is not lost: replay never reads
     * it, and the cache quarantines nothing. Before, fsck called it lost all the same (an error:
     * fsck failed, and pcache:remove refused the device). Replaced in part, the rest is lost.
     */
    @Test
    void aDamagedDirtyExtentReplacedByLaterWritesIsNotLost() throws Exception {
        for (int replaced : new int[] {8192, 4096}) {
            Path file = dir.resolve("replaced-" + replaced + ".img");
            CacheEngine e = Harness.open(Harness.config("img").withDataCrc(true).withKsetFlushDelayMillis(60_000),
                    new MappedPmemProvider().open(file, Harness.deviceBytes(SEGMENTS)),
                    Harness.holder(new MemoryBacking(LOGICAL, "disk0", false)), null);
            try {
                e.write(65536, Harness.pattern(65536, 8192, 1), false); // its kset at 0:0
                e.flush();
                e.write(65536, Harness.pattern(65536, replaced, 2), false); // its kset at 0:64
                e.flush();
            } finally {
                e.close();
            }
            flip(file, dataOffsetOfKey(file, 0, 0) + 100);
            FsckReport r = tool.fsck(file);
            if (replaced == 8192) {
                assertEquals(List.of(), r.errors(), r.report());
                String w = only(r.warnings(), "key 0 of the kset at 0:0");
                assertTrue(w.contains("data CRC mismatch") && w.contains("later writes in the log replaced all of it,"
                        + " so nothing is lost"), w);
            } else {
                String lost = only(r.errors(), "key 0 of the kset at 0:0");
                assertTrue(lost.endsWith("dirty data that is not on the backing device is lost (the cache quarantines"
                        + " it): [69632, +4096)"), lost);
            }
        }
    }

    @Test
    void severalProblemsAreAllReported() throws Exception {
        Path image = pcacheImage(false, false);
        flip(image, PcacheFormat.SB_OFF + 20); // the padding: only the CRC notices
        write(image, PcacheFormat.KEY_TAIL_OFF + PcacheFormat.POS_STRUCT_SIZE, new byte[] {9, 9, 9, 9, 9});
        long gen = PcacheFormat.segmentOffset(3) + PcacheFormat.SEG_GEN_OFF;
        write(image, gen, new byte[] {7, 7, 7, 7, 7, 7, 7, 7, 7, 7});
        write(image, gen + PcacheFormat.SEG_GEN_STRUCT_SIZE, new byte[] {7, 7, 7, 7, 7, 7, 7, 7, 7, 7});
        FsckReport r = tool.fsck(image);
        assertEquals(2, r.errors().size(), r.report());
        assertEquals(1, r.warnings().size(), r.report());
        assertTrue(r.report().contains("errors (2):\n  - superblock at 4096"), r.report());
    }

    /**
     * A device a running cache has open (it holds the device's write lock, as
     * {@code PcacheTargetComponent} takes it) is not checked (nor inspected: the same open), after
     * 5 s given to a cache being closed: its write-back and GC change the image while it is read. Before, fsck read it anyway and could report damage
     * that was not there. Once the lock is gone, it is read as before.
     */
    @Test
    void aDeviceARunningCacheHasOpenIsNotReadUntilItIsClosed() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(pcache.io.lock.DeviceFileLock.supportedPlatform(),
                "device locks exist on 64-bit x86 and ARM Linux only");
        Path image = kernelImage("dirty-nocrc");
        Path copy = java.nio.file.Files.copy(image, dir.resolve("in-use.img"));
        pcache.io.lock.DeviceFileLock.Outcome held = pcache.io.lock.DeviceFileLock.tryLock(copy);
        assertTrue(held instanceof pcache.io.lock.DeviceFileLock.Locked, held.toString());
        try {
            IOException fsck = assertThrows(IOException.class, () -> tool.fsck(copy));
            assertTrue(fsck.getMessage().startsWith(copy + " is in use: a running cache has it open"), fsck.getMessage());
        } finally {
            ((pcache.io.lock.DeviceFileLock.Locked) held).lock().close();
        }
        assertTrue(tool.inspect(copy, false).contains("superblock at 4096: magic ok, crc ok"));
    }
}
