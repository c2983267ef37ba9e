package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import pcache.api.CacheMode;
import pcache.api.spi.ForwardingBackingDevice;
import pcache.engine.internal.engine.CacheEngine;
import pcache.writeback.internal.OrderedWritebackPolicy;

/**
 * In write-through mode a write reaches the backing device before it is acknowledged, and is
 * logged dirty in the cache too; write-back writes the log back later. It must never put an older
 * version of a range back over a newer one that a write-through request already put there: a
 * client that flushed the newer write would otherwise find the older one on the backing device
 * while write-back catches up, and for good if the cache device were lost then. Before, it did,
 * for older write-through writes and for data left dirty by write-back mode.
 *
 * <p>Each test follows the 4 KiB at offset 0 on the backing device: every write that covers it is
 * recorded by the tag of its pattern, in the order the device took them.
 */
class WriteThroughOrderTest {

    private static final long LOGICAL = 64 * Harness.MIB;

    /** A cache over {@code disk} (write-back only when drained), through a device with a hook outside its lock. */
    private record Setup(MemoryBacking disk, Held held, BackingHolder holder, CacheDeviceFacade dev, List<Long> tags) {
    }

    private static Setup open(String name, CacheMode mode) throws IOException {
        MemoryBacking disk = new MemoryBacking(LOGICAL, "disk", false);
        List<Long> tags = Collections.synchronizedList(new ArrayList<>());
        disk.onWrite = (offset, bytes) -> {
            if (offset <= 0 && offset + bytes.length >= 4096) {
                tags.add(ByteBuffer.wrap(bytes).getLong((int) -offset));
            }
        };
        Held held = new Held(disk);
        BackingHolder holder = new BackingHolder(name);
        holder.set(held);
        CacheEngine engine = Harness.open(Harness.config(name), new SimulatedPmem(Harness.deviceBytes(6), false),
                holder, Harness.onlyWhenDraining(new OrderedWritebackPolicy()));
        return new Setup(disk, held, holder, new CacheDeviceFacade(engine, holder, mode), tags);
    }

    private static void write(Setup s, int tag) throws IOException {
        s.dev.write(0, Harness.pattern(0, 4096, tag), false);
    }

    /** The tags the backing device took after the first time it took {@code tag}. */
    private static List<Long> after(Setup s, long tag) {
        synchronized (s.tags) {
            int at = s.tags.indexOf(tag);
            assertTrue(at >= 0, "the backing device took version " + tag + ": " + s.tags);
            return new ArrayList<>(s.tags.subList(at + 1, s.tags.size()));
        }
    }

    private static void assertHolds(Setup s, int tag) throws IOException {
        assertArrayEquals(Harness.pattern(0, 4096, tag).array(), s.disk.content(0, 4096),
                "the backing device holds version " + tag);
    }

    @Test
    void writebackDoesNotPutAnOlderWriteThroughWriteBackOverANewerOne() throws Exception {
        Setup s = open("wt-older", CacheMode.WRITETHROUGH);
        try {
            write(s, 1);
            s.dev.flush();
            write(s, 2);
            s.dev.flush();
            s.dev.drain(null);
            assertTrue(!after(s, 2).contains(1L), "version 1 came back after version 2: " + s.tags);
            assertHolds(s, 2);
        } finally {
            s.dev.close();
        }
    }

    /** Data left dirty in write-back mode, replaced by a write-through write after the switch. */
    @Test
    void dirtyDataFromWritebackModeIsNotWrittenOverAWriteThroughWriteAfterTheSwitch() throws Exception {
        Setup s = open("wb-then-wt", CacheMode.WRITEBACK);
        try {
            write(s, 1);
            s.dev.flush();
            s.dev.setMode(CacheMode.WRITETHROUGH);
            write(s, 2);
            s.dev.flush();
            s.dev.drain(null);
            assertTrue(!after(s, 2).contains(1L), "version 1 came back after version 2: " + s.tags);
            assertHolds(s, 2);
        } finally {
            s.dev.close();
        }
    }

