package pcache.engine.internal.engine;

import pcache.api.CacheConfigurationException;
import pcache.api.CacheDevice;
import pcache.api.format.PcacheFormat;

/**
 * Settings of one open cache.
 *
 * @param name the cache's name
 * @param dataCrc whether cached data carries a CRC (fixed at format time)
 * @param gcPercent GC threshold, 0..90
 * @param streams parallel write streams (kset buffers and data heads); 0 = one per CPU
 * @param ksetFlushDelayMillis delay before an open kset is persisted (dm-pcache: 1000)
 * @param backingTimeoutMillis how long a request that needs the backing device waits for one
 * @param forceIdentity accept a backing device whose identity differs from the recorded one
 * @param minimumCacheBytes smallest cache device accepted at format (dm-pcache: 512 MiB; tests
 *        may lower it to exercise GC with few segments)
 * @param gcIntervalMillis how often GC and write-back look for work when not woken (dm-pcache: 5000)
 */
public record EngineConfig(String name, boolean dataCrc, int gcPercent, int streams, long ksetFlushDelayMillis,
        long backingTimeoutMillis, boolean forceIdentity, long minimumCacheBytes, long gcIntervalMillis) {

    public EngineConfig {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("cache name must not be empty");
        }
    }

    /** Defaults for a cache called {@code name}. */
    public static EngineConfig defaults(String name) {
        return new EngineConfig(name, false, CacheDevice.GC_PERCENT_DEFAULT, 0, 1000, 30_000, false,
                PcacheFormat.CACHE_DEV_SIZE_MIN, 5000);
    }

    public EngineConfig withDataCrc(boolean v) {
        return new EngineConfig(name, v, gcPercent, streams, ksetFlushDelayMillis, backingTimeoutMillis,
                forceIdentity, minimumCacheBytes, gcIntervalMillis);
    }

    public EngineConfig withGcPercent(int v) {
        return new EngineConfig(name, dataCrc, v, streams, ksetFlushDelayMillis, backingTimeoutMillis,
                forceIdentity, minimumCacheBytes, gcIntervalMillis);
    }

    public EngineConfig withStreams(int v) {
        return new EngineConfig(name, dataCrc, gcPercent, v, ksetFlushDelayMillis, backingTimeoutMillis,
                forceIdentity, minimumCacheBytes, gcIntervalMillis);
    }

    public EngineConfig withKsetFlushDelayMillis(long v) {
        return new EngineConfig(name, dataCrc, gcPercent, streams, v, backingTimeoutMillis, forceIdentity,
                minimumCacheBytes, gcIntervalMillis);
    }

    public EngineConfig withBackingTimeoutMillis(long v) {
        return new EngineConfig(name, dataCrc, gcPercent, streams, ksetFlushDelayMillis, v, forceIdentity,
                minimumCacheBytes, gcIntervalMillis);
    }

    public EngineConfig withForceIdentity(boolean v) {
        return new EngineConfig(name, dataCrc, gcPercent, streams, ksetFlushDelayMillis, backingTimeoutMillis, v,
                minimumCacheBytes, gcIntervalMillis);
    }

    public EngineConfig withMinimumCacheBytes(long v) {
        return new EngineConfig(name, dataCrc, gcPercent, streams, ksetFlushDelayMillis, backingTimeoutMillis,
                forceIdentity, v, gcIntervalMillis);
    }

    public EngineConfig withGcIntervalMillis(long v) {
        return new EngineConfig(name, dataCrc, gcPercent, streams, ksetFlushDelayMillis, backingTimeoutMillis,
                forceIdentity, minimumCacheBytes, v);
    }

    /** Most streams: see {@link #effectiveStreams()}. */
    public static final int MAX_STREAMS = pcache.api.config.TargetProperties.STREAMS_MAX;

    /**
     * Streams to use: the configured number, or one per CPU, at most {@value #MAX_STREAMS}. Why a
     * limit: an append that finds no room in the key log cannot be undone safely, so the key log
     * must always be able to absorb the keys of every data byte already handed to the data heads.
     * The allocator keeps one segment for the log when data takes segments; the worst case is one
     * 512-byte FUA write per kset (64 log bytes per 512 data bytes, 1/8), so one 16 MiB segment
     * covers the unfilled parts of at most 8 heads' 16 MiB segments.
     */
    public int effectiveStreams() {
        int n = streams > 0 ? streams : Runtime.getRuntime().availableProcessors();
        return Math.max(1, Math.min(MAX_STREAMS, n));
    }

    /** Checks the ranges of values a configuration could get wrong. */
    public static void checkGcPercent(int percent) throws CacheConfigurationException {
        if (percent < CacheDevice.GC_PERCENT_MIN || percent > CacheDevice.GC_PERCENT_MAX) {
            throw new CacheConfigurationException("gc_percent " + percent + " is out of range: expected "
                    + CacheDevice.GC_PERCENT_MIN + ".." + CacheDevice.GC_PERCENT_MAX);
        }
    }
}
