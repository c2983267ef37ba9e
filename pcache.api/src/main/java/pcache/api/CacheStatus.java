package pcache.api;

/**
 * The state of one cache: the nine fields dm-pcache prints in its status line (reference §1.3),
 * followed by what pcache adds.
 *
 * @param name the cache's name
 * @param sbFlags superblock flags (bit 0: formatted big-endian)
 * @param segTotal 16 MiB segments on the cache device
 * @param cacheSegs segments owned by the cache
 * @param segsUsed segments in use (data, key log and current heads)
 * @param gcPercent the GC threshold
 * @param cacheFlags cache_info flags (bit 0 DATA_CRC, bit 1 INIT_DONE, bits 2-5 mode, bits 6-12
 *        gc_percent)
 * @param keyHead where the next key set will be written
 * @param dirtyTail first key set not yet written back
 * @param keyTail first key set not yet garbage-collected
 * @param mode the current cache mode
 * @param dataCrc whether cached data carries a CRC
 * @param backingState what is known of the backing device
 * @param backing description of the bound backing device, or "none", or, when every configured
 *        backing device the cache selects failed to open, "none: " and which and why
 * @param cacheDevice description of the cache device (path and mapping)
 */
public record CacheStatus(String name, int sbFlags, int segTotal, int cacheSegs, int segsUsed,
        int gcPercent, int cacheFlags, CachePos keyHead, CachePos dirtyTail, CachePos keyTail,
        CacheMode mode, boolean dataCrc, BackingState backingState, String backing,
        String cacheDevice) {

    /**
     * The status line exactly as {@code dmsetup status} prints dm-pcache's fields:
     * {@code %x %u %u %u %u %x %u:%u %u:%u %u:%u}.
     */
    public String dmStatusLine() {
        return Integer.toHexString(sbFlags) + " " + Integer.toUnsignedString(segTotal) + " "
                + Integer.toUnsignedString(cacheSegs) + " " + Integer.toUnsignedString(segsUsed) + " "
                + gcPercent + " " + Integer.toHexString(cacheFlags) + " " + keyHead + " " + dirtyTail
                + " " + keyTail;
    }

    /** True when nothing is left to write back (dirty_tail has reached key_head). */
    public boolean clean() {
        return dirtyTail.equals(keyHead);
    }
}
