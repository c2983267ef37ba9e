package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import pcache.api.BackingDeviceException;
import pcache.api.CacheMode;
import pcache.api.DeviceClosedException;
import pcache.engine.internal.engine.CacheEngine;
import pcache.writeback.internal.OrderedWritebackPolicy;

/**
 * A backing device that goes away (unbound by a swap or removed) while clients wrote to it
 * directly, in pass-through or write-through mode: what they wrote is flushed on it first, since
 * their next flush reaches only the device bound then. Before, the device was let go unflushed,
 * and a client flush cut off by its close was issued again on the new device and succeeded.
 */
class BackingDepartureTest {

    private static final long LOGICAL = 64 * Harness.MIB;
    private static final long SEED = 20261206L;

    private record Setup(MemoryBacking first, MemoryBacking second, BackingHolder holder, CacheDeviceFacade dev) {
    }

    private static Setup open(String name, CacheMode mode, boolean forgetful) throws IOException {
        MemoryBacking first = new MemoryBacking(LOGICAL, "disk", forgetful);
        MemoryBacking second = new MemoryBacking(LOGICAL, "disk", false);
        BackingHolder holder = Harness.holder(first);
        CacheEngine engine = Harness.open(Harness.config(name), new SimulatedPmem(Harness.deviceBytes(6), false),
                holder, Harness.onlyWhenDraining(new OrderedWritebackPolicy()));
        return new Setup(first, second, holder, new CacheDeviceFacade(engine, holder, mode));
    }

    /** Binds {@code second} as DS does for a replacement (the new one first), then lets {@code first} go. */
    private static void swap(Setup s) {
        assertNull(s.holder.set(s.second), "the same disk: bound");
        s.dev.backingGoes(s.first);
    }

    @Test
    void passthroughWritesWaitingForAFlushAreFlushedOnTheDeviceTheyWentToBeforeItGoes() throws Exception {
        System.out.println("seed " + SEED);
        Setup s = open("goes", CacheMode.PASSTHROUGH, true);
        try {
            s.dev.write(0, Harness.pattern(0, 8192, 3), false);
            long flushes = s.first.flushes.get();
            swap(s);
            assertTrue(s.first.flushes.get() > flushes, "the device going away was flushed");
            assertArrayEquals(Harness.pattern(0, 8192, 3).array(),
                    s.first.afterCrash(new Random(SEED)).content(0, 8192), "the write survives a crash of that device");
            assertTrue(s.holder.peek() == s.second, "the new device is bound");
            s.dev.flush(); // nothing lost: the client's flush succeeds, on the new device
            assertTrue(s.second.flushes.get() > 0);
        } finally {
            s.dev.close();
        }
    }

    /**
     * A client flush that runs after the replacement is bound but before the old device is let
     * go flushes the old one too: it covers every write acknowledged before it.
     */
    @Test
    void aClientFlushBetweenTheBindAndTheUnbindCoversTheOldDeviceToo() throws Exception {
        System.out.println("seed " + SEED);
        Setup s = open("between", CacheMode.PASSTHROUGH, true);
        try {
            s.dev.write(0, Harness.pattern(0, 4096, 2), false);
            assertNull(s.holder.set(s.second));
            s.dev.flush();
            assertArrayEquals(Harness.pattern(0, 4096, 2).array(),
                    s.first.afterCrash(new Random(SEED)).content(0, 4096), "the old device was flushed");
            long flushes = s.first.flushes.get();
            s.dev.backingGoes(s.first);
            assertEquals(flushes, s.first.flushes.get(), "already covered: nothing to flush as it goes");
        } finally {
            s.dev.close();
        }
    }

    /**
     * In write-through mode the cache holds every write, and write-back writes it to the device
     * bound: a device that goes without a flush loses nothing, and no client flush fails for it.
     */
    @Test
    void inWritethroughADeviceThatCannotBeFlushedAsItGoesFailsNoClientFlush() throws Exception {
        Setup s = open("wt", CacheMode.WRITETHROUGH, true);
        try {
            s.dev.write(0, Harness.pattern(0, 4096, 1), false);
            s.first.failFlushes.set(1);
            swap(s);
            s.dev.flush();
            s.dev.drain(null);
            assertArrayEquals(Harness.pattern(0, 4096, 1).array(), s.second.content(0, 4096),
                    "write-back wrote it to the new device");
        } finally {
            s.dev.close();
        }
    }

