package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import pcache.api.BlockDevice;
import pcache.api.CacheMode;
import pcache.api.spi.PmemRegion;
import pcache.engine.internal.engine.CacheEngine;
import pcache.pmem.internal.MappedPmemProvider;
import pcache.writeback.internal.OrderedWritebackPolicy;

/**
 * {@code tryReadView}: a read wholly made of hits is lent as views of the cache's mapping, its
 * segments pinned so that their bytes stay the read's until the view is closed, whatever is
 * written, written back and reclaimed meanwhile; anything else lends nothing and holds nothing.
 */
@Timeout(120)
class ReadViewTest {

    private static final long LOGICAL = 256 * Harness.MIB;
    private static final int MIB = (int) Harness.MIB;

    @TempDir
    Path dir;

    private PmemRegion mapped(String name, int segments) throws Exception {
        return new MappedPmemProvider().open(dir.resolve(name), Harness.deviceBytes(segments));
    }

    private static byte[] bytesOf(BlockDevice.ReadView view) {
        int total = 0;
        for (ByteBuffer b : view.buffers()) {
            total += b.remaining();
        }
        byte[] out = new byte[total];
        int at = 0;
        for (ByteBuffer b : view.buffers()) {
            int n = b.remaining();
            b.duplicate().get(out, at, n);
            at += n;
        }
        return out;
    }

    @Test
    void aViewLendsTheMappingsBytesCountsAHitAndGivesItsPinsBack() throws Exception {
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine e = Harness.open(Harness.config("v"), mapped("lend.img", 16), Harness.holder(backing), null);
        try {
            // two writes, the second crossing a 4 MiB slice: the view has several pieces
            e.write(0, Harness.pattern(0, MIB, 1), false);
            e.write(4 * Harness.MIB - 65536, Harness.pattern(4 * Harness.MIB - 65536, 131072, 2), false);
            BlockDevice.ReadView view = e.tryReadView(4 * Harness.MIB - 65536, 131072);
            assertNotNull(view);
            for (ByteBuffer b : view.buffers()) {
                assertTrue(b.isDirect() && b.isReadOnly(), "a read-only view of the mapping: " + b);
            }
            assertTrue(view.buffers().length >= 2, "one buffer per slice at least");
            assertArrayEquals(Harness.pattern(4 * Harness.MIB - 65536, 131072, 2).array(), bytesOf(view));
            assertEquals(1, e.readViewPins(), "both pieces lie in one segment, pinned once");
            BlockDevice.ReadView whole = e.tryReadView(0, MIB);
            assertArrayEquals(Harness.pattern(0, MIB, 1).array(), bytesOf(whole));
            assertEquals(2, e.statistics().readHits());
            assertEquals(2, e.statistics().readRequests());
            assertEquals(MIB + 131072, e.statistics().bytesReadFromCache());
            view.close();
            whole.close();
            whole.close(); // a second close does nothing
            assertEquals(0, e.readViewPins());
        } finally {
            e.close();
        }
    }

    @Test
    void missesPartialHitsAndARegionWithoutAMappingLendNothing() throws Exception {
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        backing.write(0, Harness.pattern(0, MIB, 5), false);
        CacheEngine e = Harness.open(Harness.config("v"), mapped("miss.img", 8), Harness.holder(backing), null);
        try {
            assertNull(e.tryReadView(0, 65536), "nothing cached: a miss");
            e.write(65536, Harness.pattern(65536, 65536, 1), false);
            assertNull(e.tryReadView(0, 131072), "half cached: still a miss");
            assertNull(e.tryReadView(0, 0), "nothing to lend");
            assertEquals(0, e.readViewPins(), "a refused view holds nothing");
            assertEquals(0, e.statistics().readRequests(), "a refused view is not a request");
        } finally {
            e.close();
        }
        CacheEngine sim = Harness.open(Harness.config("v"), new SimulatedPmem(Harness.deviceBytes(8), false),
                Harness.holder(backing), null);
        try {
            sim.write(0, Harness.pattern(0, 65536, 1), false);
            assertNull(sim.tryReadView(0, 65536), "a region without a mapping would lend copies: it lends nothing");
        } finally {
            sim.close();
        }
    }

