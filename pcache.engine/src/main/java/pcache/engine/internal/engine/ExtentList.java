package pcache.engine.internal.engine;

import java.util.ArrayList;
import java.util.List;

import pcache.api.BlockExtent;

/**
 * A block-status answer being built: contiguous runs appended in order, a run with the same flags
 * as the previous one merged into it, and at most {@code maxExtents} extents.
 */
final class ExtentList {

    private final long start;
    private final int maxExtents;
    private final List<BlockExtent> extents = new ArrayList<>();
    private long end;
    private int lastFlags = -1;
    private long lastStart;

    /** An empty answer for a range starting at {@code start}; {@code maxExtents} below 1 counts as 1. */
    ExtentList(long start, int maxExtents) {
        this.start = start;
        this.end = start;
        this.lastStart = start;
        this.maxExtents = Math.max(1, maxExtents);
    }

    /** Where the answer ends so far: the next run must start here. */
    long end() {
        return end;
    }

    /**
     * Appends {@code [end(), end() + length)} with {@code flags}.
     *
     * @return false when the run would need an extent beyond the limit (nothing was appended)
     */
    boolean add(long length, int flags) {
        if (length <= 0) {
            throw new IllegalArgumentException("empty run at " + end);
        }
        if (flags != lastFlags) {
            if (lastFlags != -1) {
                if (extents.size() + 1 >= maxExtents) {
                    return false;
                }
                extents.add(new BlockExtent(lastStart, end - lastStart, lastFlags));
            }
            lastFlags = flags;
            lastStart = end;
        }
        end += length;
        return true;
    }

    /** The extents appended, merged; at least one run must have been appended. */
    List<BlockExtent> toList() {
        if (lastFlags == -1) {
            throw new IllegalStateException("no extent from " + start);
        }
        List<BlockExtent> all = new ArrayList<>(extents);
        all.add(new BlockExtent(lastStart, end - lastStart, lastFlags));
        return List.copyOf(all);
    }
}
