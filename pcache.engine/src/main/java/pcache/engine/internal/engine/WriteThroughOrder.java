package pcache.engine.internal.engine;

import java.util.List;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import pcache.api.format.PcacheFormat;
import pcache.api.spi.BackingDevice;
import pcache.api.spi.CacheKey;
import pcache.api.spi.ExtentVisitor;
import pcache.api.spi.KeySlice;

/**
 * Keeps write-back from putting an older version of a range on the backing device after a
 * client's write-through request put a newer one there.
 *
 * <p>In write-through mode a write goes into the cache (logged dirty, as in write-back mode) and
 * then to the backing device before it is acknowledged. Write-back still writes the log back in
 * order, which is what keeps the backing device right when concurrent writes reached it in another
 * order than the cache logged them, or when a write to it failed. But a key written back after a
 * newer write-through write of its range already reached the backing device would put the older
 * bytes back there, until the newer key's own kset is written back: a client that flushed the
 * newer write could then find the older one on the backing device if the cache device were lost.
 *
 * <p>So the index key of a write-through write is marked {@link pcache.api.spi.CacheKey#markOnBacking
 * on the backing device} once its write there has landed, and write-back leaves out the pieces of
 * an older key that such a key now serves (it still writes every piece the key itself serves, and
 * everything a key logged in write-back mode replaced: the {@code ordered} policy's promise
 * depends on those). The two must not interleave on a range: a write-through request holds its
 * range {@link #shared shared} from before its backing write until it is marked, and write-back
 * holds the range of what it writes {@link #exclusive exclusively} from its look at the index until
 * its backing write is done. Write-back's look therefore sees each client write either not yet on
 * the backing device (it writes the older piece first, the newer one lands after it) or landed
 * and marked (it leaves the older piece out). Nothing waits for cache space while holding a range.
 *
 * <p>Ranges are locked by 4 MiB slice, striped over {@link #STRIPES} locks, always in ascending
 * stripe order. The marks mean one device ({@link #claim}); when it goes, they are forgotten
 * ({@link #forget}), and until then write-back to any other device ignores them.
 */
final class WriteThroughOrder {

    /** Locks a range is striped over (by its 4 MiB slices). */
    static final int STRIPES = 64;

    /** A held range; {@link #close} releases it. */
    interface Held extends AutoCloseable {
        @Override
        void close();
    }

    private final ReentrantReadWriteLock[] locks = new ReentrantReadWriteLock[STRIPES];
    /** The device the marks mean; null while none is marked. */
    private volatile BackingDevice markedFor;

    WriteThroughOrder() {
        for (int i = 0; i < STRIPES; i++) {
            locks[i] = new ReentrantReadWriteLock();
        }
    }

    /** Holds {@code [offset, offset + length)} for a client's write-through request. */
    Held shared(long offset, long length) {
        return hold(offset, length, false);
    }

    /** Holds {@code [offset, offset + length)} for write-back. */
    Held exclusive(long offset, long length) {
        return hold(offset, length, true);
    }

    /**
     * Whether marks may be set for a write that landed on {@code device}: yes when they mean it,
     * or no device yet (it then becomes the one). A write to another device (a swap in progress)
     * is not marked.
     */
    boolean claim(BackingDevice device) {
        BackingDevice current = markedFor;
        if (current == null) {
            synchronized (this) {
                if (markedFor == null) {
                    markedFor = device;
                }
                current = markedFor;
            }
        }
        return current == device;
    }

    /** Whether write-back, writing to {@code device}, may rely on the marks. */
    boolean marksMean(BackingDevice device) {
        return device != null && markedFor == device;
    }

    /** Whether any write-through write was marked since the marks were last forgotten. */
    boolean anyMarked() {
        return markedFor != null;
    }

    /**
     * {@code device} goes away: if the marks mean it, {@code clearMarks} runs with every range held
     * (no write-through request between its backing write and its mark, no write-back between its
     * look and its write) and the marks then mean no device.
     */
    void forget(BackingDevice device, Runnable clearMarks) {
        if (device == null || markedFor != device) {
            return;
        }
        for (ReentrantReadWriteLock l : locks) {
            l.writeLock().lock();
        }
        try {
            if (markedFor == device) {
                clearMarks.run();
                markedFor = null;
            }
        } finally {
            for (int i = STRIPES - 1; i >= 0; i--) {
                locks[i].writeLock().unlock();
            }
        }
    }

