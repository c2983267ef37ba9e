package pcache.engine.internal.media;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;

import pcache.api.CachePos;
import pcache.api.format.PcacheFormat;
import pcache.api.format.PcacheLayout;

/**
 * Where the key log would go on after a kset whose header is damaged, as far as the header can
 * still tell: after what looks like a kset of n keys (its key count field), or at the start of
 * the segment a LAST kset would link to (the same field). Replay and fsck both ask, to tell a log
 * damaged in its middle (valid ksets follow) from one that simply ends.
 */
public final class KsetContinuation {

    private KsetContinuation() {
    }

    /**
     * The positions to look at, most likely first.
     *
     * @param pos         where the damaged kset is
     * @param keyNumField the header's key count field as stored
     * @param isSegment   whether a cache segment number exists (and is mapped)
     */
    public static List<CachePos> candidates(CachePos pos, int keyNumField, IntPredicate isSegment) {
        List<CachePos> out = new ArrayList<>(2);
        int n = keyNumField;
        if (n >= 1 && n <= PcacheLayout.KsetHeader.KEYS_MAX) {
            long next = (long) pos.offset() + PcacheLayout.KsetHeader.size(n);
            if (next + PcacheLayout.KsetHeader.SIZE <= PcacheFormat.SEG_DATA_SIZE) {
                out.add(new CachePos(pos.segment(), (int) next));
            }
        }
        if (n != pos.segment() && isSegment.test(n)) {
            out.add(new CachePos(n, 0));
        }
        return out;
    }
}
