package pcache.api;

/**
 * What needs attention in one cache now, beyond its {@link CacheStatus} and the counters of its
 * {@link CacheStatistics}: requests waiting for space, a cache device the cache no longer holds
 * safely, and errors of the write-back and GC threads, which retry on their own and so never
 * fail a request. Health checks and {@code pcache:status} report these.
 *
 * @param requestsWaitingForSpace requests waiting for free cache space now (write-back and GC
 *        make room; while any waits, GC ignores gc_percent)
 * @param cacheDeviceProblem why the cache device is not held safely (the lock on it was lost, its
 *        file is gone or no longer writable, so a restart could not open it), or null when it is
 *        locked and writable
 * @param writebackError the error of the latest write-back attempt when it failed (write-back
 *        retries with back-off, dirty data stays in the cache), or null when the latest attempt
 *        succeeded
 * @param gcErrors failed GC passes since the cache was opened (each is retried)
 * @param gcError the error of the latest GC pass when it failed, or null when it succeeded
 * @param keyLogDamage damage write-back or GC found in the key log and has not got past, or null
 * @since 1.4
 */
public record CacheConditions(int requestsWaitingForSpace, String cacheDeviceProblem, String writebackError,
        long gcErrors, String gcError, String keyLogDamage) {

    /** Nothing needs attention. */
    public static final CacheConditions NONE = new CacheConditions(0, null, null, 0, null, null);

    /**
     * @throws IllegalArgumentException if a count is negative
     */
    public CacheConditions {
        if (requestsWaitingForSpace < 0 || gcErrors < 0) {
            throw new IllegalArgumentException("negative count: " + requestsWaitingForSpace + " waiting, " + gcErrors
                    + " GC errors");
        }
    }
}
