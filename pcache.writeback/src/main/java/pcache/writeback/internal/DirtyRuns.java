package pcache.writeback.internal;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import pcache.api.CachePos;
import pcache.api.CorruptMediaException;
import pcache.api.spi.CacheKey;
import pcache.api.spi.KeyIndex;
import pcache.api.spi.KeySlice;
import pcache.api.spi.KeyValidity;
import pcache.api.spi.Kset;
import pcache.api.spi.WritebackContext;

/**
 * Writes the dirty extents of a resolved set of keys (a scratch index: overlaps already cut,
 * newest wins) in offset order, adjacent extents as one backing write of at most
 * {@link #MAX_RUN_BYTES}: scattered small extents that happen to touch reach the backing device
 * as one large write instead of many small ones. The order of writes between two backing flushes
 * does not matter to either policy, so sorting them costs no guarantee.
 */
final class DirtyRuns {
    /** Largest single backing write; bounds the bounce buffer a run of several extents is gathered in. */
    static final int MAX_RUN_BYTES = 4 << 20;

    private DirtyRuns() {
    }

    /**
     * The kset after the ones a step has already read, or null where the step must end: at the
     * end of the log, and also at a kset that the context finds damaged. The ksets read before it
     * are written back and dirty_tail moves up to it; the next step begins there, and its first
     * read reports the damage. Before, the damage failed the whole step, so write-back stopped
     * at the start of the group, up to a whole group before the damage, and everything logged
     * between stayed only in the cache.
     */
    static Kset readAfter(WritebackContext context, CachePos position) throws IOException {
        try {
            return context.readKset(position);
        } catch (CorruptMediaException e) {
            return null;
        }
    }

    /**
     * Adds copies of {@code kset}'s keys to {@code scratch}, where later ones win over earlier ones
     * (copies: overlap fix-up cuts keys in place, and a kset's keys must stay as logged, since
     * dirty_tail accounting and in-memory clean marking read them).
     */
    static void resolve(KeyIndex scratch, Kset kset) {
        for (CacheKey key : kset.keys()) {
            KeySlice slice = scratch.slice(key.offset());
            slice.lock();
            try {
                slice.insert(key.copy(), KeyValidity.ALL);
            } finally {
                slice.unlock();
            }
        }
    }

    /** Writes every dirty extent of {@code resolved}; returns the bytes written. */
    static long write(WritebackContext context, KeyIndex resolved) throws IOException {
        List<CacheKey> dirty = new ArrayList<>();
        resolved.forEach(k -> {
            if (!k.isClean()) {
                dirty.add(k);
            }
        });
        long written = 0;
        List<CacheKey> run = new ArrayList<>();
        long runBytes = 0;
        for (CacheKey k : dirty) {
            boolean adjacent = !run.isEmpty() && run.get(run.size() - 1).end() == k.offset();
            if (!run.isEmpty() && (!adjacent || runBytes + k.length() > MAX_RUN_BYTES)) {
                context.writeBack(run);
                written += runBytes;
                run = new ArrayList<>();
                runBytes = 0;
            }
            run.add(k);
            runBytes += k.length();
        }
        if (!run.isEmpty()) {
            context.writeBack(run);
            written += runBytes;
        }
        return written;
    }
}
