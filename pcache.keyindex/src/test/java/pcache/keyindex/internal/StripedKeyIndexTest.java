package pcache.keyindex.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.Set;

import org.junit.jupiter.api.Test;

import pcache.api.spi.CacheKey;
import pcache.api.spi.KeyIndex;
import pcache.api.spi.KeySlice;
import pcache.api.spi.KeyValidity;

/** The striped index: lazily created 4 MiB slices over a logical device. */
class StripedKeyIndexTest {

    private static final long MIB = 1 << 20;
    /** 10 MiB + 512: three slices, the last one short. */
    private static final long SIZE = 10 * MIB + 512;

    private final StripedKeyIndex index = new StripedKeyIndex(SIZE);

    private static void insert(KeySlice s, long offset, int length) {
        s.lock();
        try {
            s.insert(new CacheKey(offset, length).place(1, 0, 0), KeyValidity.ALL);
        } finally {
            s.unlock();
        }
    }

    @Test
    void sizeAndSliceCount() {
        assertEquals(SIZE, index.logicalSizeBytes());
        assertEquals(3, index.sliceCount());
        assertEquals(1, new StripedKeyIndex(512).sliceCount());
        assertEquals(1, new StripedKeyIndex(4 * MIB).sliceCount());
        assertEquals(2, new StripedKeyIndex(4 * MIB + 1).sliceCount());
        assertEquals(262_144, new StripedKeyIndex(1L << 40).sliceCount(), "1 TiB");
        assertThrows(IllegalArgumentException.class, () -> new StripedKeyIndex(0));
    }

    @Test
    void slicesAreCreatedOnFirstUseAndThenReused() {
        for (int i = 0; i < 3; i++) {
            assertNull(index.existingSlice(i));
        }
        KeySlice s = index.slice(4 * MIB + 12345);
        assertNotNull(index.existingSlice(1));
        assertSame(s, index.existingSlice(1));
        assertSame(s, index.slice(4 * MIB));
        assertSame(s, index.slice(8 * MIB - 1));
        assertNull(index.existingSlice(0));
        assertNull(index.existingSlice(2));
        assertEquals(4 * MIB, s.start());
        assertEquals(8 * MIB, s.end());
    }

    @Test
    void sliceBounds() {
        assertEquals(0, index.slice(0).start());
        assertEquals(8 * MIB, index.slice(SIZE - 1).start());
        assertThrows(IndexOutOfBoundsException.class, () -> index.slice(-1));
        assertThrows(IndexOutOfBoundsException.class, () -> index.slice(SIZE));
        assertThrows(IndexOutOfBoundsException.class, () -> index.slice(12 * MIB));
    }

    @Test
    void theLastSliceEndsWithTheDevice() {
        KeySlice last = index.slice(SIZE - 1);
        assertEquals(SIZE, last.end());
        insert(last, SIZE - 512, 512);
        last.lock();
        try {
            assertThrows(IllegalArgumentException.class,
                    () -> last.insert(new CacheKey(SIZE, 512), KeyValidity.ALL), "past the device's end");
        } finally {
            last.unlock();
        }
    }

    @Test
    void keyCountSumsOverSlicesAndForEachGoesInOffsetOrder() {
        insert(index.slice(8 * MIB), 8 * MIB + 4096, 512);
        insert(index.slice(0), 4096, 4096);
        insert(index.slice(0), 0, 512);
        insert(index.slice(4 * MIB), 4 * MIB, 4 * (int) MIB);
        assertEquals(4, index.keyCount());
        List<Long> offsets = new ArrayList<>();
        index.forEach(k -> offsets.add(k.offset()));
        assertEquals(List.of(0L, 4096L, 4 * MIB, 8 * MIB + 4096), offsets);

        // overwriting inside one slice changes the count by what the overlap resolution did
        insert(index.slice(0), 1024, 4096); // cuts [4096, 8192) to [5120, 8192): one more key
        assertEquals(5, index.keyCount());
        insert(index.slice(4 * MIB), 5 * MIB, 512); // splits the 4 MiB key in two around it
        assertEquals(7, index.keyCount());
    }

    @Test
    void clearEmptiesEverySliceAndUnlinksTheKeys() {
        insert(index.slice(0), 0, 512);
        CacheKey k = new CacheKey(4 * MIB, 512).place(1, 0, 0);
        KeySlice s = index.slice(4 * MIB);
        s.lock();
        s.insert(k, KeyValidity.ALL);
        s.unlock();
        index.clear();
        assertEquals(0, index.keyCount());
        assertFalse(k.isLinked());
        List<CacheKey> left = new ArrayList<>();
        index.forEach(left::add);
        assertEquals(List.of(), left);
        insert(index.slice(0), 0, 512);
        assertEquals(1, index.keyCount(), "usable after clear");
    }

