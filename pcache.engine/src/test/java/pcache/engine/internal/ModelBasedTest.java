package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.Test;

import pcache.api.BlockDevice;
import pcache.api.CacheMode;
import pcache.engine.internal.engine.CacheEngine;
import pcache.engine.internal.engine.EngineConfig;
import pcache.writeback.internal.BatchingWritebackPolicy;
import pcache.writeback.internal.OrderedWritebackPolicy;

/**
 * The whole engine against a plain in-memory model of the logical device: random writes (small,
 * large, across 4 MiB slices, FUA or not), reads, flushes, trims, write-zeroes, GC threshold
 * changes, drains and re-opens, with a cache much smaller than the working set so write-back,
 * GC, deferral and segment reuse run all the time. At the end everything is written back and the
 * backing device must equal the model.
 *
 * <p>CI runs fixed seeds; {@code -Dpcache.test.long=true} runs many more (see docs/RELIABILITY.md).
 */
class ModelBasedTest {

    private static final int SECTOR = BlockDevice.SECTOR_SIZE;
    private static final long LOGICAL = 192 * Harness.MIB;
    private static final boolean LONG = Boolean.getBoolean("pcache.test.long");

    /** The model: the logical device's bytes, and which sectors were trimmed (content unspecified). */
    private static final class Model {
        final byte[] bytes = new byte[(int) LOGICAL];
        final boolean[] unknown = new boolean[(int) (LOGICAL / SECTOR)];

        void write(long off, byte[] data) {
            System.arraycopy(data, 0, bytes, (int) off, data.length);
            java.util.Arrays.fill(unknown, (int) (off / SECTOR), (int) ((off + data.length) / SECTOR), false);
        }

        void zero(long off, long len) {
            java.util.Arrays.fill(bytes, (int) off, (int) (off + len), (byte) 0);
            java.util.Arrays.fill(unknown, (int) (off / SECTOR), (int) ((off + len) / SECTOR), false);
        }

        void trim(long off, long len) {
            java.util.Arrays.fill(unknown, (int) (off / SECTOR), (int) ((off + len) / SECTOR), true);
        }

        void check(String what, long off, byte[] got) {
            for (int s = 0; s < got.length / SECTOR; s++) {
                int at = (int) (off / SECTOR) + s;
                if (unknown[at]) {
                    continue;
                }
                int base = at * SECTOR;
                for (int i = 0; i < SECTOR; i++) {
                    if (got[s * SECTOR + i] != bytes[base + i]) {
                        fail(what + ": sector " + at + " (offset " + (long) base + ") differs at byte " + i);
                    }
                }
            }
        }
    }

    /** {@code -Dpcache.model.seed=S}: {@link #fixedSeeds} runs only seed S (as a failure names it). */
    private static final Long ONLY_SEED = Long.getLong("pcache.model.seed");

    @Test
    void fixedSeeds() throws Exception {
        int runs = LONG ? 40 : 3;
        for (int seed = 1; seed <= runs; seed++) {
            if (ONLY_SEED == null || ONLY_SEED == seed) {
                run(seed, LONG ? 3000 : 700, false);
            }
        }
        if (ONLY_SEED != null && (ONLY_SEED < 1 || ONLY_SEED > runs)) {
            run(ONLY_SEED, LONG ? 3000 : 700, false);
        }
    }

    @Test
    void fixedSeedsWithDataCrc() throws Exception {
        run(101, LONG ? 3000 : 500, true);
    }

    /**
     * On a memory-mapped file: writes tried with a source receive their bytes straight into the
     * mapping (writable views), and every reopen maps the file again.
     */
    @Test
    void fixedSeedsOnAMappedFile() throws Exception {
        mappedFiles = dir;
        run(401, LONG ? 3000 : 500, true);
    }

    /**
     * On a memory-mapped file of 8 to 11 segments (the smallest that lend reads), two of five
     * reads that hit are lent as views ({@code tryReadView}); half of those are held open for the
     * 40 operations that follow (writes, also over their range, write-back, GC, drains), unless a
     * re-open comes first: when closed, a view must still hold what the model held when it was
     * read, and every other read must be right around them. (This run's cache reclaims few
     * segments while a view is held; that a pin keeps a reclaimed-and-reused segment's bytes is
     * {@code ReadViewTest}'s to show.)
     */
    @Test
    void fixedSeedsOnAMappedFileWithHeldReadViews() throws Exception {
        mappedFiles = dir;
        minSegments = 8;
        run(402, LONG ? 3000 : 500, false);
    }

    @Test
    void fixedSeedsWithBatchingWriteback() throws Exception {
        policy = () -> new BatchingWritebackPolicy(new BatchingWritebackPolicy.Settings(10, 5, 200, 8L << 20, 0));
        run(201, LONG ? 3000 : 500, false);
    }

