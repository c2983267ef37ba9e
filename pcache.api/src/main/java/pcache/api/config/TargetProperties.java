package pcache.api.config;

import pcache.api.CacheDevice;
import pcache.api.format.PcacheFormat;
import pcache.api.spi.BackingDevice;
import pcache.api.spi.CrcProvider;
import pcache.api.spi.KeyIndexProvider;
import pcache.api.spi.PmemProvider;
import pcache.api.spi.SegmentAllocatorProvider;
import pcache.api.spi.WritebackPolicy;

/**
 * Property names, defaults and ranges of a cache's configuration (factory PID
 * {@value ConfigPids#TARGET}). The target's metatype refers to these constants, so what it
 * declares and what the launcher and the shell write cannot drift apart.
 */
public final class TargetProperties {

    /** The cache's name ({@link CacheNames}): its CacheDevice service property and NBD export name. */
    public static final String NAME = "name";
    /** Path of the cache device. */
    public static final String CACHE_DEV = "cache_dev";
    /** Bytes to create a missing cache device with (Long); 0 = it must exist. */
    public static final String CACHE_DEV_SIZE_BYTES = "cache_dev_size_bytes";
    /** {@code writeback}, {@code writethrough} or {@code passthrough} (pcache.api's CacheMode, in configuration spelling). */
    public static final String CACHE_MODE = "cache_mode";
    /** Whether cached data carries a CRC (Boolean); fixed when the cache device is formatted. */
    public static final String DATA_CRC = "data_crc";
    /** GC threshold in percent (Integer), {@value #GC_PERCENT_MIN}..{@value #GC_PERCENT_MAX}. */
    public static final String GC_PERCENT = "gc_percent";
    /** Accept a backing device whose identity differs from the recorded one (Boolean). */
    public static final String FORCE_IDENTITY = "force_identity";
    /** How long requests wait for an unavailable backing device, in milliseconds (Long, 1..{@value #BACKING_TIMEOUT_MS_MAX}). */
    public static final String BACKING_TIMEOUT_MS = "backing_timeout_ms";
    /** Parallel write streams (Integer); 0 = one per CPU. Not written by the launcher or the shell. */
    public static final String STREAMS = "streams";
    /** Delay before an open kset is persisted, in milliseconds (Long). Not written by the launcher or the shell. */
    public static final String KSET_FLUSH_DELAY_MS = "kset_flush_delay_ms";
    /** How often GC and write-back look for work, in milliseconds (Long). Not written by the launcher or the shell. */
    public static final String GC_INTERVAL_MS = "gc_interval_ms";

    /** Reference target selecting the BackingDevice service. */
    public static final String BACKING_TARGET = "backing.target";

    public static final String CACHE_MODE_DEFAULT = "writeback";
    public static final boolean DATA_CRC_DEFAULT = false;
    public static final int GC_PERCENT_MIN = CacheDevice.GC_PERCENT_MIN;
    public static final int GC_PERCENT_MAX = CacheDevice.GC_PERCENT_MAX;
    public static final int GC_PERCENT_DEFAULT = CacheDevice.GC_PERCENT_DEFAULT;
    /** The smallest cache device: dm-pcache's format needs 512 MiB. */
    public static final long CACHE_DEV_SIZE_MIN = PcacheFormat.CACHE_DEV_SIZE_MIN;
    public static final boolean FORCE_IDENTITY_DEFAULT = false;
    public static final long BACKING_TIMEOUT_MS_DEFAULT = 30_000;
    /**
     * The longest backing timeout: ten years, "for ever" for any use. Longer ones are refused, not
     * cut, since waits are counted in nanoseconds: a "for ever" of {@code Long.MAX_VALUE}
     * milliseconds overflowed there and made every wait end at once.
     */
    public static final long BACKING_TIMEOUT_MS_MAX = 3650L * 24 * 60 * 60 * 1000;
    public static final int STREAMS_DEFAULT = 0;
    /** The most write streams a cache uses (more would not find cores to run on). */
    public static final int STREAMS_MAX = 8;
    /** dm-pcache's kset flush interval. */
    public static final long KSET_FLUSH_DELAY_MS_DEFAULT = 1000;
    /** dm-pcache's GC interval. */
    public static final long GC_INTERVAL_MS_DEFAULT = 5000;

    /** Default parts, by the names their services register (see {@link CachePart}). */
    public static final String PMEM_DEFAULT = "mapped";
    public static final String WRITEBACK_POLICY_DEFAULT = "ordered";
    public static final String CRC_DEFAULT = CrcProvider.PCACHE_CRC32C;
    public static final String KEY_INDEX_DEFAULT = "striped";
    public static final String ALLOCATOR_DEFAULT = "fifo";

    /** The filters selecting the default parts (constant expressions, for annotations). */
    public static final String PMEM_TARGET_DEFAULT = "(" + PmemProvider.TYPE + "=" + PMEM_DEFAULT + ")";
    public static final String WRITEBACK_TARGET_DEFAULT = "(" + WritebackPolicy.NAME + "=" + WRITEBACK_POLICY_DEFAULT
            + ")";
    public static final String CRC_TARGET_DEFAULT = "(" + CrcProvider.ALGORITHM + "=" + CRC_DEFAULT + ")";
    public static final String KEYINDEX_TARGET_DEFAULT = "(" + KeyIndexProvider.NAME + "=" + KEY_INDEX_DEFAULT + ")";
    public static final String ALLOCATOR_TARGET_DEFAULT = "(" + SegmentAllocatorProvider.NAME + "=" + ALLOCATOR_DEFAULT
            + ")";
    /** Selects nothing until a configuration names the backing device. */
    public static final String BACKING_TARGET_DEFAULT = "(" + BackingDevice.NAME + "=unconfigured)";

    private TargetProperties() {
    }
}
