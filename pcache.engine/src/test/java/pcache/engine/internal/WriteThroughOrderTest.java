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

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import pcache.api.CacheMode;
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
    private record Setup(MemoryBacking disk, HeldWrites held, BackingHolder holder, CacheDeviceFacade dev, List<Long> tags,
            CacheEngine engine) {
    }

    private static Setup open(String name, CacheMode mode) throws IOException {
        return open(name, mode, false);
    }

    /** With {@code forgetful}, the disk loses unflushed writes when a flush fails ({@link MemoryBacking}). */
    private static Setup open(String name, CacheMode mode, boolean forgetful) throws IOException {
        List<Long> tags = Collections.synchronizedList(new ArrayList<>());
        MemoryBacking disk = recorded(tags, forgetful);
        HeldWrites held = new HeldWrites(disk);
        BackingHolder holder = new BackingHolder(name);
        holder.set(held);
        CacheEngine engine = Harness.open(Harness.config(name), new SimulatedPmem(Harness.deviceBytes(6), false),
                holder, Harness.onlyWhenDraining(new OrderedWritebackPolicy()));
        return new Setup(disk, held, holder, new CacheDeviceFacade(engine, holder, mode), tags, engine);
    }

    /** A disk (of the same identity each time) that adds to {@code tags} the tag of every write covering offset 0. */
    private static MemoryBacking recorded(List<Long> tags, boolean forgetful) {
        MemoryBacking disk = new MemoryBacking(LOGICAL, "disk", forgetful);
        disk.onWrite = (offset, bytes) -> {
            if (offset <= 0 && offset + bytes.length >= 4096) {
                tags.add(ByteBuffer.wrap(bytes).getLong((int) -offset));
            }
        };
        return disk;
    }

    private static MemoryBacking recorded(List<Long> tags) {
        return recorded(tags, false);
    }

    /** The write-through epoch the index key serving offset 0 is marked with (0: not marked). */
    private static int markAt0(Setup s) {
        pcache.api.spi.KeySlice slice = s.engine.index().slice(0);
        int[] mark = {-1};
        slice.lock();
        try {
            slice.forEach(k -> {
                if (!k.isEmpty() && k.offset() == 0) {
                    mark[0] = k.onBackingEpoch();
                }
            });
        } finally {
            slice.unlock();
        }
        assertTrue(mark[0] >= 0, "a key serves offset 0");
        return mark[0];
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
        olderNotOverAWriteThroughWrite("wt-older", CacheMode.WRITETHROUGH);
    }

    /** Data left dirty in write-back mode, replaced by a write-through write after the switch. */
    @Test
    void dirtyDataFromWritebackModeIsNotWrittenOverAWriteThroughWriteAfterTheSwitch() throws Exception {
        olderNotOverAWriteThroughWrite("wb-then-wt", CacheMode.WRITEBACK);
    }

    /** Version 1 written in {@code firstMode} and flushed, version 2 written through and flushed, drained. */
    private static void olderNotOverAWriteThroughWrite(String name, CacheMode firstMode) throws Exception {
        Setup s = open(name, firstMode);
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
        writeDuringWritebacksWrite("wt-race", CacheMode.WRITETHROUGH);
    }

    /**
     * The first write-through write after write-back mode waits for write-back's write of its
     * range too (write-back always holds the range it writes), so the older version cannot land
     * after it.
     */
    @Test
    @Timeout(60)
    void theFirstWriteThroughWriteWaitsForWritebacksWriteOfTheRange() throws Exception {
        writeDuringWritebacksWrite("wt-first", CacheMode.WRITEBACK);
    }

    /**
     * Version 1 written in {@code firstMode} and flushed; write-through from then on. Write-back's
     * write of version 1 is held on its way while a write-through write of version 2 comes: version
     * 2 must land after it.
     */
    private static void writeDuringWritebacksWrite(String name, CacheMode firstMode) throws Exception {
        Setup s = open(name, firstMode);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        CountDownLatch land = new CountDownLatch(1);
        try {
            write(s, 1);
            s.dev.flush();
            s.dev.setMode(CacheMode.WRITETHROUGH);
            CountDownLatch writing = new CountDownLatch(1);
            s.held.holdWrites(writing, land, true);
            Future<?> drain = pool.submit(() -> {
                s.dev.drain(null);
                return null;
            });
            assertTrue(writing.await(10, TimeUnit.SECONDS), "write-back writes version 1");
            Future<?> newer = pool.submit(() -> {
                write(s, 2);
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
            assertTrue(!after(s, 2).contains(1L), "version 1 landed after version 2: " + s.tags);
            assertHolds(s, 2);
        } finally {
            land.countDown();
            pool.shutdownNow();
            s.dev.close();
        }
    }

    /**
     * A newer write-through write over a landed version does not hide it while it is on its way:
     * its pieces over the marked ones are marked as it enters the index, before its own backing
     * write (so write-back, looking meanwhile, still leaves the older versions out).
     */
    @Test
    @Timeout(60)
    void aWriteThroughWriteOnItsWayOverALandedOneIsMarkedAsItEntersTheIndex() throws Exception {
        Setup s = open("wt-inherit", CacheMode.WRITETHROUGH);
        ExecutorService pool = Executors.newFixedThreadPool(1);
        CountDownLatch land = new CountDownLatch(1);
        try {
            write(s, 1); // lands
            int marked = markAt0(s);
            assertTrue(marked > 0, "the landed write is marked");
            CountDownLatch writing = new CountDownLatch(1);
            s.held.holdWrites(writing, land, true);
            Future<?> newer = pool.submit(() -> {
                write(s, 2);
                return null;
            });
            assertTrue(writing.await(10, TimeUnit.SECONDS), "version 2 is on its way");
            assertEquals(marked, markAt0(s), "version 2's key is marked over the landed one, before it lands");
            land.countDown();
            newer.get(10, TimeUnit.SECONDS);
        } finally {
            land.countDown();
            pool.shutdownNow();
            s.dev.close();
        }
    }

    /**
     * A backing write that fails has an unknown outcome: an NBD server may still carry it out
     * later, over a version that landed after it, and no epoch can tell. A write-through write
     * that fails makes write-back write every version in order again (as before marks), which
     * repairs whatever lands late.
     */
    @Test
    void aWriteThroughWriteThatFailsMakesWritebackWriteEveryVersionInOrderAgain() throws Exception {
        Setup s = open("wt-failed", CacheMode.WRITEBACK);
        try {
            write(s, 1); // left dirty by write-back mode
            s.dev.flush();
            s.dev.setMode(CacheMode.WRITETHROUGH);
            write(s, 2); // lands
            s.dev.flush();
            s.disk.failWrites.set(1);
            org.junit.jupiter.api.Assertions.assertThrows(IOException.class, () -> write(s, 3));
            s.dev.drain(null);
            assertEquals(List.of(1L, 2L, 3L), after(s, 3), "every version written back, in order: " + s.tags);
            assertHolds(s, 3);
        } finally {
            s.dev.close();
        }
    }

    /** So does a write-through request's trim that fails (elsewhere: any later landing may be undone). */
    @Test
    void aWriteThroughTrimThatFailsMakesWritebackWriteEveryVersionInOrderAgain() throws Exception {
        Setup s = open("wt-trim-failed", CacheMode.WRITETHROUGH);
        try {
            write(s, 1);
            s.dev.flush();
            s.held.failNextTrim.set(true);
            s.dev.trim(Harness.MIB, 4096); // fails on the backing device: not the client's error
            assertVersionTwoDrainsAfterOneAgain(s);
        } finally {
            s.dev.close();
        }
    }

    /** Version 2 written through and drained: write-back writes version 1 (written before) again, then 2. */
    private static void assertVersionTwoDrainsAfterOneAgain(Setup s) throws Exception {
        write(s, 2);
        s.dev.flush();
        s.dev.drain(null);
        assertEquals(List.of(1L, 2L), after(s, 2), "version 1 written back again, then 2: " + s.tags);
        assertHolds(s, 2);
    }

    /** So does a write of write-back's that fails (it was retried and succeeded). */
    @Test
    void aWritebackWriteThatFailsMakesWritebackWriteEveryVersionInOrderAgain() throws Exception {
        Setup s = open("wb-failed", CacheMode.WRITEBACK);
        try {
            s.dev.write(Harness.MIB, Harness.pattern(Harness.MIB, 4096, 9), false);
            s.dev.flush();
            s.disk.failWrites.set(1);
            s.dev.drain(null); // its first try fails, the second lands
            s.dev.setMode(CacheMode.WRITETHROUGH);
            write(s, 1);
            s.dev.flush();
            assertVersionTwoDrainsAfterOneAgain(s);
        } finally {
            s.dev.close();
        }
    }

    /**
     * A landing marks only the bytes of the write that landed, not a write-through write made
     * since over them: that one may sit over a write-back-mode write made meanwhile (the mode
     * switched while the first was on its way), acknowledged without landing, and marking it
     * would keep that write out of write-back while only an older version landed.
     */
    @Test
    @Timeout(60)
    void aLandingDoesNotMarkAWriteThroughWriteOverAWritebackModeWriteMadeMeanwhile() throws Exception {
        switchWhileAWriteIsOnItsWay("wt-over-wb", true);
    }

    /** Nor the write-back-mode write itself, made while it was on its way. */
    @Test
    @Timeout(60)
    void aLandingDoesNotMarkAWritebackModeWriteMadeWhileItWasOnItsWay() throws Exception {
        switchWhileAWriteIsOnItsWay("wt-switch", false);
    }

    /**
     * Version 1 (write-through) on its way; the mode switched to write-back and version 2 written
     * and flushed; back to write-through, version 3, whose backing write fails, written before
     * version 1 lands ({@code newerFirst}) or after. Write-back must still write version 2.
     */
    private static void switchWhileAWriteIsOnItsWay(String name, boolean newerFirst) throws Exception {
        Setup s = open(name, CacheMode.WRITETHROUGH);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        CountDownLatch land = new CountDownLatch(1);
        try {
            CountDownLatch writing = new CountDownLatch(1);
            s.held.holdWrites(writing, land, true);
            Future<?> first = pool.submit(() -> {
                write(s, 1);
                return null;
            });
            assertTrue(writing.await(10, TimeUnit.SECONDS), "version 1 is on its way");
            s.dev.setMode(CacheMode.WRITEBACK);
            write(s, 2); // acknowledged in the cache only
            s.dev.flush();
            if (!newerFirst) {
                land.countDown();
                first.get(10, TimeUnit.SECONDS);
            }
            s.dev.setMode(CacheMode.WRITETHROUGH);
            s.disk.failWrites.set(1);
            org.junit.jupiter.api.Assertions.assertThrows(IOException.class, () -> write(s, 3));
            land.countDown();
            first.get(10, TimeUnit.SECONDS);
            // (the failed write alone makes write-back write every version in order again; the
            // marks are what a write still on its way would leave)
            assertEquals(0, markAt0(s), "version 1's landing marked what serves offset 0 since");
            s.dev.drain(null);
            assertTrue(after(s, 1).contains(2L), "version 2 was written back: " + s.tags);
            assertHolds(s, 3);
        } finally {
            land.countDown();
            pool.shutdownNow();
            s.dev.close();
        }
    }

    /**
     * Between the bind of a replacement device and the unbind of the old one, write-back already
     * writes to the new one: what landed on the old one keeps nothing out there.
     */
    @Test
    void betweenTheBindOfAReplacementAndTheUnbindEveryVersionGoesToTheNewDevice() throws Exception {
        everyVersionToANewDevice("wt-bind", false);
    }

    /**
     * What write-through writes put on one device says nothing of another: after a swap,
     * write-back writes every version to the new device in order.
     */
    @Test
    void afterASwapEveryVersionIsWrittenBackToTheNewDevice() throws Exception {
        everyVersionToANewDevice("wt-swap", true);
    }

    /** Versions 1 and 2 written through; another device bound (and the first let go, with {@code unbind}); drained. */
    private static void everyVersionToANewDevice(String name, boolean unbind) throws Exception {
        Setup s = open(name, CacheMode.WRITETHROUGH);
        try {
            write(s, 1);
            s.dev.flush();
            write(s, 2);
            s.dev.flush();
            List<Long> tags = Collections.synchronizedList(new ArrayList<>());
            assertNull(s.holder.set(recorded(tags))); // as the component's bind does
            if (unbind) {
                s.dev.backingGoes(s.held);
            }
            s.dev.drain(null);
            assertEquals(List.of(1L, 2L), tags, "each version written back to the new device, in order");
        } finally {
            s.dev.close();
        }
    }

    /**
     * A failed flush of the backing device may have lost what write-through requests wrote there:
     * from then on their keys keep nothing out, and write-back writes the older versions again, in
     * order, before the newer ones.
     */
    @Test
    void afterAFailedFlushOlderVersionsAreWrittenBackAgain() throws Exception {
        Setup s = open("wt-lost", CacheMode.WRITEBACK, true);
        try {
            s.disk.failedFlushLosesWrites = true;
            write(s, 1); // left dirty by write-back mode
            s.dev.flush();
            s.dev.setMode(CacheMode.WRITETHROUGH);
            write(s, 2);
            s.disk.failFlushes.set(1);
            org.junit.jupiter.api.Assertions.assertThrows(IOException.class, s.dev::flush);
            assertArrayEquals(new byte[4096], s.disk.content(0, 4096), "the disk lost version 2");
            s.dev.drain(null);
            // (write-back may write a group twice: the client's failed flush may have taken the
            // report of its own writes' loss, so its first flush after it proves nothing)
            List<Long> later = after(s, 2);
            assertTrue(later.contains(1L) && later.get(later.size() - 1) == 2L && later.lastIndexOf(1L) < later.lastIndexOf(2L),
                    "version 1 written back again, then version 2: " + s.tags);
            assertHolds(s, 2);
        } finally {
            s.dev.close();
        }
    }
}
