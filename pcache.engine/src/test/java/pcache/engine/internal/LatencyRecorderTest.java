package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import pcache.api.CacheMode;
import pcache.api.CacheStatistics;
import pcache.api.LatencyHistogram;
import pcache.engine.internal.engine.CacheEngine;

/** The request latencies the facade measures, and the buckets they land in. */
class LatencyRecorderTest {

    private static final long LOGICAL = 64 * Harness.MIB;

    private CacheDeviceFacade facade;

    @AfterEach
    void close() throws Exception {
        if (facade != null) {
            facade.close();
        }
    }

    @Test
    void aBucketHoldsWhatIsAtMostItsBound() {
        long[] bounds = LatencyRecorder.UPPER_BOUNDS_NANOS;
        assertEquals(0, LatencyRecorder.bucketOf(0));
        assertEquals(0, LatencyRecorder.bucketOf(bounds[0]));
        assertEquals(1, LatencyRecorder.bucketOf(bounds[0] + 1));
        assertEquals(bounds.length - 1, LatencyRecorder.bucketOf(bounds[bounds.length - 1]));
        assertEquals(bounds.length, LatencyRecorder.bucketOf(bounds[bounds.length - 1] + 1));
        assertEquals(bounds.length, LatencyRecorder.bucketOf(Long.MAX_VALUE));
    }

    @Test
    void snapshotCountsAndSums() {
        LatencyRecorder r = new LatencyRecorder();
        r.record(5_000);
        r.record(5_000);
        r.record(2_000_000);
        r.record(-3); // a clock oddity counts as 0
        r.record(60_000_000_000L);
        LatencyHistogram h = r.snapshot();
        assertEquals(5, h.count());
        assertEquals(10_000 + 2_000_000 + 60_000_000_000L, h.sumNanos());
        assertEquals(3L, h.bucketCounts().get(0));
        assertEquals(1L, h.bucketCounts().get(LatencyRecorder.bucketOf(2_000_000)));
        assertEquals(1L, h.bucketCounts().get(h.bucketCounts().size() - 1));
        assertEquals(LatencyRecorder.UPPER_BOUNDS_NANOS.length, h.upperBoundsNanos().size());
    }

    @Test
    void theFacadeMeasuresReadsWritesAndFlushes() throws Exception {
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine engine = Harness.open(Harness.config("lat0"), new SimulatedPmem(Harness.deviceBytes(6), false),
                Harness.holder(backing), Harness.drainOnlyPolicy());
        facade = new CacheDeviceFacade(engine, Harness.holder(backing), CacheMode.WRITEBACK);

        facade.write(0, Harness.pattern(0, 4096, 1), false);
        assertTrue(facade.tryWrite(4096, Harness.pattern(4096, 4096, 2), false));
        facade.writeZeroes(8192, 4096, false);
        facade.read(0, ByteBuffer.allocate(4096));
        assertTrue(facade.tryRead(0, ByteBuffer.allocate(4096)));
        facade.flush();
        assertTrue(facade.tryFlush());

        CacheStatistics s = facade.statistics();
        assertEquals(3, s.writeLatency().count());
        assertEquals(2, s.readLatency().count());
        assertEquals(2, s.flushLatency().count());
        assertTrue(s.writeLatency().sumNanos() > 0);
        assertEquals(s.writeRequests(), s.writeLatency().count(), "writes and write-zeroes, like writeRequests");
        assertEquals(List.copyOf(s.readLatency().upperBoundsNanos()), s.flushLatency().upperBoundsNanos());
    }

    @Test
    void aDeclinedTryIsNotMeasured() throws Exception {
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine engine = Harness.open(Harness.config("lat1"), new SimulatedPmem(Harness.deviceBytes(6), false),
                Harness.holder(backing), Harness.drainOnlyPolicy());
        facade = new CacheDeviceFacade(engine, Harness.holder(backing), CacheMode.WRITETHROUGH);
        // write-through: tryWrite and tryFlush decline (the backing device must get them too)
        assertEquals(false, facade.tryWrite(0, Harness.pattern(0, 4096, 1), false));
        assertEquals(false, facade.tryFlush());
        assertEquals(0, facade.statistics().writeLatency().count());
        assertEquals(0, facade.statistics().flushLatency().count());
    }
}