    /** A write still on its way to the device when it goes lands first, and the flush covers it. */
    @Test
    @org.junit.jupiter.api.Timeout(60)
    void aWriteOnItsWayToTheDeviceLandsBeforeTheFlushThatLetsItGo() throws Exception {
        System.out.println("seed " + SEED);
        Hooks h = hooked("inflight");
        ExecutorService pool = Executors.newFixedThreadPool(2);
        CountDownLatch land = new CountDownLatch(1);
        try {
            Future<?> write = writeOnItsWay(h, pool, 0, 4, land);
            long flushes = h.disk.flushes.get();
            Future<?> goes = pool.submit(() -> {
                assertNull(h.holder.set(h.second));
                h.dev.backingGoes(h.first);
                return null;
            });
            assertTrue(h.first.stateAsked.await(10, TimeUnit.SECONDS), "the departure began");
            Thread.sleep(100); // give a departure that does not wait the time to flush
            assertEquals(flushes, h.disk.flushes.get(), "the departure waits for the write on its way");
            h.first.beforeWrite = null;
            land.countDown();
            write.get(10, TimeUnit.SECONDS);
            goes.get(10, TimeUnit.SECONDS);
            assertArrayEquals(Harness.pattern(0, 4096, 4).array(),
                    h.disk.afterCrash(new Random(SEED)).content(0, 4096), "the write was flushed");
        } finally {
            land.countDown();
            pool.shutdownNow();
            h.dev.close();
        }
    }

    @Test
    void aDeviceThatCannotBeFlushedAsItGoesFailsTheNextClientFlushOnceNamingIt() throws Exception {
        Setup s = open("goes-failing", CacheMode.PASSTHROUGH, true);
        try {
            s.dev.write(0, Harness.pattern(0, 4096, 5), false);
            s.first.failedFlushLosesWrites = true;
            s.first.failFlushes.set(1);
            swap(s);
            BackingDeviceException lost = assertThrows(BackingDeviceException.class, s.dev::flush);
            assertTrue(lost.getMessage().contains("memory:disk") && lost.getMessage().contains("may be lost")
                    && lost.getMessage().contains("injected flush failure"), lost.getMessage());
            s.dev.flush(); // reported once, as a file's data sync reports a failed write-out
        } finally {
            s.dev.close();
        }
    }

    @Test
    void aDeviceWhoseWritesWereFlushedGoesWithoutAnotherFlushOrAnError() throws Exception {
        Setup s = open("goes-flushed", CacheMode.PASSTHROUGH, true);
        try {
            s.dev.write(0, Harness.pattern(0, 4096, 6), false);
            s.dev.flush();
            s.dev.write(4096, Harness.pattern(4096, 4096, 6), true); // FUA: durable on its own
            long flushes = s.first.flushes.get();
            s.first.failFlushes.set(1); // a dead device: no false alarm for writes already durable
            swap(s);
            assertEquals(flushes, s.first.flushes.get(), "nothing to flush");
            s.dev.flush();
        } finally {
            s.dev.close();
        }
    }

    /**
     * A client flush cut off by the close of the device its writes went to fails: issued again
     * on the new device, it succeeds there, but the old device, which holds the writes, cannot be
     * flushed any more. Before, the flush succeeded without covering them.
     */
    @Test
    void aFlushCutOffByACloseWhileWritesWaitForItFails() throws Exception {
        Hooks h = hooked("cut");
        h.first.closingFlush = () -> {
            assertNull(h.holder.set(h.second));
            h.disk.close();
        };
        try {
            h.dev.write(0, Harness.pattern(0, 4096, 8), false);
            BackingDeviceException cut = assertThrows(BackingDeviceException.class, h.dev::flush);
            assertTrue(cut.getMessage().contains("memory:disk (no longer the one bound)")
                    && cut.getMessage().contains("may be lost") && cut.getMessage().contains("closed"), cut.getMessage());
            assertEquals(1, h.second.flushes.get(), "issued again on the new device");
            // reported once; with nothing left uncovered, flushes work on the new device
            h.dev.write(0, Harness.pattern(0, 4096, 9), false);
            h.dev.flush();
        } finally {
            h.dev.close();
        }
    }

    /**
     * A write counts as covered only by a flush that began after it landed: a flush on another
     * connection while the write is still on its way does not cover it, so the device is flushed
     * again when it goes.
     */
    @Test
    @org.junit.jupiter.api.Timeout(60)
    void aFlushWhileAWriteIsOnItsWayDoesNotCoverIt() throws Exception {
        System.out.println("seed " + SEED);
        Hooks h = hooked("onitsway");
        ExecutorService pool = Executors.newFixedThreadPool(1);
        CountDownLatch land = new CountDownLatch(1);
        try {
            Future<?> write = writeOnItsWay(h, pool, 0, 6, land);
            h.dev.flush(); // another client's flush, while the write has not reached the device
            h.first.beforeWrite = null;
            land.countDown();
            write.get(10, TimeUnit.SECONDS);
            long flushes = h.disk.flushes.get();
            assertNull(h.holder.set(h.second));
            h.dev.backingGoes(h.first);
            assertTrue(h.disk.flushes.get() > flushes, "flushed as it went: the earlier flush did not cover the write");
            assertArrayEquals(Harness.pattern(0, 4096, 6).array(),
                    h.disk.afterCrash(new Random(SEED)).content(0, 4096), "the write was flushed");
        } finally {
            land.countDown();
            pool.shutdownNow();
            h.dev.close();
        }
    }

