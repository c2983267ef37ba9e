package pcache.engine.internal.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import pcache.api.spi.CacheKey;
import pcache.api.spi.KeySlice;

/**
 * Caches what a read miss brought from the backing device (reference §4.2 "miss completion"):
 * the bytes go to free cache space and replace the reader's placeholder with clean keys, unless a
 * write overtook the placeholder meanwhile (older data is never installed over newer). Filling is
 * best effort: without free space or on a pmem error the read is served anyway, uncached.
 */
final class MissFill {

    private final OpenCache cache;

    MissFill(OpenCache cache) {
        this.cache = cache;
    }

    /**
     * Caches {@code data}, just read for {@code placeholder}. A data head near the end of its
     * segment gives a short allocation; the rest goes to further allocations, one key each, so a
     * large miss is cached whole while there is space.
     */
    void fill(KeySlice slice, CacheKey placeholder, ByteBuffer data) throws IOException {
        List<Allocation> pieces = new ArrayList<>(2);
        int total;
        try {
            total = copyToCache(placeholder.offset(), data, pieces);
            if (pieces.isEmpty()) {
                removePlaceholder(slice, placeholder);
                return;
            }
            cache.region().fence();
        } catch (IOException | RuntimeException | Error e) {
            // an Error too (the JVM's InternalError for a fault in mapped memory): the space and
            // the placeholder must go back, or the segments could never be reclaimed and the range
            // never cached again
            for (Allocation a : pieces) {
                cache.giveBackAfter(a, e);
            }
            removePlaceholder(slice, placeholder);
            if (e instanceof IOException) {
                return; // the read is served anyway: only the caching failed
            }
            throw e;
        }
        slice.lock();
        try {
            if (!placeholder.isLinked() || !placeholder.isEmpty()) {
                for (Allocation a : pieces) { // overtaken by a write: never install older data
                    giveBack(a);
                }
                return;
            }
            install(slice, placeholder, data, pieces, total);
        } finally {
            slice.unlock();
        }
    }

    /** Copies as much of {@code data} as free space allows; returns the bytes copied (and flushed). */
    private int copyToCache(long offset, ByteBuffer data, List<Allocation> pieces) throws IOException {
        int total = 0;
        while (total < data.remaining()) {
            Allocation a;
            try {
                // one key per piece: at most to a key's end (shorter with data CRCs)
                a = cache.heads().allocate((int) Math.min(data.remaining() - total,
                        cache.keyEnd(offset + total) - (offset + total)));
            } catch (DataHeads.NoSpace e) {
                break; // no more space: cache what was allocated, the read is served anyway
            }
            pieces.add(a);
            long at = cache.dataOffset(a.segment()) + a.offset();
            int from = data.position() + total;
            cache.region().write(at, data.duplicate().position(from).limit(from + a.length()));
            cache.region().flush(at, a.length());
            total += a.length();
        }
        return total;
    }

    /**
     * Gives back {@code a}'s reference with no failure to join ({@link OpenCache#giveBackAfter}
     * otherwise): a reclaim that fails is logged and never fails the read, which holds its bytes
     * whatever the copy's fate (the segment then stays taken until the cache is opened again).
     */
    private void giveBack(Allocation a) {
        try {
            cache.segments().put(a.segment());
        } catch (IOException | RuntimeException | Error also) { // an Error too: the pieces after it still go back
            CacheEngine.LOG.log(System.Logger.Level.WARNING, "cache " + cache.name() + ": giving back the space of"
                    + " a read miss's copy failed; the read is served, the segment stays taken until the cache is"
                    + " opened again: " + also.getMessage());
        }
    }

    /** Replaces the placeholder with clean keys for the copied data (under the slice lock). */
    private void install(KeySlice slice, CacheKey placeholder, ByteBuffer data, List<Allocation> pieces, int total)
            throws IOException {
        // a concurrent write may have cut the placeholder's back: cache only what it still covers
        int length = Math.min(placeholder.length(), total);
        slice.remove(placeholder);
        int done = 0;
        for (int i = 0; i < pieces.size(); i++) {
            Allocation a = pieces.get(i);
            int n = Math.min(a.length(), length - done);
            if (n <= 0) {
                giveBack(a);
                continue;
            }
            CacheKey key = new CacheKey(placeholder.offset() + done, n).place(a.segment(), a.offset(), a.generation());
            key.markClean();
            if (cache.config().dataCrc()) {
                int from = data.position() + done;
                key.setDataCrc(cache.crc().checksum(data.duplicate().position(from).limit(from + n)));
            }
            slice.insert(key, cache.validity());
            try {
                cache.keyLog().append(key, false);
            } catch (IOException e) {
                slice.remove(key);
                giveBack(a);
            } catch (RuntimeException | Error e) {
                // not logged, and the pieces after it will not be: all their space goes back
                slice.remove(key);
                for (Allocation rest : pieces.subList(i, pieces.size())) {
                    cache.giveBackAfter(rest, e);
                }
                throw e;
            }
            done += n;
        }
    }

    private static void removePlaceholder(KeySlice slice, CacheKey placeholder) {
        slice.lock();
        try {
            slice.remove(placeholder);
        } finally {
            slice.unlock();
        }
    }
}