    /**
     * The pin is what keeps a view's bytes: while it is open, the range is written over many times
     * the cache's size, written back and collected; its segment stays the view's. Given back, the
     * segment is reclaimed like any other.
     */
    @Test
    void aViewKeepsItsBytesWhileItsRangeIsRewrittenWrittenBackAndCollected() throws Exception {
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine e = Harness.open(Harness.config("v").withGcPercent(10), mapped("keep.img", 10),
                Harness.holder(backing), new OrderedWritebackPolicy());
        try {
            e.write(0, Harness.pattern(0, MIB, 1), true);
            BlockDevice.ReadView view = e.tryReadView(0, MIB);
            assertNotNull(view);
            int segment = segmentOf(e, 0);
            long generation = e.segments().generation(segment);
            long reclaimedBefore = e.statistics().gcSegmentsReclaimed();
            // 6 x 32 MiB of new data over the view's range and beyond: every other segment is
            // written back and reclaimed several times over
            for (int round = 0; round < 6; round++) {
                for (long off = 0; off < 32 * Harness.MIB; off += Harness.MIB) {
                    e.write(off, Harness.pattern(off, MIB, 100 + round), false);
                }
                e.flush();
            }
            e.drain(null);
            assertTrue(e.statistics().gcSegmentsReclaimed() - reclaimedBefore >= 10,
                    "GC reclaimed segments while the view was open: "
                            + (e.statistics().gcSegmentsReclaimed() - reclaimedBefore));
            assertEquals(generation, e.segments().generation(segment), "the pinned segment was not reclaimed");
            assertArrayEquals(Harness.pattern(0, MIB, 1).array(), bytesOf(view), "the view kept the read's bytes");
            assertArrayEquals(Harness.pattern(0, MIB, 105).array(), Harness.read(e, 0, MIB), "reads see the newest");

            view.close();
            assertEquals(0, e.readViewPins());
            // given back, it is reclaimed at once (its keys were collected meanwhile) or by the next pass
            for (long off = 0; off < 32 * Harness.MIB; off += Harness.MIB) {
                e.write(off, Harness.pattern(off, MIB, 200), false);
            }
            e.drain(null);
            assertTrue(e.segments().generation(segment) > generation, "the segment was reclaimed after the view");
            assertArrayEquals(Harness.pattern(0, MIB, 200).array(), Harness.read(e, 0, MIB));
        } finally {
            e.close();
        }
    }

    @Test
    void openViewsPinAtMostAnEighthOfTheSegments() throws Exception {
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine e = Harness.open(Harness.config("v"), mapped("limit.img", 16), Harness.holder(backing), null);
        try {
            e.write(0, Harness.pattern(0, 65536, 1), false);
            int limit = e.segments().segmentCount() / 8;
            assertTrue(limit >= 1);
            BlockDevice.ReadView[] open = new BlockDevice.ReadView[limit];
            for (int i = 0; i < limit; i++) {
                open[i] = e.tryReadView(0, 65536);
                assertNotNull(open[i], "view " + i + " of " + limit);
            }
            assertNull(e.tryReadView(0, 65536), "beyond the limit a read copies");
            assertEquals(limit, e.readViewPins());
            assertTrue(e.tryRead(0, ByteBuffer.allocate(65536)), "copying reads go on");
            open[0].close();
            BlockDevice.ReadView again = e.tryReadView(0, 65536);
            assertNotNull(again, "a closed view makes room");
            again.close();
            for (int i = 1; i < limit; i++) {
                open[i].close();
            }
            assertEquals(0, e.readViewPins());
        } finally {
            e.close();
        }
    }

    /**
     * Through the device: a view keeps its place in the request gate until closed, so a change
     * to pass-through (which holds the gate) goes through only after it; pass-through lends
     * nothing.
     */
    @Test
    void theDeviceLendsInCachingModesAndAClosedViewLeavesTheGate() throws Exception {
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine engine = Harness.open(Harness.config("v"), mapped("gate.img", 8), Harness.holder(backing),
                Harness.drainOnlyPolicy());
        CacheDeviceFacade dev = new CacheDeviceFacade(engine, Harness.holder(backing), CacheMode.WRITEBACK);
        try {
            dev.write(0, Harness.pattern(0, 131072, 3), false);
            BlockDevice.ReadView view = dev.tryReadView(0, 131072);
            assertNotNull(view);
            assertArrayEquals(Harness.pattern(0, 131072, 3).array(), bytesOf(view));
            Thread change = new Thread(() -> {
                try {
                    dev.setMode(CacheMode.PASSTHROUGH);
                } catch (Exception ex) {
                    throw new AssertionError(ex);
                }
            });
            assertEquals(1, dev.requestsInFlight(), "the open view is in flight");
            change.start();
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (!dev.holdingRequests()) {
                assertTrue(System.nanoTime() < deadline, "the change never held the requests");
                Thread.sleep(5);
            }
            // held, it waits for the view: still in write-back mode, the view still in flight
            assertTrue(change.isAlive());
            assertEquals(CacheMode.WRITEBACK, dev.mode(), "the change waits for the open view");
            assertEquals(1, dev.requestsInFlight());
            assertArrayEquals(Harness.pattern(0, 131072, 3).array(), bytesOf(view), "and the view is intact");
            view.close();
            change.join(20_000);
            assertTrue(!change.isAlive(), "the closed view let the change through");
            assertEquals(CacheMode.PASSTHROUGH, dev.mode());
            assertEquals(0, dev.requestsInFlight(), "the closed view left the gate");
            assertNull(dev.tryReadView(0, 131072), "pass-through lends nothing");
            assertArrayEquals(Harness.pattern(0, 131072, 3).array(), Harness.read(dev, 0, 131072));
        } finally {
            dev.close();
        }
    }

    /** The cache segment holding the data at {@code offset}. */
    private static int segmentOf(CacheEngine e, long offset) {
        return Harness.dataPlace(e, offset).segment();
    }
}
