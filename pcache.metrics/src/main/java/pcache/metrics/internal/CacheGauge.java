package pcache.metrics.internal;

import java.util.function.ToLongFunction;

import pcache.api.CacheStatistics;

/** The values of {@link CacheStatistics} that describe a cache now, each as a Prometheus gauge. */
enum CacheGauge {
    DIRTY_BYTES("dirtyBytes", "pcache_dirty_bytes",
            "Bytes logged but not yet written back (an overwritten extent counts once per version to write back).",
            CacheStatistics::dirtyBytes),
    INDEX_EXTENTS("keys", "pcache_index_extents", "Extents in the cache's index.", CacheStatistics::keys),
    SEGMENTS_USED("segmentsUsed", "pcache_segments_used", "Segments in use.", CacheStatistics::segmentsUsed),
    SEGMENTS_OWNED("segmentsTotal", "pcache_segments_owned", "Segments owned by the cache.",
            CacheStatistics::segmentsTotal),
    QUARANTINED_EXTENTS("quarantinedExtents", "pcache_quarantined_extents",
            "Extents that failed their CRC while dirty and were set aside (reads of them fail until rewritten).",
            CacheStatistics::quarantinedExtents);

    private final String component;
    private final String metricName;
    private final String help;
    private final ToLongFunction<CacheStatistics> value;

    CacheGauge(String component, String metricName, String help, ToLongFunction<CacheStatistics> value) {
        this.component = component;
        this.metricName = metricName;
        this.help = help;
        this.value = value;
    }

    /** The {@link CacheStatistics} component this gauge reads. */
    String component() {
        return component;
    }

    String metricName() {
        return metricName;
    }

    String help() {
        return help;
    }

    long valueOf(CacheStatistics statistics) {
        return value.applyAsLong(statistics);
    }
}
