package pcache.metrics.internal;

import java.util.function.Function;

import pcache.api.CacheStatistics;

/**
 * One value of {@link CacheStatistics} as a Prometheus metric family: the record component it
 * reads ({@link #component()}, so a test can check that every component is exported once and
 * read from the right accessor), the family's name and help text, and how to read it.
 *
 * @param <T> the value's type: {@code Long} for counters and gauges, {@code LatencyHistogram} for histograms
 */
record StatisticsMetric<T>(String component, String metricName, String help, Function<CacheStatistics, T> reader) {

    T valueOf(CacheStatistics statistics) {
        return reader.apply(statistics);
    }
}
