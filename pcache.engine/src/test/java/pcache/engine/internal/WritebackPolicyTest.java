package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;

import org.junit.jupiter.api.Test;

import pcache.api.spi.WritebackPolicy;
import pcache.engine.internal.engine.CacheEngine;
import pcache.writeback.internal.BatchingWritebackPolicy;
import pcache.writeback.internal.OrderedWritebackPolicy;

/** What distinguishes the write-back policies, observed at the backing device. */
class WritebackPolicyTest {

    private static final long LOGICAL = 64 * Harness.MIB;

    private static BatchingWritebackPolicy batching(int high, int low, long maxAgeMillis, long rateBytes) {
        return new BatchingWritebackPolicy(new BatchingWritebackPolicy.Settings(high, low, maxAgeMillis, 64L << 20,
                rateBytes));
    }

    /**
     * A cache on {@code disk} with batching write-back whose watermarks (50 %, 40 %) the tests stay
     * far below, so only {@code maxAgeMillis} starts write-back.
     */
    private static CacheEngine openBelowWatermarks(String name, MemoryBacking disk, long maxAgeMillis, long batchBytes)
            throws IOException {
        return Harness.open(Harness.config(name), new SimulatedPmem(Harness.deviceBytes(6), false), Harness.holder(disk),
                new BatchingWritebackPolicy(new BatchingWritebackPolicy.Settings(50, 40, maxAgeMillis, batchBytes, 0)));
    }

