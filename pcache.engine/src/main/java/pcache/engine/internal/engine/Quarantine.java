package pcache.engine.internal.engine;

import java.util.ArrayList;
import java.util.List;

import pcache.engine.internal.media.ExtensionCodec.Range;

/**
 * Logical ranges whose newest data was lost: dirty extents that failed their data CRC. Reads that
 * touch them fail (never return the older data the backing device may hold) until the range is
 * written or trimmed again. Kept small: adjacent and overlapping ranges merge, and when the list
 * is full the two closest ranges merge (wider, never narrower).
 */
final class Quarantine {

    private final int capacity;
    private final List<Range> ranges = new ArrayList<>();
    private volatile boolean any;

    Quarantine(int capacity, List<Range> initial) {
        this.capacity = capacity;
        for (Range r : initial) {
            add(r.offset(), r.length());
        }
    }

    boolean isEmpty() {
        return !any;
    }

    /** The first quarantined range overlapping {@code [offset, offset + length)}, or null. */
    synchronized Range overlapping(long offset, long length) {
        if (!any) {
            return null;
        }
        long end = offset + length;
        for (Range r : ranges) {
            if (r.offset() < end && offset < r.end()) {
                return r;
            }
        }
        return null;
    }

    /** Adds a range; returns whether the list changed. */
    synchronized boolean add(long offset, long length) {
        long start = offset;
        long end = offset + length;
        for (Range r : ranges) {
            if (r.offset() <= start && end <= r.end()) {
                return false;
            }
        }
        List<Range> kept = new ArrayList<>();
        for (Range r : ranges) {
            if (r.offset() <= end && start <= r.end()) {
                start = Math.min(start, r.offset());
                end = Math.max(end, r.end());
            } else {
                kept.add(r);
            }
        }
        kept.add(new Range(start, end - start));
        kept.sort((a, b) -> Long.compare(a.offset(), b.offset()));
        mergeClosestWhileOver(kept, 0, 0);
        ranges.clear();
        ranges.addAll(kept);
        any = !ranges.isEmpty();
        return true;
    }

    /** Removes {@code [offset, offset + length)} (it was rewritten); returns whether anything changed. */
    synchronized boolean clear(long offset, long length) {
        if (!any) {
            return false;
        }
        long end = offset + length;
        List<Range> kept = new ArrayList<>();
        boolean changed = false;
        for (Range r : ranges) {
            if (r.offset() < end && offset < r.end()) {
                changed = true;
                if (r.offset() < offset) {
                    kept.add(new Range(r.offset(), offset - r.offset()));
                }
                if (r.end() > end) {
                    kept.add(new Range(end, r.end() - end));
                }
            } else {
                kept.add(r);
            }
        }
        if (changed) {
            // a range split around the cleared one is one more: over capacity (the stored record
            // holds no more) two others merge, never across what was just rewritten. Before, the
            // list went over, the record could not be stored, and the write that cleared it
            // failed as an internal error, its range quarantined again after a restart.
            mergeClosestWhileOver(kept, offset, end);
            ranges.clear();
            ranges.addAll(kept);
            any = !ranges.isEmpty();
        }
        return changed;
    }

    /**
     * Merges the two closest of the sorted {@code kept} until it fits the capacity, never two on
     * either side of a gap overlapping {@code [keepStart, keepEnd)} (data just rewritten: no such gap
     * when empty). Wider, never narrower.
     */
    private void mergeClosestWhileOver(List<Range> kept, long keepStart, long keepEnd) {
        while (kept.size() > capacity) {
            int best = -1;
            long bestGap = Long.MAX_VALUE;
            for (int i = 0; i + 1 < kept.size(); i++) {
                long gapStart = kept.get(i).end();
                long gapEnd = kept.get(i + 1).offset();
                if (gapStart < keepEnd && keepStart < gapEnd) {
                    continue;
                }
                if (gapEnd - gapStart < bestGap) {
                    bestGap = gapEnd - gapStart;
                    best = i;
                }
            }
            if (best < 0) {
                // only the rewritten gap is left to merge across: a capacity of one, which no cache
                // has (the record holds 62); the list stays one over rather than quarantine good data
                return;
            }
            Range a = kept.get(best);
            Range b = kept.remove(best + 1);
            kept.set(best, new Range(a.offset(), b.end() - a.offset()));
        }
    }

    synchronized List<Range> snapshot() {
        return List.copyOf(ranges);
    }
}
