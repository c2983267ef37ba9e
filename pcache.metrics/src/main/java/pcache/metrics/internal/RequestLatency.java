package pcache.metrics.internal;

import java.util.function.Function;

import pcache.api.CacheStatistics;
import pcache.api.LatencyHistogram;

/** The latency histograms of {@link CacheStatistics}, each as a Prometheus histogram in seconds. */
enum RequestLatency {
    READ("readLatency", "pcache_read_duration_seconds", "How long reads took, as the cache device's callers saw them.",
            CacheStatistics::readLatency),
    WRITE("writeLatency", "pcache_write_duration_seconds",
            "How long writes and write-zeroes took, as the cache device's callers saw them.",
            CacheStatistics::writeLatency),
    FLUSH("flushLatency", "pcache_flush_duration_seconds",
            "How long flushes took, as the cache device's callers saw them.", CacheStatistics::flushLatency);

    private final String component;
    private final String metricName;
    private final String help;
    private final Function<CacheStatistics, LatencyHistogram> value;

    RequestLatency(String component, String metricName, String help, Function<CacheStatistics, LatencyHistogram> value) {
        this.component = component;
        this.metricName = metricName;
        this.help = help;
        this.value = value;
    }

    /** The {@link CacheStatistics} component this histogram reads. */
    String component() {
        return component;
    }

    String metricName() {
        return metricName;
    }

    String help() {
        return help;
    }

    LatencyHistogram valueOf(CacheStatistics statistics) {
        return value.apply(statistics);
    }
}
