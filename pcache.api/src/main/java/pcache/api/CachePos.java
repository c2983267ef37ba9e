package pcache.api;

/**
 * A position in the cache's segment space: a cache segment id and a byte offset inside that
 * segment's data area (dm-pcache's {@code pcache_cache_pos}). Printed as {@code seg:off}, as in
 * dm-pcache's status line.
 *
 * @param segment cache segment id (index in the segment chain)
 * @param offset byte offset relative to the start of the segment's data area
 */
public record CachePos(int segment, int offset) {

    @Override
    public String toString() {
        return Integer.toUnsignedString(segment) + ":" + Integer.toUnsignedString(offset);
    }
}
