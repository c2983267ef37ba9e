package pcache.api.spi;

import java.util.List;

import pcache.api.CachePos;

/**
 * A key set decoded from the key log (reference §2.3, §3.5): either a batch of keys, or a LAST
 * kset that links the log to the next key segment.
 *
 * @param position where the kset starts
 * @param sizeBytes bytes it occupies (24 + 40 per key; 24 for LAST)
 * @param last whether it is a LAST kset
 * @param nextSegment the next key segment (LAST only)
 * @param keys the decoded keys in log order (empty for LAST); fresh objects, not linked. Treat them
 *        as read-only: to resolve overlaps, insert {@link CacheKey#copy() copies} into an index
 *        (inserting cuts keys in place), because the cache reads these keys again when dirty_tail
 *        passes the kset
 */
public record Kset(CachePos position, int sizeBytes, boolean last, int nextSegment, List<CacheKey> keys) {

    /** Where the log continues after this kset. */
    public CachePos next() {
        return last ? new CachePos(nextSegment, 0)
                : new CachePos(position.segment(), position.offset() + sizeBytes);
    }

    /** Bytes of keys that are not CLEAN (what write-back has to copy), before overlap fix-up. */
    public long dirtyBytes() {
        long n = 0;
        for (CacheKey k : keys) {
            if (!k.isClean()) {
                n += k.length();
            }
        }
        return n;
    }
}