    @Test
    void clearAndForEachSeeEverySliceThatGotKeysAgainAfterAClear() {
        KeyIndex big = new StripedKeyIndex(1L << 40);
        long seed = System.nanoTime();
        System.out.println("clearAndForEachSeeEverySliceThatGotKeysAgainAfterAClear seed " + seed);
        java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
        List<Long> before = List.of();
        for (int round = 0; round < 3; round++) {
            java.util.TreeSet<Long> expected = new java.util.TreeSet<>();
            for (int i = 0; i < 500; i++) {
                long offset = random.nextLong((1L << 40) / 4096) * 4096;
                insert(big.slice(offset), offset, 4096);
                expected.add(offset);
            }
            for (int i = 0; i < before.size(); i += 2) {
                // slices the clear before emptied get keys again: listed anew
                long offset = before.get(i) + 4096 * (1 + random.nextInt(16));
                if ((offset >>> 22) == (before.get(i) >>> 22)) {
                    insert(big.slice(offset), offset, 4096);
                    expected.add(offset);
                }
            }
            before = new ArrayList<>(expected);
            // a slice emptied by a trim stays visited, harmlessly
            long trimmed = expected.first();
            KeySlice t = big.slice(trimmed);
            t.lock();
            t.removeRange(trimmed, 4096);
            t.unlock();
            expected.remove(trimmed);
            List<Long> offsets = new ArrayList<>();
            big.forEach(k -> offsets.add(k.offset()));
            assertEquals(new ArrayList<>(expected), offsets, "round " + round + ", seed " + seed);
            assertEquals(expected.size(), big.keyCount());
            big.clear();
            assertEquals(0, big.keyCount(), "round " + round + ", seed " + seed);
            List<Long> left = new ArrayList<>();
            big.forEach(k -> left.add(k.offset()));
            assertEquals(List.of(), left, "round " + round + ", seed " + seed);
        }
    }

    /**
     * Write-back clears its scratch index and reads it back once per group of ksets: both must
     * cost what the keys cost, not a visit to every slice of the device. Observable here because
     * a slice that holds no keys is never even locked: one locked by another thread holds up
     * neither.
     */
    @Test
    void clearAndForEachPassSlicesThatHoldNoKeys() throws Exception {
        KeyIndex big = new StripedKeyIndex(1L << 40);
        insert(big.slice(0), 0, 512);
        insert(big.slice(7 * MIB), 7 * MIB, 512);
        KeySlice cleared = big.slice(4 * MIB); // holds the key at 7 MiB until the clear below
        KeySlice empty = big.slice(8 * MIB); // created, never held a key
        insert(big.slice(1L << 39), 1L << 39, 512);
        KeySlice emptied = big.slice(1L << 39);
        emptied.lock();
        emptied.removeRange(1L << 39, 512);
        emptied.unlock();
        big.clear(); // emptied held a key before: cleared with the rest
        insert(big.slice(0), 0, 512);
        CountDownLatch locked = new CountDownLatch(1);
        CountDownLatch done = new CountDownLatch(1);
        Thread holder = new Thread(() -> {
            cleared.lock();
            empty.lock();
            emptied.lock();
            locked.countDown();
            try {
                done.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                emptied.unlock();
                empty.unlock();
                cleared.unlock();
            }
        });
        holder.start();
        try {
            locked.await();
            List<Long> offsets = new ArrayList<>();
            org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(30), () -> {
                big.forEach(k -> offsets.add(k.offset()));
                big.clear();
            }, "forEach or clear waited for a slice that holds no keys");
            assertEquals(List.of(0L), offsets);
            assertEquals(0, big.keyCount());
        } finally {
            done.countDown();
            holder.join();
        }
    }

    @Test
    void concurrentFirstUsesGetTheSameSlice() throws InterruptedException {
        KeyIndex big = new StripedKeyIndex(1L << 30);
        Set<KeySlice> seen = ConcurrentHashMap.newKeySet();
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            Thread th = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < 256; i++) {
                    seen.add(big.slice(i * (4 * MIB) + 7));
                }
            });
            threads.add(th);
            th.start();
        }
        start.countDown();
        for (Thread th : threads) {
            th.join();
        }
        assertEquals(256, seen.size(), "one slice object per 4 MiB, whoever created it");
    }
}
