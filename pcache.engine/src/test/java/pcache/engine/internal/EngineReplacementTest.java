package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import pcache.api.CacheMode;
import pcache.api.DataIntegrityException;
import pcache.api.PcacheException;
import pcache.engine.internal.engine.CacheEngine;
import pcache.engine.internal.engine.EngineConfig;
import pcache.writeback.internal.OrderedWritebackPolicy;

/**
 * What the cache device promises across a replacement of its engine (a swap of the pmem
 * mapping, a configuration change) and a change to pass-through, when a step of it fails.
 */
class EngineReplacementTest {

    private static final long LOGICAL = 64 * Harness.MIB;

    /** A write-back cache over a memory disk whose engine a test replaces ({@link #reopen}: the same device again). */
    private record Replaceable(SimulatedPmem pmem, MemoryBacking disk, BackingHolder holder, EngineConfig config,
            CacheDeviceFacade dev) {
        CacheEngine reopen() throws IOException {
            return Harness.open(config, pmem.reopen(), holder, Harness.onlyWhenDraining(new OrderedWritebackPolicy()));
        }
    }

    /** Write-back only when drained: what a test writes stays dirty until it asks. */
    private static Replaceable replaceable(EngineConfig config) throws IOException {
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(6), false);
        MemoryBacking disk = new MemoryBacking(LOGICAL, "disk", false);
        BackingHolder holder = Harness.holder(disk);
        CacheEngine engine = Harness.open(config, pmem, holder, Harness.onlyWhenDraining(new OrderedWritebackPolicy()));
        return new Replaceable(pmem, disk, holder, config, new CacheDeviceFacade(engine, holder, CacheMode.WRITEBACK));
    }

    private static final CacheDeviceFacade.EngineOpener BROKEN = () -> {
        throw new IOException("injected: the new mapping cannot open the device");
    };

    /**
     * A write acknowledged without FUA waits in an open kset. If the engine being replaced cannot
     * persist it, the engine opened next does not have it, so the client's next flush must fail
     * (once), as a flush must not succeed over a write it does not cover. Before, the failure was
     * only logged and the flush succeeded.
     */
    @Test
    void aWriteThatCouldNotBePersistedAtAReplacementFailsTheNextClientFlushOnce() throws Exception {
        Replaceable w = replaceable(Harness.config("unpersisted").withKsetFlushDelayMillis(600_000));
        CacheDeviceFacade dev = w.dev();
        try {
            dev.write(0, Harness.pattern(0, 4096, 1), false); // acknowledged, its kset still open
            w.pmem().failWritesWhere(at -> true);
            dev.replaceEngine(() -> {
                w.pmem().failWritesWhere(null);
                return w.reopen();
            }, BROKEN);
            assertTrue(dev.isInService());
            PcacheException lost = assertThrows(PcacheException.class, dev::flush);
            assertTrue(lost.getMessage().contains("may be lost") && lost.getMessage().contains("not yet flushed"),
                    lost.getMessage());
            dev.flush(); // reported once, as a failed data sync reports lost writes once
        } finally {
            dev.close();
        }
    }

    /** A write persisted before the replacement raises nothing: the next flush succeeds. */
    @Test
    void aReplacementThatPersistsEverythingFailsNoFlush() throws Exception {
        Replaceable w = replaceable(Harness.config("persisted").withKsetFlushDelayMillis(600_000));
        CacheDeviceFacade dev = w.dev();
        try {
            dev.write(0, Harness.pattern(0, 4096, 2), false);
            dev.replaceEngine(w::reopen, BROKEN);
            dev.flush();
            assertArrayEquals(Harness.pattern(0, 4096, 2).array(), Harness.read(dev, 0, 4096),
                    "persisted by the engine replaced, replayed by the new one");
        } finally {
            dev.close();
        }
    }

    /**
     * An Error while the new engine opens (out of memory while it replays a large log, say) rolls
     * back like an exception. Before, the Error skipped the rollback: every request then failed on
     * the closed engine while the cache still counted as in service.
     */
    @Test
    void anErrorWhileTheNewEngineOpensRollsBack() throws Exception {
        Replaceable w = replaceable(Harness.config("error"));
        CacheDeviceFacade dev = w.dev();
        try {
            dev.write(0, Harness.pattern(0, 4096, 3), true);
            OutOfMemoryError thrown = assertThrows(OutOfMemoryError.class, () -> dev.replaceEngine(() -> {
                throw new OutOfMemoryError("injected while replaying");
            }, w::reopen));
            assertEquals("injected while replaying", thrown.getMessage());
            assertTrue(dev.isInService());
            assertArrayEquals(Harness.pattern(0, 4096, 3).array(), Harness.read(dev, 0, 4096));
            dev.write(4096, Harness.pattern(4096, 4096, 4), true);
        } finally {
            dev.close();
        }
    }

    /**
     * A drain under way when the engine is replaced (a pmem swap, a configuration change) goes on
     * with the new engine and ends once the data is on the backing device. Before, it failed with
     * "cache … is closed" although the cache stayed in service, so `pcache:drain` or a removal
     * waiting for it said the cache was gone.
     */
    @Test
    void aDrainUnderWayWhenTheEngineIsReplacedGoesOnWithTheNewEngine() throws Exception {
        Replaceable w = replaceable(Harness.config("drain-swap").withBackingTimeoutMillis(120_000));
        CacheDeviceFacade dev = w.dev();
        ExecutorService drainer = Executors.newSingleThreadExecutor();
        try {
            dev.write(0, Harness.pattern(0, 4096, 8), true);
            w.disk().failWrites.set(Integer.MAX_VALUE); // the drain cannot end before the swap
            long before = w.disk().writes.get();
            Future<?> drained = drainer.submit(() -> {
                dev.drain(null);
                return null;
            });
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (w.disk().writes.get() == before) { // write-back writes only while a drain runs
                assertFalse(drained.isDone(), "the drain ended before write-back tried to write");
                assertTrue(System.nanoTime() < deadline, "write-back never tried to write");
                Thread.sleep(5);
            }
            dev.replaceEngine(w::reopen, BROKEN);
            w.disk().failWrites.set(0);
            drained.get(60, TimeUnit.SECONDS); // before: ExecutionException, "cache drain-swap is closed"
            ByteBuffer onDisk = ByteBuffer.allocate(4096);
            w.disk().read(0, onDisk);
            assertArrayEquals(Harness.pattern(0, 4096, 8).array(), onDisk.array(), "drained by the new engine");
            dev.setGcPercent(50);
            assertEquals(50, dev.gcPercent());
        } finally {
            drainer.shutdownNow();
            dev.close();
        }
    }

    /**
     * A cache out of service (a swap and its rollback failed) comes back when a later swap's
     * rollback opens, not only when its open does. Before, the rolled-back engine ran while every
     * request was refused.
     */
    @Test
    void aRollbackThatOpensBringsACacheOutOfServiceBackToo() throws Exception {
        Replaceable w = replaceable(Harness.config("rollback"));
        CacheDeviceFacade dev = w.dev();
        try {
            dev.write(0, Harness.pattern(0, 4096, 5), true);
            assertThrows(IOException.class, () -> dev.replaceEngine(BROKEN, BROKEN));
            assertFalse(dev.isInService());
            assertThrows(IOException.class, () -> dev.replaceEngine(BROKEN, w::reopen));
            assertTrue(dev.isInService());
            assertArrayEquals(Harness.pattern(0, 4096, 5).array(), Harness.read(dev, 0, 4096));
            dev.flush(); // nothing was acknowledged while out of service: no report of lost writes
        } finally {
            dev.close();
        }
    }

    /**
     * A dirty extent whose data fails its CRC is quarantined by the drain into pass-through, and
     * its range stays refused there: the backing device holds an older version. A pass-through
     * write lifts the quarantine, also for the modes after it. Before, pass-through served the
     * older version without an error, and a range rewritten in pass-through was still refused
     * after the return to write-back.
     */
    @Test
    void aQuarantinedRangeStaysRefusedInPassthroughUntilWrittenThere() throws Exception {
        Replaceable w = replaceable(Harness.config("quarantine").withDataCrc(true));
        CacheDeviceFacade dev = w.dev();
        try {
            w.disk().write(0, Harness.pattern(0, 16384, 9), false); // the older version
            dev.write(0, Harness.pattern(0, 8192, 1), true);
            dev.write(8192, Harness.pattern(8192, 4096, 2), true);
            w.pmem().corrupt(Harness.dataPlace(dev.engine(), 0).deviceOffset() + 100, 0x01);
            dev.setMode(CacheMode.PASSTHROUGH);
            DataIntegrityException refused = assertThrows(DataIntegrityException.class, () -> Harness.read(dev, 4096, 512));
            assertEquals(0, refused.offset());
            assertArrayEquals(Harness.pattern(8192, 4096, 2).array(), Harness.read(dev, 8192, 4096),
                    "the neighbour was written back");
            dev.write(0, Harness.pattern(0, 8192, 3), false);
            assertArrayEquals(Harness.pattern(0, 8192, 3).array(), Harness.read(dev, 0, 8192));
            dev.setMode(CacheMode.WRITEBACK);
            assertArrayEquals(Harness.pattern(0, 8192, 3).array(), Harness.read(dev, 0, 8192));
        } finally {
            dev.close();
        }
    }
}
