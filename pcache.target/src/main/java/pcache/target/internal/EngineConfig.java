package pcache.target.internal;

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

    /** Streams to use: the configured number, or one per CPU. */
    int effectiveStreams() {
        return streams > 0 ? streams : Math.max(1, Runtime.getRuntime().availableProcessors());
    }

    /** Checks the ranges of values a configuration could get wrong. */
    static void checkGcPercent(int percent) throws CacheConfigurationException {
        if (percent < CacheDevice.GC_PERCENT_MIN || percent > CacheDevice.GC_PERCENT_MAX) {
            throw new CacheConfigurationException("gc_percent " + percent + " is out of range: expected "
                    + CacheDevice.GC_PERCENT_MIN + ".." + CacheDevice.GC_PERCENT_MAX);
        }
    }
}
