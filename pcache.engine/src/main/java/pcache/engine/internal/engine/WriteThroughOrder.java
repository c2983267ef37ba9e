package pcache.engine.internal.engine;

import java.util.List;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import pcache.api.format.PcacheFormat;
import pcache.api.spi.CacheKey;

/**
 * Keeps write-back from putting an older version of a range on the backing device after a
 * client's write-through request put a newer one there.
 *
 * <p>In write-through mode a write goes into the cache (logged dirty, as in write-back mode) and
 * then to the backing device before it is acknowledged. Write-back still writes the log back in
 * order, which is what keeps the backing device right when concurrent writes reached it in another
 * order than the cache logged them, or when a write to it failed. But a key written back after a
 * newer write-through write of its range reached the backing device would put the older bytes
 * back there, until the newer key's own kset is written back: a client that flushed the newer
 * write could then find the older one on the backing device if the cache device were lost.
 *
 * <p>So once a write-through request's backing write has landed, the index pieces that still hold
 * its bytes are marked with the current write-through epoch ({@link CacheKey#markOnBacking}), and
 * write-back leaves out every piece of an older key that a key marked in the current epoch now
 * serves. A newer write-through write over marked pieces does not hide them while it is on its
 * way: its own pieces over them are marked as it enters the index
 * ({@link Through}), with the epoch current then.
 * Write-back still writes every piece the key itself serves, and every piece no landed version
 * covers, which the {@code ordered} policy's promise depends on. A piece is left out only for bytes that
 * reached the backing device before write-back's look, so write-back's own flush after it makes
 * them durable there: a crash then finds a version at least as new as the one left out, never
 * older data under a key the cache holds clean.
 *
 * <p>The look at the index and the write must not interleave with a write-through request's
 * backing write and marking: write-back holds the range {@link #exclusive exclusively} from its
 * look until its backing write is done (always, so that it cannot miss the first write-through
 * request), and a write-through request holds it {@link #shared} around its backing write and
 * marking, after its keys are in the index. Nothing waits for cache space while holding a range.
 *
 * <p>A new epoch begins ({@link #newEpoch}) whenever what write-through requests put on the
 * backing device may be gone: a flush of it failed (a file's page cache dropped the pages, an NBD
 * server lost its volatile cache), or the device bound changed (a replacement bound, a device let
 * go). Marks of earlier epochs keep nothing out, a landing in an epoch that ended marks nothing,
 * and a write-back group that left pieces out in an epoch that ended by the time its flush returned
 * is written again ({@link #epochEnded}).
 *
 * <p>A backing write or trim that fails has an unknown outcome (it may be carried out later, over
 * a version that landed after it), so the first one ends the reliance on marks until the cache is
 * opened again ({@link #distrust}). A trim write-back passes on holds its range exclusively and
 * starts a new epoch once sent: it wiped what landed there before.
 *
 * <p>Ranges are locked by 4 MiB slice, striped over {@link #STRIPES} locks, always in ascending
 * stripe order.
 */
final class WriteThroughOrder {

    /** Locks a range is striped over (by its 4 MiB slices); one bit each of a long in {@link #hold}. */
    static final int STRIPES = 64;

    /** A held range; {@link #close} releases it. */
    interface Held extends AutoCloseable {
        @Override
        void close();
    }

    private final ReentrantReadWriteLock[] locks = new ReentrantReadWriteLock[STRIPES];
    private volatile int epoch = 1;
    /** Whether any write-through request wrote since the cache opened. */
    private volatile boolean used;
    /** Why marks are no longer relied on (null: they are): a backing write whose outcome is unknown. */
    private volatile String distrusted;

    private final String cacheName;

    WriteThroughOrder(String cacheName) {
        this.cacheName = cacheName;
        for (int i = 0; i < STRIPES; i++) {
            locks[i] = new ReentrantReadWriteLock();
        }
    }

    /** Notes a write-through request, before its keys enter the index. */
    void writeThroughBegins() {
        if (!used) {
            boolean first;
            synchronized (this) {
                first = !used;
                used = true;
            }
            String why = distrusted;
            if (first && why != null) {
                logDistrust(why);
            }
        }
    }

    /** The current epoch. */
    int epoch() {
        return epoch;
    }

    /**
     * Whether write-back may rely on marks: a write-through request wrote since the cache opened,
     * and no backing write's outcome became unknown since ({@link #distrust}).
     */
    boolean used() {
        return used && distrusted == null;
    }

