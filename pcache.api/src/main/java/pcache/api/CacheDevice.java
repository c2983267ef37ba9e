package pcache.api;

import java.io.IOException;

import org.osgi.annotation.versioning.ProviderType;

/**
 * A block device served from a persistent cache in front of a backing device: the logical device
 * a client sees. It is registered as an OSGi service with the property {@link #NAME} set to
 * {@link #name()}.
 *
 * <p>Durability is that of {@link BlockDevice}: "non-volatile storage" is the cache device, so a
 * flushed or FUA write survives a crash of the process or of the machine even before it was
 * written back. What reaches the backing device, and when, depends on the {@link CacheMode}.
 */
@ProviderType
public interface CacheDevice extends BlockDevice {

    /** Service property holding the cache's name (also the NBD export name). */
    String NAME = "pcache.cache.name";

    /** Lowest accepted {@link #setGcPercent GC threshold}. */
    int GC_PERCENT_MIN = 0;
    /** Highest accepted {@link #setGcPercent GC threshold}. */
    int GC_PERCENT_MAX = 90;
    /** GC threshold of a freshly formatted cache. */
    int GC_PERCENT_DEFAULT = 70;

    /** The cache's configured name; unique within one framework. */
    String name();

    /** A consistent snapshot of the positions and flags dm-pcache reports, plus pcache's own. */
    CacheStatus status();

    /** Counters since the cache was opened (dirty bytes and keys are current values). */
    CacheStatistics statistics();

    /** The current mode. */
    CacheMode mode();

    /**
     * Switches mode at run time. Entering {@link CacheMode#PASSTHROUGH} first writes back every
     * dirty byte and then empties the cache; it blocks until that is done and fails (leaving the
     * mode unchanged) if write-back cannot complete, e.g. because the backing device is failing.
     */
    void setMode(CacheMode mode) throws IOException;

    /** The GC threshold: GC reclaims segments while more than this percentage is in use. */
    int gcPercent();

    /**
     * Sets and persists the GC threshold.
     *
     * @throws IllegalArgumentException if {@code percent} is outside
     *         [{@value #GC_PERCENT_MIN}, {@value #GC_PERCENT_MAX}]
     */
    void setGcPercent(int percent) throws IOException;

    /**
     * Writes back every byte that is dirty when the call starts (first persisting every open key
     * set, as {@link #flush()} does), ignoring write-back watermarks and rate limits, and returns
     * when the backing device holds it and has been flushed. Writes that arrive meanwhile may or
     * may not be covered.
     *
     * @param progress told about remaining dirty bytes as write-back advances; may be null
     * @throws java.io.InterruptedIOException if the calling thread is interrupted (write-back
     *         goes on in the background)
     * @throws BackingDeviceException if the backing device fails and write-back cannot progress
     *         within the backing timeout
     */
    void drain(DrainProgress progress) throws IOException;

    /** Receives progress reports from {@link CacheDevice#drain}. */
    @FunctionalInterface
    interface DrainProgress {
        /**
         * @param remainingDirtyBytes dirty bytes still to write back
         * @param initialDirtyBytes dirty bytes when the drain started
         */
        void progress(long remainingDirtyBytes, long initialDirtyBytes);
    }
}
