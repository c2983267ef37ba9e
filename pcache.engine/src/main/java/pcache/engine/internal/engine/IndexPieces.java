package pcache.engine.internal.engine;

import java.io.IOException;

import pcache.api.spi.CacheKey;
import pcache.api.spi.ExtentVisitor;
import pcache.api.spi.KeySlice;

/**
 * Walks the index pieces over one key's range, under its slice's lock (a key never crosses a
 * slice): what write-back marks clean or quarantines after writing a key, and what write-through
 * marks once it landed or leaves out.
 */
final class IndexPieces {

    /** What is done with each index piece over the range. */
    interface Action {
        void piece(CacheKey t, long position, int length);
    }

    /** What runs once the walk is done, still under the slice lock. */
    interface UnderLock {
        void run() throws IOException;
    }

    private IndexPieces() {
    }

    /** Runs {@code action} for each index piece over {@code k}'s range, in offset order. */
    static void each(OpenCache cache, CacheKey k, Action action) {
        KeySlice slice = cache.index().slice(k.offset());
        slice.lock();
        try {
            slice.walk(k.offset(), k.length(), cache.validity(), visitor(action));
        } finally {
            slice.unlock();
        }
    }

    /** As {@link #each(OpenCache, CacheKey, Action)}, then {@code then}, still under the lock. */
    static void each(OpenCache cache, CacheKey k, Action action, UnderLock then) throws IOException {
        KeySlice slice = cache.index().slice(k.offset());
        slice.lock();
        try {
            slice.walk(k.offset(), k.length(), cache.validity(), visitor(action));
            then.run();
        } finally {
            slice.unlock();
        }
    }

    private static ExtentVisitor visitor(Action action) {
        return new ExtentVisitor() {
            @Override
            public boolean hit(CacheKey t, long position, int length) {
                action.piece(t, position, length);
                return true;
            }

            @Override
            public boolean gap(long position, int length) {
                return true;
            }
        };
    }
}