    /**
     * Ordered write-back in groups of at most 64 KiB, with a tenth of the flushes and FUA writes:
     * flush intervals span several groups, so write-back leaves out versions later ksets of the
     * interval replace, across restarts.
     */
    @Test
    void fixedSeedsWithOrderedWritebackInSmallGroups() throws Exception {
        OrderedWritebackPolicy small = new OrderedWritebackPolicy(64 << 10, 1 << 16);
        // write-back waits until a drain or until the cache is half used, so that durable ksets
        // pile up behind dirty_tail and groups end at their size, not at the end of the log
        policy = () -> new pcache.api.spi.WritebackPolicy() {
            @Override
            public String name() {
                return small.name();
            }

            @Override
            public pcache.api.spi.WritebackOutcome step(pcache.api.spi.WritebackContext context)
                    throws java.io.IOException, InterruptedException {
                return context.draining() || context.usedPercent() >= 50 ? small.step(context)
                        : pcache.api.spi.WritebackOutcome.DEFERRED;
            }
        };
        barrierRarity = 10;
        run(301, LONG ? 3000 : 500, false);
    }

    @org.junit.jupiter.api.io.TempDir
    java.nio.file.Path dir;
    /** Where runs keep their cache device as a mapped file; null: a simulated device. */
    private java.nio.file.Path mappedFiles;

    private java.util.function.Supplier<pcache.api.spi.WritebackPolicy> policy = OrderedWritebackPolicy::new;
    /** Flushes and FUA writes are this many times rarer than by default. */
    private int barrierRarity = 1;
    /** The cache device has this many segments and up to three more. */
    private int minSegments = 5;

    /** A read view held open, with what the model held for its range when it was lent. */
    private record HeldView(String what, long offset, pcache.api.BlockDevice.ReadView view, byte[] expected,
            boolean[] unknown, int closeAt) {
        /** Checks the view's bytes against the model of its time, then closes it. */
        void checkAndClose() {
            try {
                byte[] got = new byte[expected.length];
                int at = 0;
                for (ByteBuffer b : view.buffers()) {
                    int n = b.remaining();
                    b.duplicate().get(got, at, n);
                    at += n;
                }
                for (int s = 0; s < unknown.length; s++) {
                    if (unknown[s]) {
                        continue;
                    }
                    for (int i = s * SECTOR; i < (s + 1) * SECTOR; i++) {
                        if (got[i] != expected[i]) {
                            fail(what + ": held view at " + offset + ": sector " + (offset / SECTOR + s)
                                    + " changed under the view at byte " + (i - s * SECTOR));
                        }
                    }
                }
            } finally {
                view.close();
            }
        }
    }

    /** Checks and closes every held view. */
    private static void closeHeld(List<HeldView> held) {
        try {
            for (HeldView h : held) {
                h.checkAndClose();
            }
        } finally {
            for (HeldView h : held) {
                h.view().close();
            }
            held.clear();
        }
    }

    /** One model run; whatever fails in it names the seed. */
    private void run(long seed, int operations, boolean dataCrc) throws Exception {
        try {
            runSeed(seed, operations, dataCrc);
        } catch (Exception | AssertionError e) {
            throw new AssertionError("model run seed " + seed + " (" + operations + " operations, data_crc " + dataCrc
                    + ") failed; fixedSeeds replays a seed with -Dpcache.model.seed=" + seed, e);
        }
    }