    /**
     * A client flush that cannot flush the old device reports it, and a write still on its way to
     * that device stays counted: the departure that follows flushes it. (A review found the first
     * version forgot the device once it had reported it, so such a write went uncovered.)
     */
    @Test
    @org.junit.jupiter.api.Timeout(60)
    void aWriteOnItsWayStaysCountedAfterAFailedFlushOfItsDeviceWasReported() throws Exception {
        System.out.println("seed " + SEED);
        Hooks h = hooked("reported");
        ExecutorService pool = Executors.newFixedThreadPool(1);
        CountDownLatch land = new CountDownLatch(1);
        try {
            h.dev.write(0, Harness.pattern(0, 4096, 1), false); // uncovered on the old device
            Future<?> write = writeOnItsWay(h, pool, 8192, 2, land);
            assertNull(h.holder.set(h.second)); // the replacement is bound; the old device not yet let go
            h.disk.failFlushes.set(1);
            BackingDeviceException lost = assertThrows(BackingDeviceException.class, h.dev::flush);
            assertTrue(lost.getMessage().contains("injected flush failure"), lost.getMessage());
            h.first.beforeWrite = null;
            land.countDown();
            write.get(10, TimeUnit.SECONDS); // acknowledged on the old device after the report
            h.dev.backingGoes(h.first);
            assertArrayEquals(Harness.pattern(8192, 4096, 2).array(),
                    h.disk.afterCrash(new Random(SEED)).content(8192, 4096), "flushed as the device went");
            h.dev.flush();
        } finally {
            land.countDown();
            pool.shutdownNow();
            h.dev.close();
        }
    }

    /**
     * A report made while leaving pass-through does not keep the cache in pass-through: the
     * switch goes on, and the next client flush, in write-back mode, gets the report.
     */
    @Test
    void aReportMadeWhileLeavingPassthroughGoesToTheNextClientFlushInTheNewMode() throws Exception {
        Setup s = open("leaving", CacheMode.PASSTHROUGH, true);
        try {
            s.dev.write(0, Harness.pattern(0, 4096, 3), false);
            assertNull(s.holder.set(s.second)); // the old device not yet let go
            s.first.failFlushes.set(1);
            s.dev.setMode(CacheMode.WRITEBACK);
            assertEquals(CacheMode.WRITEBACK, s.dev.mode());
            BackingDeviceException lost = assertThrows(BackingDeviceException.class, s.dev::flush);
            assertTrue(lost.getMessage().contains("may be lost"), lost.getMessage());
            s.dev.flush();
        } finally {
            s.dev.close();
        }
    }

    /**
     * {@code device} with hooks outside its lock: {@link HeldWrites#beforeWrite} runs before each
     * write, and {@link #closingFlush} (once) in the next flush, which then finds the device closed.
     */
    private static final class Hooked extends HeldWrites {
        volatile Runnable closingFlush;
        /** Counted down when its state is asked (a departure asks before it waits for writes). */
        final CountDownLatch stateAsked = new CountDownLatch(1);

        Hooked(MemoryBacking device) {
            super(device);
        }

        @Override
        public pcache.api.BackingState state() {
            stateAsked.countDown();
            return super.state();
        }

        @Override
        public void flush() throws IOException {
            Runnable h = closingFlush;
            closingFlush = null;
            if (h != null) {
                h.run();
                throw new DeviceClosedException("memory backing closed during its flush");
            }
            super.flush();
        }
    }

    /** A pass-through cache whose backing device {@code first} (over {@code disk}) has hooks; {@code second} replaces it. */
    private record Hooks(MemoryBacking disk, Hooked first, MemoryBacking second, BackingHolder holder,
            CacheDeviceFacade dev) {
    }

    private static Hooks hooked(String name) throws IOException {
        MemoryBacking disk = new MemoryBacking(LOGICAL, "disk", true);
        Hooked first = new Hooked(disk);
        BackingHolder holder = new BackingHolder(name);
        holder.set(first);
        CacheEngine engine = Harness.open(Harness.config(name), new SimulatedPmem(Harness.deviceBytes(6), false),
                holder, Harness.onlyWhenDraining(new OrderedWritebackPolicy()));
        return new Hooks(disk, first, new MemoryBacking(LOGICAL, "disk", false), holder,
                new CacheDeviceFacade(engine, holder, CacheMode.PASSTHROUGH));
    }
    /**
     * Starts a pass-through write of 4 KiB at {@code offset} (pattern {@code tag}) that waits on
     * its way to the device until {@code land} opens; returns once it waits there.
     */
    private static Future<?> writeOnItsWay(Hooks h, ExecutorService pool, long offset, int tag, CountDownLatch land)
            throws InterruptedException {
        CountDownLatch writing = new CountDownLatch(1);
        h.first.holdWrites(writing, land, false);
        Future<?> write = pool.submit(() -> {
            h.dev.write(offset, Harness.pattern(offset, 4096, tag), false);
            return null;
        });
        assertTrue(writing.await(10, TimeUnit.SECONDS), "the write is on its way");
        return write;
    }
}
