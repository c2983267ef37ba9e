package pcache.engine.internal.engine;

import java.io.IOException;
import java.nio.ByteBuffer;

import pcache.api.spi.CacheKey;

/** Whether a key's bytes in the cache are all zeroes: for write-back and for block status. */
final class ZeroBytes {

    /** Compared against, chunk by chunk. */
    private static final ByteBuffer ZEROES = ByteBuffer.allocateDirect(64 << 10).asReadOnlyBuffer();

    private ZeroBytes() {
    }

    /** Whether {@code data}'s remaining bytes are all zeroes. */
    static boolean allZero(ByteBuffer data) {
        int chunk = ZEROES.capacity();
        for (int at = 0; at < data.remaining(); at += chunk) {
            int n = Math.min(chunk, data.remaining() - at);
            if (data.slice(data.position() + at, n).mismatch(ZEROES.duplicate().limit(n)) >= 0) {
                return false;
            }
        }
        return true;
    }

    /** Whether {@code key}'s bytes in the cache are all zeroes (a look at the first bytes settles most data). */
    static boolean holdsOnlyZeroes(OpenCache cache, CacheKey key) throws IOException {
        return allZero(cache.region().view(cache.dataOffset(key.segment()) + key.segmentOffset(), key.length()));
    }
}
