package pcache.engine.internal.engine;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import pcache.api.CachePos;

/**
 * Trims the backing device has not been told of yet, each at its place in the key log: the
 * position of the first kset logged after it ({@link pcache.api.spi.KeyLog#flushToBarrier}).
 * Write-back passes a trim on once dirty_tail reaches its place, that is after every older write
 * of the log reached the backing device (and was flushed there) and before any newer one: sent
 * earlier, the write-back of an older version would put data back into the trimmed range, and the
 * backing device on its own would show a state no client saw (a file system's freed blocks
 * discarded before the metadata that frees them); sent later, it would destroy newer data.
 *
 * <p>Kept in memory only: dm-pcache's log has no trim record. A trim is a hint, so one lost at a
 * restart (or dropped when too many wait) leaves the backing device with old data there, never
 * with wrong data: the cache replays the older writes of the range, as a device that ignored the
 * trim would.
 */
final class PendingTrims {

    /** Ranges kept waiting at most; further trims are dropped (hints) until write-back catches up. */
    static final int MAX_RANGES = 65_536;

    private final Map<CachePos, List<long[]>> byPlace = new HashMap<>();
    /** Ranges waiting; read without the lock to skip it when none wait (the usual case). */
    private volatile int ranges;

    /**
     * Records a trim of {@code [offset, offset + length)} at {@code place}; returns false (and
     * drops it) when {@link #MAX_RANGES} already wait.
     */
    synchronized boolean add(CachePos place, long offset, long length) {
        List<long[]> list = byPlace.computeIfAbsent(place, p -> new ArrayList<>());
        if (!list.isEmpty()) {
            long[] last = list.get(list.size() - 1);
            if (last[0] + last[1] == offset) { // the next slice of the same trim
                last[1] += length;
                return true;
            }
        }
        if (ranges >= MAX_RANGES) {
            if (list.isEmpty()) {
                byPlace.remove(place);
            }
            return false;
        }
        list.add(new long[] {offset, length});
        ranges++;
        return true;
    }

    /** Whether a trim waits at {@code place}. */
    boolean waitsAt(CachePos place) {
        if (ranges == 0) {
            return false;
        }
        synchronized (this) {
            return byPlace.containsKey(place);
        }
    }

    /** Removes and returns the trims waiting at {@code place}, as {offset, length}, in the order they came. */
    synchronized List<long[]> take(CachePos place) {
        List<long[]> list = byPlace.remove(place);
        if (list == null) {
            return List.of();
        }
        ranges -= list.size();
        return list;
    }

    /**
     * The waiting trims that meet {@code [offset, end)}, cut to it, as {start, end} sorted by start,
     * ranges that overlap or touch joined; empty (without taking the lock) when none wait.
     */
    List<long[]> within(long offset, long end) {
        if (ranges == 0) {
            return List.of();
        }
        List<long[]> found = new ArrayList<>();
        synchronized (this) {
            for (List<long[]> list : byPlace.values()) {
                for (long[] r : list) {
                    long from = Math.max(offset, r[0]);
                    long to = Math.min(end, r[0] + r[1]);
                    if (from < to) {
                        found.add(new long[] {from, to});
                    }
                }
            }
        }
        found.sort(Comparator.comparingLong(r -> r[0]));
        List<long[]> joined = new ArrayList<>(found.size());
        for (long[] r : found) {
            long[] last = joined.isEmpty() ? null : joined.get(joined.size() - 1);
            if (last != null && r[0] <= last[1]) {
                last[1] = Math.max(last[1], r[1]);
            } else {
                joined.add(r);
            }
        }
        return joined;
    }

    /** Forgets every waiting trim. */
    synchronized void clear() {
        byPlace.clear();
        ranges = 0;
    }
}
