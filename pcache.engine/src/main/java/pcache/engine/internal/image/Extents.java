package pcache.engine.internal.image;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/** Ranges as the image scan reports them: merged logical extents and runs of segment ids. */
public final class Extents {

    private Extents() {
    }

    /** Sorted, merged {@code [offset, length]} ranges of {@code [start, end)} extents. */
    public static List<long[]> merge(List<long[]> extents) {
        List<long[]> sorted = new ArrayList<>(extents);
        sorted.sort((a, b) -> Long.compare(a[0], b[0]));
        List<long[]> merged = new ArrayList<>();
        long start = -1;
        long end = -1;
        for (long[] e : sorted) {
            if (start >= 0 && e[0] <= end) {
                end = Math.max(end, e[1]);
                continue;
            }
            if (start >= 0) {
                merged.add(new long[] {start, end - start});
            }
            start = e[0];
            end = e[1];
        }
        if (start >= 0) {
            merged.add(new long[] {start, end - start});
        }
        return merged;
    }

    /** {@code 0-3, 7} for a set of segment ids. */
    static String ranges(BitSet set) {
        if (set.isEmpty()) {
            return "none";
        }
        StringBuilder out = new StringBuilder();
        int i = set.nextSetBit(0);
        while (i >= 0) {
            int j = set.nextClearBit(i) - 1;
            out.append(out.length() == 0 ? "" : ", ").append(i);
            if (j > i) {
                out.append('-').append(j);
            }
            i = set.nextSetBit(j + 1);
        }
        return out.toString();
    }
}
