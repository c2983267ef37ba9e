package pcache.api.spi;

/** What a segment is allocated for. */
public enum SegmentUse {
    /**
     * Cached data. Never takes the last free segment, which stays reserved for the key log so
     * that persisting keys of data already written can never fail for lack of space.
     */
    DATA,
    /** The key log (ksets). May take the reserved last free segment. */
    KEY_LOG
}