    /**
     * Only a write that reached the backing device directly replaces an older version there:
     * versions that write-back mode replaced are still written back in order, as the ordered
     * policy promises, also once write-through writes were made elsewhere.
     */
    @Test
    void versionsReplacedInWritebackModeAreStillWrittenBackInOrder() throws Exception {
        Setup s = open("wt-then-wb", CacheMode.WRITETHROUGH);
        try {
            s.dev.write(Harness.MIB, Harness.pattern(Harness.MIB, 4096, 9), false); // marks exist
            s.dev.setMode(CacheMode.WRITEBACK);
            write(s, 1);
            s.dev.flush();
            write(s, 2);
            s.dev.flush();
            s.dev.drain(null);
            assertEquals(List.of(1L, 2L), s.tags, "each version written back, in order");
            assertHolds(s, 2);
        } finally {
            s.dev.close();
        }
    }

    /**
     * Write-back looks at the index and writes with the range held: a write-through write of the
     * range that comes meanwhile reaches the backing device only after write-back's write, not
     * before it (where write-back's older bytes would then land over it).
     */
    @Test
    @Timeout(60)
    void aWriteThroughWriteDuringWritebacksWriteOfTheRangeLandsAfterIt() throws Exception {
        Setup s = open("wt-race", CacheMode.WRITETHROUGH);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            write(s, 1);
            s.dev.flush();
            CountDownLatch writing = new CountDownLatch(1);
            CountDownLatch land = new CountDownLatch(1);
            s.held.holdNext(writing, land);
            Future<?> drain = pool.submit(() -> {
                s.dev.drain(null);
                return null;
            });
            assertTrue(writing.await(10, TimeUnit.SECONDS), "write-back writes version 1");
            Future<?> newer = pool.submit(() -> {
                write(s, 3);
                return null;
            });
            try {
                newer.get(1, TimeUnit.SECONDS);
            } catch (TimeoutException expected) {
                // waits for write-back's write of the range, as it should
            }
            land.countDown();
            newer.get(10, TimeUnit.SECONDS);
            drain.get(10, TimeUnit.SECONDS);
            s.dev.flush();
            assertTrue(!after(s, 3).contains(1L), "version 1 landed after version 3: " + s.tags);
            assertHolds(s, 3);
        } finally {
            land(s);
            pool.shutdownNow();
            s.dev.close();
        }
    }

    /**
     * What write-through writes put on one device says nothing of another: after a swap,
     * write-back writes every version to the new device in order.
     */
    @Test
    void afterASwapEveryVersionIsWrittenBackToTheNewDevice() throws Exception {
        Setup s = open("wt-swap", CacheMode.WRITETHROUGH);
        try {
            write(s, 1);
            s.dev.flush();
            write(s, 2);
            s.dev.flush();
            MemoryBacking second = new MemoryBacking(LOGICAL, "disk", false);
            List<Long> tags = Collections.synchronizedList(new ArrayList<>());
            second.onWrite = (offset, bytes) -> {
                if (offset <= 0 && offset + bytes.length >= 4096) {
                    tags.add(ByteBuffer.wrap(bytes).getLong((int) -offset));
                }
            };
            assertNull(s.holder.set(second));
            s.dev.backingGoes(s.held);
            s.dev.drain(null);
            assertEquals(List.of(1L, 2L), tags, "each version written back to the new device, in order");
        } finally {
            s.dev.close();
        }
    }

    private static void land(Setup s) {
        s.held.beforeWrite = null;
    }

    /** {@code disk} with a hook outside its lock: {@link #holdNext} holds the next write before it reaches the disk. */
    private static final class Held extends ForwardingBackingDevice {
        volatile Runnable beforeWrite;

        Held(MemoryBacking disk) {
            super(disk);
        }

        @Override
        public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
            Runnable h = beforeWrite;
            if (h != null) {
                h.run();
            }
            super.write(offset, src, fua);
        }

        /** Holds the next write (only that one) until {@code land} opens; {@code writing} says it waits. */
        void holdNext(CountDownLatch writing, CountDownLatch land) {
            AtomicBoolean once = new AtomicBoolean(true);
            beforeWrite = () -> {
                if (!once.getAndSet(false)) {
                    return;
                }
                writing.countDown();
                try {
                    land.await(20, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            };
        }
    }
}
