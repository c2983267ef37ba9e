package pcache.api;

/** What a cache knows about its backing device right now. */
public enum BackingState {
    /** Bound and answering. */
    ONLINE,
    /** Bound, but the connection is lost and being re-established; requests wait. */
    RECONNECTING,
    /** No backing device is bound (removed, or being swapped); requests that need one wait. */
    UNAVAILABLE,
    /** Bound, but its recent I/O failed; write-back retries with back-off. */
    FAILING
}