    /**
     * A write or trim to the backing device failed, so its outcome is unknown: it may still be
     * carried out later (an NBD server may run a request the client gave up on), over a version
     * that landed after it, and no epoch can tell. From now until the cache is opened again,
     * write-back writes every version in order, as it did before marks, which repairs that.
     */
    void distrust(String why) {
        if (distrusted != null) {
            return;
        }
        synchronized (this) {
            if (distrusted != null) {
                return;
            }
            distrusted = why; // also before any write-through request: such a write may land late
        }
        if (used) {
            logDistrust(why);
        } // else logged when the first write-through request comes
    }

    private void logDistrust(String why) {
        CacheEngine.LOG.log(System.Logger.Level.WARNING, "cache " + cacheName + ": a backing write's outcome is"
                + " unknown (" + why + "); write-back writes every version in log order, older ones over newer"
                + " write-through writes included, until the cache is opened again");
    }

    /** Starts a new epoch: what write-through requests wrote so far may be gone from the backing device. */
    synchronized void newEpoch() {
        epoch = epoch == CacheKey.MAX_WRITE_THROUGH_EPOCH ? 1 : epoch + 1;
    }

    /** Whether {@code since} (an epoch write-back relied on) has ended. */
    boolean epochEnded(int since) {
        return since != 0 && since != epoch;
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
     * A write-through request's backing write landed; {@code epoch} is the one read just before it
     * began. If that is still the current one, marks the index pieces that still hold the bytes of
     * the keys it logged ({@code logged}, as logged). Call with its range held {@link #shared}.
     */
    void landed(OpenCache cache, List<CacheKey> logged, int epoch) {
        for (CacheKey k : logged) {
            IndexPieces.each(cache, k, (t, position, length) -> {
                // the epoch looked at under the slice lock: what it wrote may be gone already (a
                // failed flush) or be on a device let go, and a landing of the next epoch that
                // marked these pieces already is never marked down. Only k's own bytes: a key
                // written since over them (concurrent with k) may sit over versions that never
                // landed, which its mark would keep out
                if (epoch == this.epoch && EngineWritebackContext.sameBytes(t, k) && t.onBackingEpoch() != epoch) {
                    t.markOnBacking(epoch);
                }
            });
        }
    }

    /**
     * Adds to {@code out}, in offset order, the pieces of dirty key {@code k} (cut copies) that no
     * other key marked on the backing device in epoch {@code current} serves: those write-back
     * must still write. Returns whether it left any piece out. Call with {@code k}'s range held
     * {@link #exclusive}.
     */
    static boolean notReplacedOnBacking(OpenCache cache, CacheKey k, int current, List<CacheKey> out) {
        long[] from = {k.offset()};
        IndexPieces.each(cache, k, (t, position, length) -> {
            if (t.onBackingEpoch() == current && !EngineWritebackContext.sameBytes(t, k)) {
                if (position > from[0]) {
                    out.add(piece(k, from[0], position));
                }
                from[0] = position + length;
            }
        });
        if (from[0] == k.offset()) {
            out.add(k);
            return false;
        }
        if (from[0] < k.end()) {
            out.add(piece(k, from[0], k.end()));
        }
        return true;
    }

    /** The part {@code [from, to)} of {@code k}, as a copy. */
    private static CacheKey piece(CacheKey k, long from, long to) {
        CacheKey p = k.copy();
        p.cutFront((int) (from - k.offset()));
        p.cutBack(p.length() - (int) (to - from));
        return p;
    }

    private Held hold(long offset, long length, boolean exclusive) {
        long first = offset >>> PcacheFormat.SUBTREE_SHIFT;
        long last = (offset + Math.max(length, 1) - 1) >>> PcacheFormat.SUBTREE_SHIFT;
        long stripes = 0; // bit i: stripe i (STRIPES is 64)
        if (last - first + 1 >= STRIPES) {
            stripes = -1L;
        } else {
            for (long slice = first; slice <= last; slice++) {
                stripes |= 1L << (slice % STRIPES);
            }
        }
        long taken = stripes;
        for (long rest = taken; rest != 0; rest &= rest - 1) { // ascending order
            lockOf(Long.numberOfTrailingZeros(rest), exclusive).lock();
        }
        return () -> {
            for (long rest = taken; rest != 0; rest &= rest - 1) {
                lockOf(Long.numberOfTrailingZeros(rest), exclusive).unlock();
            }
        };
    }

    private Lock lockOf(int stripe, boolean exclusive) {
        return exclusive ? locks[stripe].writeLock() : locks[stripe].readLock();
    }
}
