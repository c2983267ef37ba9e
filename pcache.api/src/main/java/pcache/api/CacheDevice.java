package pcache.api;

import java.io.IOException;
import java.util.List;

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

    /**
     * What needs attention in this cache now: requests waiting for space, the hold on its cache
     * device, the latest errors of write-back and GC, damage in the key log.
     *
     * <p>The default, for caches that track none of these, is {@link CacheConditions#NONE}.
     *
     * @since 1.4
     */
    default CacheConditions conditions() {
        return CacheConditions.NONE;
    }

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

    /**
     * Which parts of {@code [offset, offset + length)} hold data not yet written back: extents
     * flagged {@link BlockExtent#DIRTY} where the newest acknowledged data is in the cache only,
     * flags 0 where the backing device already has it (or the cache holds nothing newer). The
     * answer is made of the same extents and bounded the same way as
     * {@link BlockDevice#blockStatus}'s.
     *
     * <p>A range reported clean is on the backing device when the call returns (write-back
     * wrote it, or the cache never held newer data); a range written after the answer was made
     * may be dirty again. A trimmed range whose old data is not yet written back counts as clean:
     * its content is unspecified. Dirty means "not yet written back", so in write-through mode a
     * range may be reported dirty although the backing device got the write too.
     *
     * <p>The default, for caches that cannot tell, reports the whole range dirty: the answer
     * that never makes a caller skip data the backing device lacks.
     *
     * @throws OutOfRangeException if the range does not lie inside the device
     * @throws MisalignedIoException if the range is not aligned to the logical block size
     * @since 1.2
     */
    default List<BlockExtent> dirtyStatus(long offset, long length, int maxExtents) throws IOException {
        BlockDevice.checkRange(name(), sizeBytes(), logicalBlockSize(), offset, length);
        if (length == 0) {
            throw new IllegalArgumentException(name() + ": block status of an empty range at " + offset);
        }
        return List.of(new BlockExtent(offset, length, BlockExtent.DIRTY));
    }

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
