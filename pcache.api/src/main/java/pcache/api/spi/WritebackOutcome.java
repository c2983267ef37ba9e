package pcache.api.spi;

/** What one {@link WritebackPolicy#step} did. */
public enum WritebackOutcome {
    /** dirty_tail advanced; call again at once. */
    PROGRESS,
    /** Nothing to write back (no valid kset at dirty_tail); wait for new ksets. */
    IDLE,
    /** There is dirty data but the policy chose to wait (watermark, rate limit); call again later. */
    DEFERRED
}
