/**
 * The write-back policies, each a {@code WritebackPolicy} service named by its
 * {@code pcache.writeback.policy} property: {@code ordered} (dm-pcache's: one kset per step, a
 * backing flush after each) and {@code batching} (watermarks, coalescing, a rate limit; configured
 * through its own PID and metatype). They see a cache only through {@code WritebackContext}, so
 * another policy bundle needs nothing from the engine. Private package.
 */
package pcache.writeback.internal;
