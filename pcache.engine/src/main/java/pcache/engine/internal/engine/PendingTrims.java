package pcache.engine.internal.engine;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

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
    /**
     * The union of the waiting ranges, start -> end, none overlapping or touching: what block
     * status asks about, so a query costs a lookup and the ranges it meets, not a scan of all.
     * Kept up to date as trims come; rebuilt at the next query after write-back took some.
     */
    private final TreeMap<Long, Long> union = new TreeMap<>();
    private boolean unionStale;
    /**
     * Where the trims write-back took last and is still sending to the backing device, or null:
     * they wait there (for drains, write-through's switch and block status) until {@link #sent}.
     */
    private volatile CachePos sending;
    private List<long[]> sendingRanges = List.of();
    /** Set while {@link #clear} waits: the sender stops after the trim it is sending (they are hints). */
    private volatile boolean dropping;
    /**
     * Ranges waiting, those being sent included: one count, read without the lock to skip it when
     * none wait (the usual case), which no taking, sending or putting back can make 0 too early.
     */
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
                addToUnion(offset, offset + length);
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
        addToUnion(offset, offset + length);
        return true;
    }

    /** Joins {@code [from, to)} into {@link #union} (lock held). */
    private void addToUnion(long from, long to) {
        if (unionStale) {
            return; // rebuilt from every waiting range at the next query
        }
        Map.Entry<Long, Long> before = union.floorEntry(from);
        if (before != null && before.getValue() >= from) {
            from = before.getKey();
            to = Math.max(to, before.getValue());
            union.remove(from);
        }
        Map.Entry<Long, Long> after;
        while ((after = union.ceilingEntry(from)) != null && after.getKey() <= to) {
            to = Math.max(to, after.getValue());
            union.remove(after.getKey());
        }
        union.put(from, to);
    }

    /** Whether a trim waits at {@code place}, or is being sent from there. */
    boolean waitsAt(CachePos place) {
        if (ranges == 0) {
            return false;
        }
        synchronized (this) {
            return byPlace.containsKey(place) || place.equals(sending);
        }
    }

    /**
     * Removes and returns the trims waiting at {@code place}, as {offset, length}, in the order
     * they came; they still count as waiting there until {@link #sent} (write-back's thread only).
     */
    synchronized List<long[]> take(CachePos place) {
        List<long[]> list = byPlace.remove(place);
        if (list == null) {
            return List.of();
        }
        sending = place;
        sendingRanges = list;
        return list;
    }

    /** Whether write-back should send the next of the trims it took (false once {@link #clear} waits). */
    boolean keepSending() {
        return !dropping;
    }

    /** The trims taken at {@code place} reached the backing device (or were put back, or dropped). */
    synchronized void sent(CachePos place) {
        if (place.equals(sending)) {
            ranges -= sendingRanges.size();
            sending = null;
            sendingRanges = List.of();
            union.clear();
            unionStale = ranges > 0;
            notifyAll();
        }
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
            if (unionStale) {
                unionStale = false;
                for (List<long[]> list : byPlace.values()) {
                    for (long[] r : list) {
                        addToUnion(r[0], r[0] + r[1]);
                    }
                }
                for (long[] r : sendingRanges) {
                    addToUnion(r[0], r[0] + r[1]);
                }
            }
            Long first = union.floorKey(offset);
            for (Map.Entry<Long, Long> r : union.tailMap(first != null ? first : offset, true).entrySet()) {
                if (r.getKey() >= end) {
                    break;
                }
                long from = Math.max(offset, r.getKey());
                long to = Math.min(end, r.getValue());
                if (from < to) {
                    found.add(new long[] {from, to});
                }
            }
        }
        return found;
    }

    /**
     * Forgets every waiting trim, once the one being sent, if any, has reached the backing device
     * (a trim sent after a write-through write of its range would remove that write there); the
     * sender sends no more of those it took.
     */
    synchronized void clear() throws java.io.InterruptedIOException {
        dropping = true;
        try {
            while (sending != null) {
                wait();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while a trim was being passed on");
        } finally {
            dropping = false;
        }
        byPlace.clear();
        union.clear();
        unionStale = false;
        ranges = 0;
    }
}