    private void runSeed(long seed, int operations, boolean dataCrc) throws Exception {
        Random r = new Random(seed);
        Model model = new Model();
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        // some pre-existing content on the backing device
        for (int i = 0; i < 20; i++) {
            long off = align(r.nextLong(LOGICAL - Harness.MIB));
            byte[] data = Harness.random(r, (int) Harness.MIB).array();
            backing.write(off, ByteBuffer.wrap(data), false);
            model.write(off, data);
        }
        BackingHolder holder = Harness.holder(backing);
        EngineConfig cfg = Harness.config("model").withDataCrc(dataCrc).withGcPercent(r.nextInt(91));
        long deviceBytes = Harness.deviceBytes(minSegments + r.nextInt(4));
        java.nio.file.Path file = mappedFiles == null ? null : mappedFiles.resolve("model-" + seed + ".img");
        // a simulated device claims writable views without having any: tryWriteFrom takes its
        // scratch-buffer way there, and the view's way on a mapped file
        pcache.api.spi.PmemRegion pmem = file == null ? new SimulatedPmem(deviceBytes, false).claimViews()
                : new pcache.pmem.internal.MappedPmemProvider().open(file, deviceBytes);
        CacheEngine e = Harness.open(cfg, pmem, holder, policy.get());
        String where = "seed " + seed;
        List<HeldView> held = new ArrayList<>();
        boolean lend = minSegments >= 8;
        int lent = 0;
        int heldOn = 0;
        try {
            for (int op = 0; op < operations; op++) {
                String at = where + " op " + op;
                // a held view is closed (and checked) 40 operations after it was lent
                if (!held.isEmpty() && op >= held.get(0).closeAt()) {
                    held.remove(0).checkAndClose();
                }
                int kind = r.nextInt(100);
                if (kind < 45) {
                    long off = randomOffset(r);
                    int len = randomLength(r, off);
                    byte[] data = Harness.random(r, len).array();
                    boolean fua = r.nextInt(5 * barrierRarity) == 0;
                    // two of three go the ways the NBD export's reader does: try first, with a
                    // copy or with the bytes placed by a source
                    if (!tryFirst(op, off, data, fua, e::tryWrite, e::tryWriteFrom)) {
                        e.write(off, ByteBuffer.wrap(data), fua);
                    }
                    model.write(off, data);
                } else if (kind < 80) {
                    long off = randomOffset(r);
                    int len = randomLength(r, off);
                    pcache.api.BlockDevice.ReadView view = lend && op % 5 < 2 ? e.tryReadView(off, len) : null;
                    if (view != null) {
                        HeldView h = new HeldView(at + " read", off, view,
                                java.util.Arrays.copyOfRange(model.bytes, (int) off, (int) off + len),
                                java.util.Arrays.copyOfRange(model.unknown, (int) (off / SECTOR),
                                        (int) ((off + len) / SECTOR)), op + 40);
                        held.add(h);
                        lent++;
                        heldOn += op % 5 == 0 ? 0 : 1;
                        if (op % 5 == 0) {
                            held.remove(h);
                            h.checkAndClose(); // lent and sent at once
                        }
                        continue;
                    }
                    ByteBuffer got = ByteBuffer.allocate(len);
                    if (op % 2 == 1 || !e.tryRead(off, got)) {
                        got.clear();
                        e.read(off, got);
                    }
                    model.check(at + " read", off, got.array());
                } else if (kind < 85) {
                    if (barrierRarity == 1 || r.nextInt(barrierRarity) == 0) {
                        e.flush();
                    }
                } else if (kind < 89) {
                    long off = randomOffset(r);
                    long len = Math.min(LOGICAL - off, align(1 + r.nextLong(20 * Harness.MIB)));
                    e.writeZeroes(off, len, r.nextBoolean());
                    model.zero(off, len);
                } else if (kind < 92) {
                    long off = randomOffset(r);
                    int len = randomLength(r, off);
                    e.trim(off, len);
                    model.trim(off, len);
                } else if (kind < 94) {
                    e.setGcPercent(r.nextInt(91));
                } else if (kind < 96) {
                    e.drain(null);
                } else if (kind < 98) {
                    closeHeld(held); // views are closed before their device is
                    e.close();
                    pmem = file == null ? ((SimulatedPmem) pmem).reopen()
                            : new pcache.pmem.internal.MappedPmemProvider().open(file, 0);
                    e = Harness.open(cfg, pmem, holder, policy.get());
                } else {
                    // a full sweep of some region
                    long off = align(r.nextLong(LOGICAL - 8 * Harness.MIB));
                    model.check(at + " sweep", off, Harness.read(e, off, (int) (8 * Harness.MIB)));
                }
            }
            closeHeld(held);
            assertEquals(0, e.readViewPins(), where + " pins left by closed views");
            if (lend) {
                // the run must have lent reads and held some of them open across other operations
                assertTrue(lent >= 5 && heldOn >= 3, where + ": " + lent + " views lent, " + heldOn + " held on");
            }
            e.drain(null);
            // everything is on the backing device now, and the cache still reads right
            for (long off = 0; off < LOGICAL; off += 8 * Harness.MIB) {
                model.check(where + " final cache read", off, Harness.read(e, off, (int) (8 * Harness.MIB)));
                model.check(where + " final backing content", off, backing.content(off, (int) (8 * Harness.MIB)));
            }
            assertEquals(0, e.statistics().dirtyBytes(), where + " dirty bytes after drain");
        } finally {
            held.forEach(h -> h.view().close()); // unchecked: a failure in flight stays the one reported
            e.close();
        }
    }