    /** Writes 20 versions of the same 64 KiB and 16 adjacent 4 KiB pieces, then drains. */
    private static MemoryBacking run(WritebackPolicy policy) throws Exception {
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(6), false);
        MemoryBacking disk = new MemoryBacking(LOGICAL, "disk", false);
        // ksets close only at flushes (and the drain), never on a timer: the 16 pieces share one
        CacheEngine e = Harness.open(Harness.config("wb").withKsetFlushDelayMillis(600_000), pmem,
                Harness.holder(disk), policy);
        try {
            for (int v = 0; v < 20; v++) {
                e.write(0, Harness.pattern(0, 65536, v), false);
                e.flush(); // each version in its own kset
            }
            for (int i = 0; i < 16; i++) {
                long off = Harness.MIB + i * 4096L;
                e.write(off, Harness.pattern(off, 4096, 99), false);
            }
            e.drain(null);
            assertArrayEquals(Harness.pattern(0, 65536, 19).array(), disk.content(0, 65536));
            assertArrayEquals(Harness.pattern(Harness.MIB, 65536, 99).array(), disk.content(Harness.MIB, 65536));
            assertEquals(0, e.statistics().dirtyBytes());
        } finally {
            e.close();
        }
        return disk;
    }

    @Test
    void orderedWritesEveryVersionFlushesPerKsetAndCoalescesWithinAKset() throws Exception {
        MemoryBacking disk = run(new OrderedWritebackPolicy());
        // every version in its own write; the 16 adjacent pieces of the last kset as one write
        assertEquals(20 + 1, disk.writes.get(), "writes");
        assertTrue(disk.flushes.get() >= 21, "a flush per kset: " + disk.flushes.get());
    }

    @Test
    void batchingSkipsOverwrittenVersionsAndCoalesces() throws Exception {
        // only the drain writes back, in one batch (with a low watermark the background loop
        // would race the writes and write back kset by kset)
        MemoryBacking disk = run(Harness.drainOnlyPolicy());
        // one write for the newest version of the 64 KiB, one for the 16 adjacent pieces
        assertEquals(2, disk.writes.get(), "writes");
        assertTrue(disk.flushes.get() <= 2, "one flush per batch: " + disk.flushes.get());
    }

    /**
     * A run of extents adjacent on the backing device: a piece of it that also lies back to back
     * in the cache is written straight from the mapping, small pieces scattered in the cache are
     * gathered into one write. Here, in one kset: 8 KiB written in reverse order (two 4 KiB
     * pieces, the second before the first in the cache), then the 256 KiB after them from start
     * to end (one piece in the cache), then 4 KiB after that, written last but from another
     * position. Expected: the two small pieces gathered into one 8 KiB write, the 256 KiB straight
     * from the cache, the last 4 KiB on its own.
     */
    @Test
    void orderedWritesPiecesContiguousInTheCacheDirectlyAndGathersScatteredOnes() throws Exception {
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(6), false);
        MemoryBacking disk = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine e = Harness.open(Harness.config("pieces").withKsetFlushDelayMillis(600_000), pmem,
                Harness.holder(disk), Harness.onlyWhenDraining(new OrderedWritebackPolicy()));
        long base = 8 * Harness.MIB;
        try {
            e.write(base + 4096, Harness.pattern(base + 4096, 4096, 1), false);
            e.write(base, Harness.pattern(base, 4096, 1), false);
            for (int i = 0; i < 4; i++) {
                long off = base + 8192 + i * 65536L;
                e.write(off, Harness.pattern(off, 65536, 1), false);
            }
            long tail = base + 8192 + 4 * 65536L;
            e.write(tail, Harness.pattern(tail, 4096, 1), false);
            // the tail's data is now right after the 256 KiB in the cache; move it: write it again
            // after something else, so it is adjacent on the backing device only
            e.write(0, Harness.pattern(0, 4096, 1), false);
            e.write(tail, Harness.pattern(tail, 4096, 2), false);
            e.drain(null);
            int total = 8192 + 4 * 65536 + 4096;
            byte[] expected = new byte[total];
            System.arraycopy(Harness.pattern(base, total - 4096, 1).array(), 0, expected, 0, total - 4096);
            System.arraycopy(Harness.pattern(tail, 4096, 2).array(), 0, expected, total - 4096, 4096);
            assertArrayEquals(expected, disk.content(base, total));
        } finally {
            e.close();
        }
        java.util.List<String> writes = new java.util.ArrayList<>();
        for (long[] w : disk.writeLog) {
            if (w[0] >= base) {
                writes.add((w[0] - base) + "+" + w[1]);
            }
        }
        assertEquals(java.util.List.of("0+8192", "8192+262144", "270336+4096"), writes);
    }

    /**
     * The ordered policy's promise, checked at the backing device: every client flush (and FUA
     * write) is a barrier there. A random run of 4 KiB writes over three 4 MiB slices (two kset
     * streams, so a flush closes up to two ksets), flushes and FUA writes, written back by a
     * drain. Every backing write's bytes name the client write they come from; for each barrier,
     * the writes it promises must all be flushed on the backing device before (in an earlier
     * backing-flush interval than) any write issued after it. And ksets no flush separates share
     * a backing flush: fewer backing flushes than ksets.
     */
    @Test
    void orderedFlushesTheBackingDeviceAtClientFlushesOnlyAndNeverMergesAcrossOne() throws Exception {
        long seed = Long.getLong("pcache.test.seed", System.nanoTime());
        System.out.println("WritebackPolicyTest barriers: seed " + seed + " (replay with -Dpcache.test.seed=" + seed + ")");
        java.util.Random random = new java.util.Random(seed);
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(6), false);
        MemoryBacking disk = new MemoryBacking(LOGICAL, "disk", false);
        // client write number -> the backing-flush interval its bytes were written in (newest wins)
        java.util.Map<Long, Integer> interval = new java.util.HashMap<>();
        int[] flushes = {0};
        disk.onFlush = () -> flushes[0]++;
        disk.onWrite = (offset, bytes) -> {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes);
            for (int i = 0; i < bytes.length; i += 8) {
                long tag = b.getLong(i) - (offset + i) * 31;
                interval.merge(tag, flushes[0], Math::max);
            }
        };
        CacheEngine e = Harness.open(Harness.config("barriers").withKsetFlushDelayMillis(600_000), pmem,
                Harness.holder(disk), Harness.onlyWhenDraining(new OrderedWritebackPolicy()));
        // barriers: {the last write a flush promises (all writes up to it), or a FUA write (itself only), fua?}
        java.util.List<long[]> barriers = new java.util.ArrayList<>();
        long writes = 0;
        long ksets;
        int ops = 200 + random.nextInt(400);
        try {
            for (int i = 0; i < ops; i++) {
                double r = random.nextDouble();
                if (r < 0.12 && writes > 0) {
                    e.flush();
                    barriers.add(new long[] {writes, 0});
                    continue;
                }
                long n = ++writes;
                long off = random.nextInt(3) * 4 * Harness.MIB + random.nextInt(256) * 4096L;
                boolean fua = r > 0.96;
                e.write(off, Harness.pattern(off, 4096, n), fua);
                if (fua) {
                    barriers.add(new long[] {n, 1});
                }
            }
            e.drain(null);
            ksets = e.statistics().writebackKsets();
        } finally {
            e.close();
        }
        for (long[] barrier : barriers) {
            long p = barrier[0];
            int promisedLatest = -1;
            int laterEarliest = Integer.MAX_VALUE;
            for (var entry : interval.entrySet()) {
                long n = entry.getKey();
                boolean promised = barrier[1] == 0 ? n <= p : n == p;
                if (promised) {
                    promisedLatest = Math.max(promisedLatest, entry.getValue());
                } else if (n > p) {
                    laterEarliest = Math.min(laterEarliest, entry.getValue());
                }
            }
            assertTrue(promisedLatest < laterEarliest, "seed " + seed + ": " + (barrier[1] == 0 ? "flush after write "
                    : "FUA write ") + p + ": promised data written in backing-flush interval " + promisedLatest
                    + ", data of a later write already in interval " + laterEarliest);
        }
        System.out.println("WritebackPolicyTest barriers: " + ops + " operations, " + barriers.size()
                + " barriers, " + ksets + " ksets written back, " + disk.flushes.get() + " backing flushes");
        assertTrue(disk.flushes.get() < ksets, "seed " + seed + ": ksets no flush separates share a backing flush: "
                + disk.flushes.get() + " backing flushes for " + ksets + " ksets");
    }

    /**
     * The ordered policy leaves out versions a later write of the same flush interval replaces,
     * and only those. A seeded random run of 4 KiB writes over 64 to 191 blocks with flushes and
     * FUA writes (the first 400 writes without), written back in groups of 16 KiB (so that an
     * interval spans several groups) by a drain. The promise is checked at every backing write: when data of a write issued
     * after a client flush (or after a FUA write) reaches the backing device, every block must
     * already hold, durably (written before an earlier backing flush), what the flush promised
     * (the block's last version before the flush, or a newer one). Leaving a version out across a
     * barrier, or writing an older version over a newer one, breaks it. And the run must leave
     * some versions out (else the check proves nothing), end with every block's newest version,
     * and write less than the same run with look-ahead off.
     */
    @Test
    void orderedLeavesOutVersionsReplacedWithinTheirFlushIntervalButNeverAcrossABarrier() throws Exception {
        long seed = Long.getLong("pcache.test.seed", System.nanoTime());
        System.out.println("WritebackPolicyTest replaced versions: seed " + seed
                + " (replay with -Dpcache.test.seed=" + seed + ")");
        long withLookahead = replacedVersionsRun(seed, new OrderedWritebackPolicy(16384, 1 << 16));
        long without = replacedVersionsRun(seed, new OrderedWritebackPolicy(16384, 0));
        assertTrue(withLookahead < without, "seed " + seed + ": look-ahead wrote " + withLookahead
                + " blocks, without it " + without);
    }

    /** One run of {@link #orderedLeavesOutVersionsReplacedWithinTheirFlushIntervalButNeverAcrossABarrier}; returns the blocks written back. */
    private static long replacedVersionsRun(long seed, OrderedWritebackPolicy policy) throws Exception {
        java.util.Random random = new java.util.Random(seed);
        int blocks = 64 + random.nextInt(128);
        // flush intervals of a few writes to a few hundred; a kset holds at most 128 keys, so the
        // long ones span several ksets (the first interval always does: 400 writes)
        double flushChance = 0.002 + random.nextDouble() * 0.05;
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(6), false);
        MemoryBacking disk = new MemoryBacking(LOGICAL, "disk", false);
        long[] current = new long[blocks]; // newest tag on the backing device per block (0: never written)
        long[] durable = new long[blocks]; // as of the last backing flush
        long[] newest = new long[blocks]; // the client's newest write per block
        // per barrier: the write number after which it was taken and each block's version it promises
        java.util.List<long[]> promised = new java.util.ArrayList<>();
        java.util.List<Long> after = new java.util.ArrayList<>();
        java.util.Set<Long> reached = new java.util.HashSet<>();
        String[] violation = {null};
        long[] written = {0};
        disk.onFlush = () -> System.arraycopy(current, 0, durable, 0, blocks);
        disk.onWrite = (offset, bytes) -> {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes);
            for (int i = 0; i < bytes.length; i += 4096) {
                int block = (int) ((offset + i) / 4096);
                long tag = b.getLong(i) - (offset + i) * 31;
                written[0]++;
                reached.add(tag);
                for (int n = 0; n < promised.size() && violation[0] == null; n++) {
                    if (tag <= after.get(n)) {
                        continue;
                    }
                    long[] versions = promised.get(n);
                    for (int x = 0; x < blocks; x++) {
                        if (durable[x] < versions[x]) {
                            violation[0] = "write " + tag + " (block " + block + ") reached the backing device while"
                                    + " block " + x + " held version " + durable[x] + " durably, and barrier " + n
                                    + " (after write " + after.get(n) + ") promised version " + versions[x];
                            break;
                        }
                    }
                }
                if (tag < current[block]) {
                    violation[0] = "block " + block + ": version " + tag + " written over the newer " + current[block];
                }
                current[block] = tag;
            }
        };
        CacheEngine e = Harness.open(Harness.config("replaced").withKsetFlushDelayMillis(600_000), pmem,
                Harness.holder(disk), Harness.onlyWhenDraining(policy));
        long writes = 0;
        try {
            int ops = 1000 + random.nextInt(1000);
            for (int i = 0; i < ops; i++) {
                double r = i < 400 ? 0.5 : random.nextDouble();
                if (r < flushChance && writes > 0) {
                    e.flush();
                    promised.add(newest.clone());
                    after.add(writes);
                    continue;
                }
                long n = ++writes;
                int block = random.nextInt(blocks);
                long off = block * 4096L;
                boolean fua = r > 0.985;
                e.write(off, Harness.pattern(off, 4096, n), fua);
                newest[block] = n;
                if (fua) {
                    long[] versions = new long[blocks];
                    versions[block] = n;
                    promised.add(versions);
                    after.add(n);
                }
            }
            e.drain(null);
        } finally {
            e.close();
        }
        assertEquals(null, violation[0], "seed " + seed + ": " + violation[0]);
        assertArrayEquals(newest, current, "seed " + seed + ": the backing device ends with every block's newest version");
        System.out.println("WritebackPolicyTest replaced versions: " + writes + " writes over " + blocks + " blocks, "
                + promised.size() + " barriers, " + written[0] + " blocks written back, " + (writes - reached.size())
                + " versions left out");
        return written[0];
    }

    @Test
    void drainWithoutAPolicyFailsClearlyInsteadOfWaitingForever() throws Exception {
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(6), false);
        MemoryBacking disk = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine e = Harness.open(Harness.config("nopolicy").withBackingTimeoutMillis(500), pmem,
                Harness.holder(disk), null);
        try {
            e.write(0, Harness.pattern(0, 4096, 1), false);
            pcache.api.PcacheException ex = org.junit.jupiter.api.Assertions.assertThrows(
                    pcache.api.PcacheException.class, () -> e.drain(null));
            assertTrue(ex.getMessage().contains("no write-back policy"), ex.getMessage());
        } finally {
            e.close();
        }
    }

    @Test
    void batchingWaitsBelowTheHighWatermarkUntilDataIsOld() throws Exception {
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(6), false);
        MemoryBacking disk = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine e = Harness.open(Harness.config("wm"), pmem, Harness.holder(disk), batching(50, 40, 1500, 0));
        try {
            long beforeWrite = System.nanoTime();
            e.write(0, Harness.pattern(0, 65536, 1), false);
            e.flush();
            awaitWrittenBack(e, 20, "written once older than max_age_ms");
            assertArrayEquals(Harness.pattern(0, 65536, 1).array(), disk.content(0, 65536));
            // a lower bound, which no stall of this thread can break: the data was younger than
            // max_age_ms until 1500 ms after the write began, and nothing was written back before
            long waitedMillis = (disk.firstWriteNanos.get() - beforeWrite) / 1_000_000;
            assertTrue(waitedMillis >= 1500, "well below the high watermark, written back only " + waitedMillis
                    + " ms after the write (max_age_ms 1500)");
        } finally {
            e.close();
        }
    }

    /** {@code policy}, recording the most keys any one step read. */
    private static WritebackPolicy keysPerStep(WritebackPolicy policy, java.util.concurrent.atomic.AtomicLong most) {
        return new WritebackPolicy() {
            @Override
            public String name() {
                return policy.name();
            }

            @Override
            public pcache.api.spi.WritebackOutcome step(pcache.api.spi.WritebackContext c)
                    throws IOException, InterruptedException {
                long[] keys = {0};
                pcache.api.spi.WritebackContext counting = new ForwardingWritebackContext(c) {
                    @Override
                    public pcache.api.spi.Kset readKset(pcache.api.CachePos position) throws IOException {
                        pcache.api.spi.Kset k = c.readKset(position);
                        if (k != null) {
                            keys[0] += k.keys().size();
                        }
                        return k;
                    }
                };
                try {
                    return policy.step(counting);
                } finally {
                    most.accumulateAndGet(keys[0], Math::max);
                }
            }
        };
    }

    /**
     * A group is bounded by keys too, clean ones included. Read-miss fills behind a little dirty
     * data, with no client flush between them, made one step read every kset to the end of the
     * log, again at every retry while the backing device failed.
     */
    @Test
    void aGroupOfReadMissFillsIsBoundedByKeys() throws Exception {
        MemoryBacking disk = new MemoryBacking(LOGICAL, "disk", false);
        java.util.concurrent.atomic.AtomicLong most = new java.util.concurrent.atomic.AtomicLong();
        CacheEngine e = Harness.open(Harness.config("keys"), new SimulatedPmem(Harness.deviceBytes(6), false),
                Harness.holder(disk), keysPerStep(Harness.onlyWhenDraining(new OrderedWritebackPolicy(64L << 20,
                        OrderedWritebackPolicy.MAX_GROUP_KEYS, 64)), most));
        try {
            e.write(0, Harness.pattern(0, 4096, 1), false); // no flush: no barrier after it
            java.nio.ByteBuffer chunk = java.nio.ByteBuffer.allocate(4096);
            for (int i = 1; i <= 1_000; i++) {
                e.read(i * 8192L, chunk.clear()); // a miss: one clean key each
            }
            e.drain(null);
            assertArrayEquals(Harness.pattern(0, 4096, 1).array(), disk.content(0, 4096));
            assertTrue(most.get() > 0 && most.get() < 1_000, "keys read by one step: " + most.get());
        } finally {
            e.close();
        }
    }

    /**
     * Writers waiting for cache space do not wait for the age: GC frees only what is written back,
     * and a cache can fill with read-miss fills behind a little dirty data at dirty_tail, far below
     * any watermark. Before, the policy deferred until the data was max_age_ms old (here an hour;
     * by default up to a minute of stalled writes).
     */
    @Test
    void batchingWritesBackAtOnceWhileWritersWaitForSpace() throws Exception {
        MemoryBacking disk = new MemoryBacking(256 * Harness.MIB, "disk", false);
        CacheEngine e = Harness.open(Harness.config("space"), new SimulatedPmem(Harness.deviceBytes(6), false),
                Harness.holder(disk), batching(50, 40, 3_600_000, 0));
        try {
            e.write(0, Harness.pattern(0, (int) Harness.MIB, 1), false);
            e.flush();
            java.nio.ByteBuffer chunk = java.nio.ByteBuffer.allocate((int) Harness.MIB);
            for (long off = Harness.MIB; off < 256 * Harness.MIB; off += Harness.MIB) {
                e.read(off, chunk.clear()); // a miss: its data is kept in the cache while space is free
            }
            // all but the segment kept for the key log
            assertTrue(used(e) >= e.status(pcache.api.CacheMode.WRITEBACK).cacheSegs() - 1, "the reads filled the cache");
            assertTrue(e.statistics().dirtyBytes() > 0 && e.statistics().dirtyBytes() <= Harness.MIB, "1 MiB dirty");
            // more than a segment, so that some of it waits for space
            org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(60), () -> {
                for (long off = 2 * Harness.MIB; off < 34 * Harness.MIB; off += Harness.MIB) {
                    e.write(off, Harness.pattern(off, (int) Harness.MIB, 2), false);
                }
            }, "writes waiting for space waited for the data's age (an hour)");
            assertArrayEquals(Harness.pattern(0, (int) Harness.MIB, 1).array(), disk.content(0, (int) Harness.MIB));
        } finally {
            e.close();
        }
    }

    /**
     * Below the high watermark, once data is older than max_age_ms it is written back batch after
     * batch up to where the log ended when the policy noted the time: the next batch of that data
     * does not wait another max_age_ms (it did: 4 batches of 64 KiB then took at least 3 ×
     * max_age_ms; here at most the four ksets fall into two rounds).
     */
    @Test
    void batchingWritesEveryBatchOfOldDataWithoutWaitingMaxAgeAgain() throws Exception {
        long maxAgeMillis = 3000;
        MemoryBacking disk = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine e = openBelowWatermarks("age", disk, maxAgeMillis, 64 << 10);
        try {
            for (int i = 0; i < 4; i++) {
                long off = i * Harness.MIB;
                e.write(off, Harness.pattern(off, 65536, 3), false);
                e.flush(); // one kset of 64 KiB each: one batch each
            }
            awaitWrittenBack(e, 60, "written back once older than max_age_ms");
            long spreadMillis = (disk.lastWriteNanos.get() - disk.firstWriteNanos.get()) / 1_000_000;
            assertTrue(spreadMillis < 2 * maxAgeMillis, "the four batches were written " + spreadMillis
                    + " ms apart from first to last (max_age_ms " + maxAgeMillis + ")");
            for (int i = 0; i < 4; i++) {
                long off = i * Harness.MIB;
                assertArrayEquals(Harness.pattern(off, 65536, 3).array(), disk.content(off, 65536));
            }
        } finally {
            e.close();
        }
    }

    /**
     * A writer that keeps the cache a little dirty below the watermarks gets about one round of
     * batches per max_age_ms, each round closed by one backing flush: not a flush per kset once
     * the first data is old, nor a wait of max_age_ms per batch; also after a drain made while it
     * writes.
     */
    @Test
    void batchingUnderASteadyWriterWritesBackOneRoundPerMaxAge() throws Exception {
        long maxAgeMillis = 1000;
        MemoryBacking disk = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine e = openBelowWatermarks("steady", disk, maxAgeMillis, 64L << 20);
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newSingleThreadExecutor();
        try {
            long start = System.nanoTime();
            java.util.concurrent.Future<?> writer = pool.submit(() -> {
                for (int i = 0; i < 40; i++) {
                    long off = i * 65536L;
                    e.write(off, Harness.pattern(off, 4096, 4), false);
                    e.flush(); // a kset of its own
                    // and one left in an open kset: the cache is never clean when a batch ends
                    e.write(off + 32768, Harness.pattern(off + 32768, 4096, 4), false);
                    Thread.sleep(100);
                }
                return null;
            });
            Thread.sleep(1500);
            e.drain(null); // while the writer goes on
            long drained = System.nanoTime();
            long flushesAtDrain = disk.flushes.get();
            writer.get(60, java.util.concurrent.TimeUnit.SECONDS);
            long end = System.nanoTime();
            long flushes = disk.flushes.get();
            long elapsedMillis = (end - start) / 1_000_000;
            long afterMillis = (end - drained) / 1_000_000;
            long flushesAfter = flushes - flushesAtDrain;
            System.out.println("WritebackPolicyTest steady writer: 40 flushes in " + elapsedMillis + " ms, "
                    + flushes + " backing flushes; " + flushesAfter + " in the " + afterMillis + " ms after a drain");
            assertTrue(flushes >= 1, "old data was written back while the writer went on");
            assertTrue(flushes <= elapsedMillis / maxAgeMillis + 2, flushes + " backing flushes in " + elapsedMillis
                    + " ms with max_age_ms " + maxAgeMillis + " and one drain: one round per max_age_ms expected");
            assertTrue(flushesAfter <= afterMillis / maxAgeMillis + 1, flushesAfter + " backing flushes in the "
                    + afterMillis + " ms after the drain: one round per max_age_ms expected");
            e.drain(null);
            for (int i = 0; i < 40; i++) {
                long off = i * 65536L;
                assertArrayEquals(Harness.pattern(off, 4096, 4).array(), disk.content(off, 4096));
                assertArrayEquals(Harness.pattern(off + 32768, 4096, 4).array(), disk.content(off + 32768, 4096));
            }
        } finally {
            pool.shutdownNow();
            e.close();
        }
    }

    @Test
    void batchingRateLimitPacesBatches() throws Exception {
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(6), false);
        MemoryBacking disk = new MemoryBacking(LOGICAL, "disk", false);
        // batches of at most 1 MiB of dirty data, at most 2 MiB/s
        BatchingWritebackPolicy p = new BatchingWritebackPolicy(
                new BatchingWritebackPolicy.Settings(0, 0, 0, 1 << 20, 2 << 20));
        CacheEngine e = Harness.open(Harness.config("rate"), pmem, Harness.holder(disk), p);
        try {
            long start = System.nanoTime();
            for (int i = 0; i < 6; i++) {
                e.write(i * Harness.MIB, Harness.pattern(i * Harness.MIB, (int) Harness.MIB, 3), false);
                e.flush();
            }
            awaitWrittenBack(e, 30, "written back");
            long millis = (System.nanoTime() - start) / 1_000_000L;
            // 6 MiB at 2 MiB/s: the pacing after each of the first five batches alone is 2.5 s
            assertTrue(millis >= 2000, "6 MiB at 2 MiB/s took only " + millis + " ms");
        } finally {
            e.close();
        }
    }

    /** Waits, at most {@code seconds}, until nothing is dirty, and asserts that nothing is. */
    private static int used(CacheEngine e) {
        return e.status(pcache.api.CacheMode.WRITEBACK).segsUsed();
    }

    private static void awaitWrittenBack(CacheEngine e, long seconds, String message) throws InterruptedException {
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        while (e.statistics().dirtyBytes() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(0, e.statistics().dirtyBytes(), message);
    }
}
