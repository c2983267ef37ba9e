package pcache.keyindex.internal;

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
 */
final class StripedKeyIndex implements KeyIndex {

    private final long logicalSizeBytes;
    private final AtomicReferenceArray<SortedKeySlice> slices;
    private final LongAdder keyCount = new LongAdder();

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

    @Override
    public void forEach(Consumer<CacheKey> action) {
        for (int i = 0; i < slices.length(); i++) {
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
        for (int i = 0; i < slices.length(); i++) {
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