    /**
     * Several writer threads on disjoint regions, with readers, through the facade: the index,
     * ksets, data heads and the request gate under contention.
     */
    @Test
    void concurrentWritersOnDisjointRegions() throws Exception {
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        BackingHolder holder = Harness.holder(backing);
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(6), false).claimViews();
        CacheEngine engine = Harness.open(Harness.config("conc").withGcPercent(20), pmem, holder,
                new OrderedWritebackPolicy());
        CacheDeviceFacade dev = new CacheDeviceFacade(engine, holder, CacheMode.WRITEBACK);
        int threads = 4;
        long region = LOGICAL / threads;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        List<Future<byte[]>> results = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            long base = t * region;
            long seed = 1000 + t;
            results.add(pool.submit(() -> {
                Random r = new Random(seed);
                byte[] mine = new byte[(int) region];
                for (int i = 0; i < (LONG ? 4000 : 600); i++) {
                    long off = align(r.nextLong(region - 256 * 1024));
                    int len = SECTOR * (1 + r.nextInt(512));
                    if (r.nextInt(3) == 0) {
                        ByteBuffer buffer = ByteBuffer.allocate(len);
                        if (i % 2 == 1 || !dev.tryRead(base + off, buffer)) {
                            buffer.clear();
                            dev.read(base + off, buffer);
                        }
                        byte[] got = buffer.array();
                        for (int b = 0; b < len; b++) {
                            if (got[b] != mine[(int) off + b]) {
                                throw new AssertionError("thread region " + base + ": byte " + (off + b) + " differs");
                            }
                        }
                    } else {
                        byte[] data = Harness.random(r, len).array();
                        boolean fua = r.nextInt(8) == 0;
                        if (!tryFirst(i, base + off, data, fua, dev::tryWrite, dev::tryWriteFrom)) {
                            dev.write(base + off, ByteBuffer.wrap(data), fua);
                        }
                        System.arraycopy(data, 0, mine, (int) off, len);
                        if (r.nextInt(50) == 0) {
                            dev.flush();
                        }
                    }
                }
                return mine;
            }));
        }
        try {
            List<byte[]> expected = new ArrayList<>();
            for (Future<byte[]> f : results) {
                expected.add(f.get());
            }
            dev.drain(null);
            for (int t = 0; t < threads; t++) {
                long base = t * region;
                for (long off = 0; off < region; off += 8 * Harness.MIB) {
                    int len = (int) Math.min(8 * Harness.MIB, region - off);
                    byte[] want = java.util.Arrays.copyOfRange(expected.get(t), (int) off, (int) off + len);
                    byte[] got = backing.content(base + off, len);
                    if (!java.util.Arrays.equals(want, got)) {
                        fail("backing differs in region " + t + " at " + off);
                    }
                }
            }
        } finally {
            pool.shutdownNow();
            dev.close();
        }
    }

    /** A device's {@code tryWrite}. */
    @FunctionalInterface
    interface TryWrite {
        boolean tryWrite(long offset, ByteBuffer src, boolean fua) throws java.io.IOException;
    }

    /** A device's {@code tryWriteFrom}. */
    @FunctionalInterface
    interface TryWriteFrom {
        boolean tryWriteFrom(long offset, int length, boolean fua, pcache.api.BlockDevice.WriteSource source)
                throws java.io.IOException;
    }

    /**
     * Operation {@code op} tried without waiting: with a copy ({@code op % 3 == 0}), with the
     * bytes placed by a source ({@code op % 3 == 1}), or not at all. False when the caller must
     * write the bytes with {@code write}.
     */
    private static boolean tryFirst(int op, long off, byte[] data, boolean fua, TryWrite copy, TryWriteFrom placed)
            throws java.io.IOException {
        switch (op % 3) {
            case 0:
                return copy.tryWrite(off, ByteBuffer.wrap(data), fua);
            case 1:
                int[] taken = {0};
                return placed.tryWriteFrom(off, data.length, fua, dst -> {
                    int n = dst.remaining();
                    dst.put(data, taken[0], n);
                    taken[0] += n;
                });
            default:
                return false;
        }
    }

    private static long align(long v) {
        return v / SECTOR * SECTOR;
    }

    private static long randomOffset(Random r) {
        // cluster half the traffic near a few hot spots so overwrites and overlaps are common
        if (r.nextBoolean()) {
            long hot = (r.nextInt(4) + 1) * 16 * Harness.MIB;
            return align(hot + r.nextInt((int) (2 * Harness.MIB)) - Harness.MIB);
        }
        return align(r.nextLong(LOGICAL - 4 * Harness.MIB));
    }

    private static int randomLength(Random r, long off) {
        int len;
        switch (r.nextInt(10)) {
            case 0:
                len = (int) (Harness.MIB + r.nextInt((int) (3 * Harness.MIB)));
                break;
            case 1:
            case 2:
                len = 64 * 1024 + r.nextInt(512 * 1024);
                break;
            default:
                len = SECTOR * (1 + r.nextInt(32));
        }
        len = (int) align(len);
        return (int) Math.min(len, LOGICAL - off);
    }
}