    /**
     * A write-through request's backing write landed on {@code device}: marks the index pieces that
     * still hold the bytes of {@code logged} (the keys it logged). Call with its range held
     * {@link #shared}.
     */
    void landed(OpenCache cache, List<CacheKey> logged, BackingDevice device) {
        if (device == null || !claim(device)) {
            return;
        }
        for (CacheKey k : logged) {
            KeySlice slice = cache.index().slice(k.offset());
            slice.lock();
            try {
                slice.walk(k.offset(), k.length(), cache.validity(), new ExtentVisitor() {
                    @Override
                    public boolean hit(CacheKey t, long position, int length) {
                        if (EngineWritebackContext.sameBytes(t, k)) {
                            t.markOnBacking();
                        }
                        return true;
                    }

                    @Override
                    public boolean gap(long position, int length) {
                        return true;
                    }
                });
            } finally {
                slice.unlock();
            }
        }
    }

    /**
     * Adds to {@code out}, in offset order, the pieces of dirty key {@code k} (cut copies) that no
     * other key marked on the backing device serves: those write-back must still write. Call with
     * {@code k}'s range held {@link #exclusive}, for a write to the device the marks mean.
     */
    static void notReplacedOnBacking(OpenCache cache, CacheKey k, List<CacheKey> out) {
        KeySlice slice = cache.index().slice(k.offset());
        long[] from = {k.offset()};
        slice.lock();
        try {
            slice.walk(k.offset(), k.length(), cache.validity(), new ExtentVisitor() {
                @Override
                public boolean hit(CacheKey t, long position, int length) {
                    if (t.isOnBacking() && !EngineWritebackContext.sameBytes(t, k)) {
                        if (position > from[0]) {
                            out.add(piece(k, from[0], position));
                        }
                        from[0] = position + length;
                    }
                    return true;
                }

                @Override
                public boolean gap(long position, int length) {
                    return true;
                }
            });
        } finally {
            slice.unlock();
        }
        if (from[0] < k.end()) {
            out.add(from[0] == k.offset() ? k : piece(k, from[0], k.end()));
        }
    }

    /** The part {@code [from, to)} of {@code k}, as a copy. */
    private static CacheKey piece(CacheKey k, long from, long to) {
        CacheKey p = k.copy();
        p.cutFront((int) (from - k.offset()));
        p.cutBack(p.length() - (int) (to - from));
        return p;
    }

    /** Forgets every mark, when {@code device}, the one they mean, goes. */
    void forgetMarks(OpenCache cache, BackingDevice device) {
        forget(device, () -> {
            for (int i = 0; i < cache.index().sliceCount(); i++) {
                KeySlice slice = cache.index().existingSlice(i);
                if (slice == null) {
                    continue;
                }
                slice.lock();
                try {
                    slice.forEach(CacheKey::clearOnBacking);
                } finally {
                    slice.unlock();
                }
            }
        });
    }

    private Held hold(long offset, long length, boolean exclusive) {
        long first = offset >>> PcacheFormat.SUBTREE_SHIFT;
        long last = (offset + Math.max(length, 1) - 1) >>> PcacheFormat.SUBTREE_SHIFT;
        boolean[] taken = new boolean[STRIPES];
        if (last - first + 1 >= STRIPES) {
            java.util.Arrays.fill(taken, true);
        } else {
            for (long s = first; s <= last; s++) {
                taken[(int) (s % STRIPES)] = true;
            }
        }
        int count = 0;
        for (boolean t : taken) {
            count += t ? 1 : 0;
        }
        Lock[] held = new Lock[count];
        int n = 0;
        for (int i = 0; i < STRIPES; i++) {
            if (taken[i]) {
                Lock l = exclusive ? locks[i].writeLock() : locks[i].readLock();
                l.lock();
                held[n++] = l;
            }
        }
        return () -> {
            for (int i = held.length - 1; i >= 0; i--) {
                held[i].unlock();
            }
        };
    }
}
