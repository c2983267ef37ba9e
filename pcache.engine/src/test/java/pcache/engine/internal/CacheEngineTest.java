package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import pcache.api.CacheMode;
import pcache.api.CachePos;
import pcache.api.CacheStatistics;
import pcache.api.CacheStatus;
import pcache.engine.internal.engine.CacheEngine;
import pcache.writeback.internal.OrderedWritebackPolicy;

class CacheEngineTest {

    private static final long LOGICAL = 256 * Harness.MIB;

    @Test
    void formatsBlankDeviceAndReadsBackWrites() throws Exception {
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(8), false);
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine e = Harness.open(Harness.config("t"), pmem, Harness.holder(backing), new OrderedWritebackPolicy());
        try {
            CacheStatus s = e.status(CacheMode.WRITEBACK);
            assertEquals(8, s.segTotal());
            assertEquals(8, s.cacheSegs());
            assertEquals(70, s.gcPercent());
            assertEquals(new CachePos(0, 0), s.keyTail());
            e.write(4096, Harness.pattern(4096, 8192, 1), false);
            assertArrayEquals(Harness.pattern(4096, 8192, 1).array(), Harness.read(e, 4096, 8192));
            // partly cached read: the miss part comes from the (zero) backing device
            byte[] mixed = Harness.read(e, 0, 16384);
            byte[] expected = new byte[16384];
            System.arraycopy(Harness.pattern(4096, 8192, 1).array(), 0, expected, 4096, 8192);
            assertArrayEquals(expected, mixed);
            CacheStatistics st = e.statistics();
            assertEquals(1, st.readHits());
            assertEquals(1, st.readPartialHits());
        } finally {
            e.close();
        }
    }

    /**
     * With data CRCs a key holds at most 64 KiB, on the device's 64 KiB grid, for writes and read
     * misses alike: a hit checks the CRC of its key's whole extent, so a 4 KiB read of data one
     * large write left checks 64 KiB, not the whole write (before, one key per slice: up to 4 MiB
     * checked for each 4 KiB read). Without data CRCs a write stays one key per slice.
     */
    @Test
    void withDataCrcsAKeyHoldsAtMost64KiB() throws Exception {
        for (boolean dataCrc : new boolean[] {true, false}) {
            SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(8), false);
            MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
            backing.write(2 * Harness.MIB, Harness.pattern(2 * Harness.MIB, 256 << 10, 3), false);
            CacheEngine e = Harness.open(Harness.config("crc-keys").withDataCrc(dataCrc), pmem, Harness.holder(backing),
                    Harness.onlyWhenDraining(new OrderedWritebackPolicy()));
            try {
                e.write(4096, Harness.pattern(4096, 1 << 20, 2), false);
                assertArrayEquals(Harness.pattern(2 * Harness.MIB, 256 << 10, 3).array(),
                        Harness.read(e, 2 * Harness.MIB, 256 << 10)); // a miss, filled
                java.util.List<long[]> keys = new java.util.ArrayList<>();
                pcache.api.spi.KeySlice slice = e.index().slice(0);
                slice.lock();
                try {
                    slice.forEach(k -> keys.add(new long[] {k.offset(), k.length()}));
                } finally {
                    slice.unlock();
                }
                int limit = dataCrc ? 64 << 10 : 4 << 20;
                for (long[] k : keys) {
                    assertTrue(k[1] <= limit && k[0] / limit == (k[0] + k[1] - 1) / limit,
                            "dataCrc " + dataCrc + ": key [" + k[0] + ", +" + k[1] + ") within the " + limit + " grid");
                }
                assertEquals(dataCrc ? 17 + 4 : 2, keys.size(), "keys of the write and of the miss");
                assertArrayEquals(Harness.pattern(4096, 1 << 20, 2).array(), Harness.read(e, 4096, 1 << 20));
            } finally {
                e.close();
            }
        }
    }

    /**
     * A small cache with the highest gc_percent: the allocator keeps one segment for the key log,
     * so data never reaches 90 % of 5 segments and GC must reclaim for the waiting writer anyway
     * (this wrote until the first deferral and then waited forever).
     */
    @Test
    @Timeout(60)
    void writerWaitingForSpaceIsServedBelowGcPercent() throws Exception {
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(5), false);
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine e = Harness.open(Harness.config("t").withGcPercent(90), pmem, Harness.holder(backing),
                new OrderedWritebackPolicy());
        try {
            for (long off = 0; off < LOGICAL; off += Harness.MIB) { // far more than the 80 MiB of cache
                e.write(off, Harness.pattern(off, (int) Harness.MIB, 0), false);
            }
            assertTrue(e.statistics().deferredRequests() > 0, "the cache filled up");
            e.drain(null);
            assertArrayEquals(Harness.pattern(LOGICAL - Harness.MIB, (int) Harness.MIB, 0).array(),
                    backing.content(LOGICAL - Harness.MIB, (int) Harness.MIB));
        } finally {
            e.close();
        }
    }

    /**
     * A fault in mapped memory (the JVM's InternalError) while GC reads the kset at key_tail is
     * counted and reported, and GC goes on once the kset can be read again, so the writer waiting
     * for space gets it. Before, the fault ended the GC thread and the writer waited forever.
     */
    @Test
    @Timeout(60)
    void aFaultInTheMappingDuringGcIsReportedAndGcGoesOn() throws Exception {
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(5), false);
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine e = Harness.open(Harness.config("t").withGcPercent(90), pmem, Harness.holder(backing),
                new OrderedWritebackPolicy());
        try {
            for (long off = 0; off < 8 * Harness.MIB; off += Harness.MIB) {
                e.write(off, Harness.pattern(off, (int) Harness.MIB, 1), false);
            }
            e.drain(null); // written back, below gc_percent: GC leaves the ksets where they are
            CachePos keyTail = e.status(CacheMode.WRITEBACK).keyTail();
            pmem.failReads(pcache.api.format.PcacheFormat.segmentOffset(keyTail.segment())
                    + pcache.api.format.PcacheFormat.SEG_DATA_OFF + keyTail.offset(), 24, true);
            java.util.concurrent.CompletableFuture<Void> filling = writeInBackground(e, LOGICAL, (int) Harness.MIB, 2);
            awaitGcErrors(e, 1, filling);
            String error = e.conditions(null).gcError();
            assertTrue(error != null && error.contains("a fault in the cache device's memory mapping"), error);
            pmem.readsWork();
            filling.get(30, java.util.concurrent.TimeUnit.SECONDS);
            assertArrayEquals(Harness.pattern(LOGICAL - Harness.MIB, (int) Harness.MIB, 2).array(),
                    Harness.read(e, LOGICAL - Harness.MIB, (int) Harness.MIB));
        } finally {
            e.close();
        }
    }

    /**
     * GC passes that fail while giving back a kset's references (the new generation of a segment
     * whose last reference goes cannot be stored) are retried from the key that failed, never
     * giving back a reference twice: once stores work again, GC goes on, the writer waiting for
     * space finishes and every write reads back. Before, a retry gave the kset's first keys'
     * references back again: a count underflowed (GC failed on every retry from then on, and the
     * writer waited forever), or a segment still holding later data was reclaimed under it.
     */
    @Test
    @Timeout(60)
    void aGcPassThatFailsWhileGivingBackReferencesIsRetriedFromWhereItFailed() throws Exception {
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(6), false);
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine e = Harness.open(Harness.config("t").withGcPercent(0), pmem, Harness.holder(backing),
                new OrderedWritebackPolicy());
        int chunk = 64 * 1024;
        try {
            long genSlots = pcache.api.format.PcacheFormat.SEG_GEN_OFF;
            long genEnd = genSlots + 2L * pcache.api.format.PcacheFormat.SEG_GEN_STRUCT_SIZE;
            pmem.failWritesWhere(at -> {
                long inSegment = (at - pcache.api.format.PcacheFormat.segmentOffset(0))
                        % pcache.api.format.PcacheFormat.SEG_SIZE;
                return at >= pcache.api.format.PcacheFormat.segmentOffset(0) && inSegment >= genSlots
                        && inSegment < genEnd;
            });
            java.util.concurrent.CompletableFuture<Void> filling;
            java.util.List<String> logged = new java.util.concurrent.CopyOnWriteArrayList<>();
            java.util.logging.Logger log = java.util.logging.Logger.getLogger(CacheEngine.class.getName());
            java.util.logging.Handler capture = new java.util.logging.Handler() {
                @Override
                public void publish(java.util.logging.LogRecord r) {
                    if (r.getLevel().intValue() >= java.util.logging.Level.SEVERE.intValue()) {
                        logged.add(r.getMessage());
                    }
                }

                @Override
                public void flush() {
                }

                @Override
                public void close() {
                }
            };
            log.addHandler(capture);
            try {
                filling = writeInBackground(e, 3 * LOGICAL / 4, chunk, 5);
                awaitGcErrors(e, 3, filling);
            } finally {
                log.removeHandler(capture);
            }
            // a pass retried at every writer's wake-up logged an error with its stack trace each time
            // (every retry repeats the same failing store, so no pass succeeds in between)
            assertEquals(1, logged.stream().filter(m -> m.contains("GC failed; retrying")).count(), String.valueOf(logged));
            pmem.failWritesWhere(null);
            filling.get(30, java.util.concurrent.TimeUnit.SECONDS);
            e.drain(null);
            for (long off = 0; off < 3 * LOGICAL / 4; off += chunk) {
                assertArrayEquals(Harness.pattern(off, chunk, 5).array(), Harness.read(e, off, chunk), "at " + off);
            }
        } finally {
            e.close();
        }
    }

    /**
     * Writes {@code chunk}-byte patterns tagged {@code tag} over {@code [0, end)} on another thread:
     * more than the cache holds, so the writes need GC to go on.
     */
    private static java.util.concurrent.CompletableFuture<Void> writeInBackground(CacheEngine e, long end, int chunk,
            long tag) {
        return java.util.concurrent.CompletableFuture.runAsync(() -> {
            try {
                for (long off = 0; off < end; off += chunk) {
                    e.write(off, Harness.pattern(off, chunk, tag), false);
                }
            } catch (java.io.IOException x) {
                throw new java.io.UncheckedIOException(x);
            }
        });
    }

    /** Waits until GC has failed {@code errors} times; the writes cannot finish meanwhile. */
    private static void awaitGcErrors(CacheEngine e, long errors, java.util.concurrent.CompletableFuture<Void> writes)
            throws InterruptedException {
        while (e.conditions(null).gcErrors() < errors) {
            assertTrue(!writes.isDone(), "the writes finished although GC could not free space");
            Thread.sleep(10);
        }
    }

    @Test
    void reopenReplaysTheLog() throws Exception {
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(8), false);
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine e = Harness.open(Harness.config("t"), pmem, Harness.holder(backing), null);
        for (int i = 0; i < 300; i++) {
            long off = (i * 7919L % 4000) * 4096;
            e.write(off, Harness.pattern(off, 4096, i), false);
        }
        e.close();
        CacheEngine again = Harness.open(Harness.config("t"), pmem.reopen(), Harness.holder(backing), null);
        try {
            byte[][] last = new byte[4000][];
            for (int i = 0; i < 300; i++) {
                int slot = (int) (i * 7919L % 4000);
                last[slot] = Harness.pattern(slot * 4096L, 4096, i).array();
            }
            for (int slot = 0; slot < 4000; slot++) {
                if (last[slot] != null) {
                    assertArrayEquals(last[slot], Harness.read(again, slot * 4096L, 4096), "slot " + slot);
                }
            }
            // nothing was written back (no policy): the backing device is still zero
            assertArrayEquals(new byte[4096], backing.content(0, 4096));
        } finally {
            again.close();
        }
    }

    @Test
    void writebackCopiesToBackingAndGcReclaims() throws Exception {
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(6), false);
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine e = Harness.open(Harness.config("t").withGcPercent(0), pmem, Harness.holder(backing),
                new OrderedWritebackPolicy());
        try {
            // 200 MiB through a 96 MiB cache: only possible if write-back and GC free segments
            for (int i = 0; i < 200; i++) {
                long off = (long) i * Harness.MIB;
                e.write(off, Harness.pattern(off, (int) Harness.MIB, 7), false);
            }
            e.drain(null);
            assertTrue(e.isClean(), "clean after drain");
            for (int i = 0; i < 200; i += 17) {
                long off = (long) i * Harness.MIB;
                assertArrayEquals(Harness.pattern(off, (int) Harness.MIB, 7).array(),
                        backing.content(off, (int) Harness.MIB), "backing at " + off);
                assertArrayEquals(Harness.pattern(off, (int) Harness.MIB, 7).array(),
                        Harness.read(e, off, (int) Harness.MIB), "cache at " + off);
            }
            CacheStatistics st = e.statistics();
            assertTrue(st.gcSegmentsReclaimed() > 0, "segments reclaimed");
            assertTrue(st.deferredRequests() > 0 || st.gcSegmentsReclaimed() > 0);
            assertEquals(0, st.dirtyBytes());
        } finally {
            e.close();
        }
    }

    @Test
    void writeZeroesTrimAndFlush() throws Exception {
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(8), false);
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        backing.write(0, Harness.pattern(0, (int) (16 * Harness.MIB), 3), false);
        CacheEngine e = Harness.open(Harness.config("t"), pmem, Harness.holder(backing), null);
        try {
            e.writeZeroes(4096, 12 * Harness.MIB, true);
            byte[] got = Harness.read(e, 0, (int) (16 * Harness.MIB));
            byte[] expected = Harness.pattern(0, (int) (16 * Harness.MIB), 3).array();
            java.util.Arrays.fill(expected, 4096, 4096 + (int) (12 * Harness.MIB), (byte) 0);
            assertArrayEquals(expected, got);
            e.trim(0, 8 * Harness.MIB);
            e.flush();
        } finally {
            e.close();
        }
        CacheEngine again = Harness.open(Harness.config("t"), pmem.reopen(), Harness.holder(backing), null);
        try {
            // zeroes after the trimmed part are still there after a restart
            byte[] got = Harness.read(again, 8 * Harness.MIB, (int) (4 * Harness.MIB));
            assertArrayEquals(new byte[(int) (4 * Harness.MIB)], got);
        } finally {
            again.close();
        }
    }

    @Test
    void writesLargerThanASliceAreCut() throws Exception {
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(8), false);
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine e = Harness.open(Harness.config("t"), pmem, Harness.holder(backing), null);
        try {
            long off = 4 * Harness.MIB - 8192;
            ByteBuffer data = Harness.pattern(off, (int) (9 * Harness.MIB), 5);
            e.write(off, data, true);
            assertArrayEquals(Harness.pattern(off, (int) (9 * Harness.MIB), 5).array(),
                    Harness.read(e, off, (int) (9 * Harness.MIB)));
        } finally {
            e.close();
        }
    }
    /**
     * A closed engine's write-back writes nothing more to the backing device: its successor may
     * already write there, and an older version landing late would replace newer data. The
     * backing file's I/O clears the interrupt that stops the write-back thread (as the first write
     * here does), so before, the thread went on with the rest of its group.
     */
    @Test
    @Timeout(120)
    void aClosedEnginesWritebackWritesNothingMore() throws Exception {
        MemoryBacking disk = new MemoryBacking(64 * Harness.MIB, "disk", false);
        CacheEngine e = Harness.open(Harness.config("closing"), new SimulatedPmem(Harness.deviceBytes(6), false),
                Harness.holder(disk), Harness.onlyWhenDraining(new OrderedWritebackPolicy()));
        java.util.concurrent.CountDownLatch firstWriteBegun = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.atomic.AtomicBoolean interrupted = new java.util.concurrent.atomic.AtomicBoolean();
        Thread drain = null;
        try {
            e.write(0, Harness.pattern(0, 4096, 1), false); // two runs apart: two backing writes
            e.write(Harness.MIB, Harness.pattern(Harness.MIB, 4096, 1), false);
            e.flush();
            disk.onWrite = (offset, data) -> {
                firstWriteBegun.countDown();
                while (!interrupted.get()) { // as a backing file's I/O: it takes the interrupt and goes on
                    try {
                        Thread.sleep(60_000);
                    } catch (InterruptedException stop) {
                        interrupted.set(true);
                    }
                }
                disk.onWrite = null;
            };
            drain = new Thread(() -> {
                try {
                    e.drain(null);
                } catch (java.io.IOException expected) {
                    // the close ends it
                }
            }, "drain");
            drain.start();
            assertTrue(firstWriteBegun.await(60, java.util.concurrent.TimeUnit.SECONDS), "write-back began");
        } finally {
            e.close(); // interrupts the write-back thread inside its first write
        }
        drain.join(60_000);
        assertTrue(interrupted.get());
        assertEquals(1, disk.writes.get(), "backing writes of a closed engine");
    }
}
