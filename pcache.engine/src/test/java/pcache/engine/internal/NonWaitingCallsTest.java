package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import pcache.api.CacheMode;
import pcache.api.CacheStatistics;
import pcache.engine.internal.engine.CacheEngine;

/**
 * {@code tryRead}, {@code tryWrite} and {@code tryFlush}: they do what {@code read}, {@code write}
 * and {@code flush} do when that needs no waiting, and otherwise refuse without side effects the
 * caller could see (positions unchanged, nothing counted), so the caller can hand the request to
 * a thread that may wait.
 */
@Timeout(60)
class NonWaitingCallsTest {

    private static final long LOGICAL = 256 * Harness.MIB;

    @Test
    void tryReadServesHitsOnlyAndCountsThemAsHits() throws Exception {
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        backing.write(0, Harness.pattern(0, (int) Harness.MIB, 5), false);
        CacheEngine e = Harness.open(Harness.config("t"), new SimulatedPmem(Harness.deviceBytes(8), false),
                Harness.holder(backing), null);
        try {
            ByteBuffer dst = ByteBuffer.allocate(8192);
            dst.position(16).limit(16 + 4096);
            assertFalse(e.tryRead(0, dst), "nothing cached yet: a miss");
            assertEquals(16, dst.position());
            assertEquals(0, e.statistics().readRequests());

            e.write(4096, Harness.pattern(4096, 4096, 1), false);
            assertFalse(e.tryRead(0, ByteBuffer.allocate(8192)), "half cached: still a miss");
            ByteBuffer hit = ByteBuffer.allocate(4096);
            assertTrue(e.tryRead(4096, hit));
            assertEquals(4096, hit.position());
            assertArrayEquals(Harness.pattern(4096, 4096, 1).array(), hit.array());

            Harness.read(e, 65536, 8192); // a miss fills the cache
            ByteBuffer filled = ByteBuffer.allocate(8192);
            assertTrue(e.tryRead(65536, filled), "filled by the miss: now a hit");
            assertArrayEquals(Arrays.copyOfRange(Harness.pattern(0, (int) Harness.MIB, 5).array(), 65536, 65536 + 8192),
                    filled.array());

            CacheStatistics s = e.statistics();
            assertEquals(3, s.readRequests(), "two hits in place and one miss read");
            assertEquals(2, s.readHits());
            assertEquals(1, s.readMisses());
        } finally {
            e.close();
        }
    }

    @Test
    void tryWriteWritesUntilSpaceRunsOutAndNeverWaits() throws Exception {
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        // no write-back policy: nothing is ever reclaimed, so the cache fills for good
        CacheEngine e = Harness.open(Harness.config("t"), new SimulatedPmem(Harness.deviceBytes(6), false),
                Harness.holder(backing), null);
        try {
            long written = 0;
            ByteBuffer refused = null;
            for (long off = 0; off < LOGICAL; off += Harness.MIB) {
                ByteBuffer src = Harness.pattern(off, (int) Harness.MIB, 2);
                if (!e.tryWrite(off, src, false)) {
                    refused = src;
                    break;
                }
                assertFalse(src.hasRemaining());
                written += Harness.MIB;
            }
            assertTrue(refused != null, "a cache of 6 segments cannot take 256 MiB");
            assertEquals(0, refused.position(), "a refused write leaves its buffer alone");
            assertTrue(written >= 32 * Harness.MIB, "most of the cache was usable: " + written);
            assertEquals(0, e.statistics().deferredRequests(), "nobody waited for space");
            assertEquals(written / Harness.MIB, e.statistics().writeRequests());
            for (long off = 0; off < written; off += Harness.MIB) {
                assertArrayEquals(Harness.pattern(off, (int) Harness.MIB, 2).array(),
                        Harness.read(e, off, (int) Harness.MIB), "at " + off);
            }
        } finally {
            e.close();
        }
    }

    @Test
    void theDeviceTriesOnlyInModesThatNeedNoBackingDevice() throws Exception {
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine engine = Harness.open(Harness.config("t"), new SimulatedPmem(Harness.deviceBytes(8), false),
                Harness.holder(backing), Harness.drainOnlyPolicy());
        CacheDeviceFacade dev = new CacheDeviceFacade(engine, Harness.holder(backing), CacheMode.WRITEBACK);
        try {
            assertTrue(dev.tryWrite(0, Harness.pattern(0, 4096, 3), true));
            assertTrue(dev.tryFlush());
            assertTrue(dev.tryRead(0, ByteBuffer.allocate(4096)));

            dev.setMode(CacheMode.WRITETHROUGH);
            assertFalse(dev.tryWrite(0, Harness.pattern(0, 4096, 4), false), "write-through must reach the backing device");
            assertFalse(dev.tryFlush(), "a write-through flush flushes the backing device");
            assertTrue(dev.tryRead(0, ByteBuffer.allocate(4096)), "hits are still hits");

            dev.setMode(CacheMode.PASSTHROUGH);
            assertFalse(dev.tryRead(0, ByteBuffer.allocate(4096)));
            assertFalse(dev.tryWrite(0, Harness.pattern(0, 4096, 5), false));
            assertArrayEquals(Harness.pattern(0, 4096, 3).array(), backing.content(0, 4096),
                    "only the blocking calls ran in pass-through: the drained FUA write is on the backing device");
        } finally {
            dev.close();
        }
    }
}
