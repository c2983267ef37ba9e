package pcache.keyindex.internal;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

import pcache.api.format.PcacheFormat;
import pcache.api.spi.CacheKey;
import pcache.api.spi.KeyIndex;
import pcache.api.spi.KeySlice;

/**
 * The striped index (reference §3.2): one {@link SortedKeySlice} per 4 MiB of the logical device,
 * created on first use so an empty 1 TiB device costs one reference per slice.
 *
 * <p>{@link #forEach} and {@link #clear} visit only the slices that received a key since the last
 * clear ({@link #held}), not every slice of the device. Write-back resolves each group of ksets in
 * a scratch index, reads it with {@code forEach} and clears it for the next group; a client that
 * flushes every few writes makes a group of a few keys, and visiting every slice ever created
 * twice per group cost more than the data itself once the writes had spread over a large device
 * (262,144 slices for 1 TiB).
 */
final class StripedKeyIndex implements KeyIndex {

    private final long logicalSizeBytes;
    private final AtomicReferenceArray<SortedKeySlice> slices;
    private final LongAdder keyCount = new LongAdder();
    /**
     * Numbers of the slices that received a key since the last {@link #clear}, each once, in the
     * order they did (under this index's monitor). A slice is added when its {@code listed} flag is
     * set, under the slice's lock, and the flag is reset only by the slice's {@code clear}, so a
     * slice holding keys is always here (except while {@link #clear} is emptying it).
     */
    private int[] held = new int[16];
    private int heldCount;

    StripedKeyIndex(long logicalSizeBytes) {
        if (logicalSizeBytes <= 0) {
            throw new IllegalArgumentException("logical size must be positive: " + logicalSizeBytes);
        }
        long n = (logicalSizeBytes + PcacheFormat.SUBTREE_SIZE - 1) >>> PcacheFormat.SUBTREE_SHIFT;
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("logical size too large: " + logicalSizeBytes);
        }
        this.logicalSizeBytes = logicalSizeBytes;
        this.slices = new AtomicReferenceArray<>((int) n);
    }

    @Override
    public long logicalSizeBytes() {
        return logicalSizeBytes;
    }

    @Override
    public int sliceCount() {
        return slices.length();
    }

    @Override
    public KeySlice slice(long offset) {
        if (offset < 0 || offset >= logicalSizeBytes) {
            throw new IndexOutOfBoundsException("offset " + offset + " outside the logical device of "
                    + logicalSizeBytes + " bytes");
        }
        int i = (int) (offset >>> PcacheFormat.SUBTREE_SHIFT);
        SortedKeySlice s = slices.get(i);
        if (s == null) {
            long start = (long) i << PcacheFormat.SUBTREE_SHIFT;
            // the last slice ends with the device, so nothing past it can be inserted or walked
            long end = Math.min(start + PcacheFormat.SUBTREE_SIZE, logicalSizeBytes);
            SortedKeySlice created = new SortedKeySlice(this, start, end);
            s = slices.compareAndExchange(i, null, created);
            if (s == null) {
                s = created;
            }
        }
        return s;
    }

    @Override
    public KeySlice existingSlice(int index) {
        return slices.get(index);
    }

    @Override
    public long keyCount() {
        return keyCount.sum();
    }

    void countChange(int delta) {
        if (delta != 0) {
            keyCount.add(delta);
        }
    }

    /** Notes that {@code slice} holds keys (called once per slice between clears, under its lock). */
    void holdsKeys(SortedKeySlice slice) {
        int i = (int) (slice.start() >>> PcacheFormat.SUBTREE_SHIFT);
        synchronized (this) {
            if (heldCount == held.length) {
                held = Arrays.copyOf(held, heldCount * 2);
            }
            held[heldCount++] = i;
        }
    }

    /** The slices of {@link #held}, in offset order; with {@code reset}, the list starts afresh. */
    private synchronized int[] heldSlices(boolean reset) {
        int[] copy = Arrays.copyOf(held, heldCount);
        if (reset) {
            heldCount = 0;
            if (held.length > 1024) {
                held = new int[16]; // a large device's list shrinks again once emptied
            }
        }
        Arrays.sort(copy);
        return copy;
    }

    @Override
    public void forEach(Consumer<CacheKey> action) {
        for (int i : heldSlices(false)) {
            SortedKeySlice s = slices.get(i);
            if (s != null) {
                s.lock();
                try {
                    s.forEach(action);
                } finally {
                    s.unlock();
                }
            }
        }
    }

    @Override
    public void clear() {
        for (int i : heldSlices(true)) {
            SortedKeySlice s = slices.get(i);
            if (s != null) {
                s.lock();
                try {
                    s.clear();
                } finally {
                    s.unlock();
                }
            }
        }
    }
}
