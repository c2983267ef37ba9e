package pcache.keyindex.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import pcache.api.spi.PmemRegion;

/**
 * A region that remembers which bytes were stored but not yet made durable (stored, then flushed,
 * then fenced — the {@link PmemRegion} persistence model), so a test can check that an operation
 * that promises durability left nothing behind. Fences count for every thread's flushes, which is
 * lenient but enough for the single-threaded checks it is used for.
 */
final class PersistenceCheckingRegion implements PmemRegion {

    private final PmemRegion delegate;
    /** Stored, not flushed: start -> end. */
    private final TreeMap<Long, Long> stored = new TreeMap<>();
    /** Flushed, not fenced. */
    private final TreeMap<Long, Long> flushed = new TreeMap<>();

    /** A failure a test injects into stores, asked before each one. */
    interface Fault {
        /** Throws to make the store of {@code length} bytes at {@code offset} fail ({@code what}: "write", "fill"). */
        void check(String what, long offset, long length) throws IOException;
    }

    /** The failure injected into stores; none by default. */
    volatile Fault fault = (what, offset, length) -> { };

    PersistenceCheckingRegion(PmemRegion delegate) {
        this.delegate = delegate;
    }

    /** Ranges stored but not yet durable, as "[start, end)" strings; empty when all is durable. */
    synchronized List<String> notDurable() {
        List<String> out = new ArrayList<>();
        for (TreeMap<Long, Long> m : List.of(stored, flushed)) {
            for (Map.Entry<Long, Long> e : m.entrySet()) {
                out.add("[" + e.getKey() + ", " + e.getValue() + ")");
            }
        }
        return out;
    }

    private static void add(TreeMap<Long, Long> set, long start, long end) {
        Map.Entry<Long, Long> before = set.floorEntry(start);
        if (before != null && before.getValue() >= start) {
            start = before.getKey();
            end = Math.max(end, before.getValue());
        }
        Map.Entry<Long, Long> next = set.ceilingEntry(start);
        while (next != null && next.getKey() <= end) {
            end = Math.max(end, next.getValue());
            set.remove(next.getKey());
            next = set.ceilingEntry(start);
        }
        set.put(start, end);
    }

    /** Removes [start, end) from the set and returns the pieces that were in it. */
    private static List<long[]> remove(TreeMap<Long, Long> set, long start, long end) {
        List<long[]> taken = new ArrayList<>();
        Map.Entry<Long, Long> e = set.floorEntry(start);
        if (e == null || e.getValue() <= start) {
            e = set.higherEntry(start);
        }
        while (e != null && e.getKey() < end) {
            long s = e.getKey();
            long t = e.getValue();
            set.remove(s);
            if (s < start) {
                set.put(s, start);
            }
            if (t > end) {
                set.put(end, t);
            }
            taken.add(new long[] {Math.max(s, start), Math.min(t, end)});
            e = set.higherEntry(s);
        }
        return taken;
    }

    private synchronized void stored(long offset, long length) {
        if (length > 0) {
            remove(flushed, offset, offset + length);
            add(stored, offset, offset + length);
        }
    }

    @Override
    public void write(long offset, byte[] src, int srcOffset, int length) throws IOException {
        fault.check("write", offset, length);
        delegate.write(offset, src, srcOffset, length);
        stored(offset, length);
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        int length = src.remaining();
        fault.check("write", offset, length);
        delegate.write(offset, src);
        stored(offset, length);
    }

    @Override
    public void fill(long offset, long length, byte value) throws IOException {
        fault.check("fill", offset, length);
        delegate.fill(offset, length, value);
        stored(offset, length);
    }

    @Override
    public void putLong(long offset, long value) throws IOException {
        delegate.putLong(offset, value);
        stored(offset, 8);
    }

    @Override
    public synchronized void flush(long offset, long length) throws IOException {
        delegate.flush(offset, length);
        for (long[] r : remove(stored, offset, offset + length)) {
            add(flushed, r[0], r[1]);
        }
    }

    @Override
    public synchronized void fence() throws IOException {
        delegate.fence();
        flushed.clear();
    }

    @Override
    public long sizeBytes() {
        return delegate.sizeBytes();
    }

    @Override
    public String description() {
        return delegate.description();
    }

    @Override
    public boolean isDirectAccess() {
        return false;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        delegate.read(offset, dst);
    }

    @Override
    public void read(long offset, byte[] dst, int dstOffset, int length) throws IOException {
        delegate.read(offset, dst, dstOffset, length);
    }

    @Override
    public long getLong(long offset) throws IOException {
        return delegate.getLong(offset);
    }

    @Override
    public ByteBuffer view(long offset, int length) throws IOException {
        return delegate.view(offset, length);
    }

    @Override
    public void close() throws IOException {
        delegate.close();
    }
}
