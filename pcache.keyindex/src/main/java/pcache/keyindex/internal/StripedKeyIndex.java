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
     * Numbers of the slices that received a key since they were last cleared, each once, in the
     * order they did (under {@link #heldLock}). A slice is added when its {@code listed} flag is
     * set, under the slice's lock, and the flag is reset only by the slice's {@code clear}, after
     * which {@link #clear} takes the number out: a slice holding keys is always here. A slice that
     * a running clear emptied and that got keys again is here twice until that clear ends; the
     * readers skip the repeat.
     */
    private int[] held = new int[16];
    private int heldCount;
    private final Object heldLock = new Object();
    /** One {@link #clear} at a time: each takes out the numbers it found, and only those. */
    private final Object clearLock = new Object();

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
        synchronized (heldLock) {
            if (heldCount == held.length) {
                held = Arrays.copyOf(held, heldCount * 2);
            }
            held[heldCount++] = i;
        }
    }

    /** A copy of {@link #held}'s numbers now. */
    private int[] heldNow() {
        synchronized (heldLock) {
            return Arrays.copyOf(held, heldCount);
        }
    }

    /** {@code numbers} in offset order, each once (sorts them in place). */
    private static int[] inOrder(int[] numbers) {
        Arrays.sort(numbers);
        int distinct = 0;
        for (int k = 0; k < numbers.length; k++) {
            if (k == 0 || numbers[k] != numbers[k - 1]) {
                numbers[distinct++] = numbers[k];
            }
        }
        return distinct == numbers.length ? numbers : Arrays.copyOf(numbers, distinct);
    }

    @Override
    public void forEach(Consumer<CacheKey> action) {
        for (int i : inOrder(heldNow())) {
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
        synchronized (clearLock) {
            // the numbers found now; slices listed while this runs are added after them
            int[] found = heldNow();
            int[] numbers = inOrder(found.clone());
            int cleared = 0;
            try {
                for (int i : numbers) {
                    SortedKeySlice s = slices.get(i);
                    s.lock();
                    try {
                        s.clear();
                    } finally {
                        s.unlock();
                    }
                    cleared++;
                }
            } finally {
                forget(found.length, numbers, cleared);
            }
        }
    }

    /**
     * Takes the first {@code found} numbers out of {@link #held}, and puts back those of
     * {@code numbers} from {@code cleared} on: slices a failed {@link #clear} did not reach still
     * hold their keys and their {@code listed} flag.
     */
    private void forget(int found, int[] numbers, int cleared) {
        synchronized (heldLock) {
            int after = heldCount - found;
            int[] rest = held.length > 1024 && after + numbers.length - cleared <= 16
                    ? new int[16] // a large device's list shrinks again once emptied
                    : held;
            System.arraycopy(held, found, rest, 0, after);
            held = rest;
            heldCount = after;
            for (int k = cleared; k < numbers.length; k++) {
                if (heldCount == held.length) {
                    held = Arrays.copyOf(held, heldCount * 2);
                }
                held[heldCount++] = numbers[k];
            }
        }
    }
}
