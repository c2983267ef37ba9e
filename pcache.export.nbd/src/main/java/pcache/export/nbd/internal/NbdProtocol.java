package pcache.export.nbd.internal;

/**
 * What the server chooses within the NBD protocol (the block sizes it advertises, the metadata
 * context ids it hands out) and how it shows client-supplied strings; the protocol's own wire
 * constants are {@link pcache.api.nbd.NbdWire}, shared with the NBD client.
 */
final class NbdProtocol {
    private NbdProtocol() {
    }

    /** Characters of a client-supplied string shown in a log line or message; the rest is cut. */
    static final int MAX_SHOWN_CHARS = pcache.io.Printable.MAX_SHOWN_CHARS;

    /** A client-supplied string (an export name) made safe to show: {@link pcache.io.Printable#of}. */
    static String printable(String s) {
        return pcache.io.Printable.of(s);
    }

    // --- metadata contexts (§2.3)
    static final String META_BASE_ALLOCATION = "base:allocation";
    /** Id we hand out for {@code base:allocation}; ids are chosen by the server. */
    static final int META_BASE_ALLOCATION_ID = 1;
    /**
     * pcache's own context: bit 0 ({@link #DIRTY_STATE_DIRTY}) flags the ranges whose newest data
     * is in the cache and not yet written back. Offered on exports of caches only.
     */
    static final String META_PCACHE_DIRTY = "pcache:dirty";
    /** Id we hand out for {@code pcache:dirty}. */
    static final int META_PCACHE_DIRTY_ID = 2;
    /** The {@code pcache:dirty} flag of a dirty extent. */
    static final int DIRTY_STATE_DIRTY = 1;
    /**
     * Extents per context in one BLOCK_STATUS reply (without REQ_ONE): bounds the reply's size
     * and the work of one request; a client asks again from where the answer ended.
     */
    static final int MAX_BLOCK_STATUS_EXTENTS = 1024;

    // --- block sizes we advertise (§5)
    /** Preferred block size: below this, clients would cause read-modify-write in a cache. */
    static final int PREFERRED_BLOCK_BYTES = 4096;
}
