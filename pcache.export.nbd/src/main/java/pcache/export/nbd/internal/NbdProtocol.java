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
    static final int MAX_SHOWN_CHARS = 256;

    /**
     * A client-supplied string (an export name) made safe to put in a log line or an error
     * message: control, line-separator and format characters (which could start a forged log
     * line or reorder the text, e.g. U+202E) are shown as Java-style unicode escapes, and at most
     * {@link #MAX_SHOWN_CHARS} characters are shown.
     */
    static String printable(String s) {
        StringBuilder b = new StringBuilder(Math.min(s.length(), MAX_SHOWN_CHARS) + 16);
        int shown = Math.min(s.length(), MAX_SHOWN_CHARS);
        for (int i = 0; i < shown; i++) {
            char c = s.charAt(i);
            if (Character.isISOControl(c) || c == '\u2028' || c == '\u2029' || Character.getType(c) == Character.FORMAT
                    || Character.isSurrogate(c) && !validSurrogateAt(s, i)) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        if (s.length() > shown) {
            b.append("...(").append(s.length()).append(" characters)");
        }
        return b.toString();
    }

    private static boolean validSurrogateAt(String s, int i) {
        char c = s.charAt(i);
        return Character.isHighSurrogate(c) ? i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))
                : i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
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
