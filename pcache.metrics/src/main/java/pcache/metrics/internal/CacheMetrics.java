package pcache.metrics.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;

import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot.HistogramDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;

import pcache.api.CacheStatistics;
import pcache.api.LatencyHistogram;

/**
 * Turns the statistics of the caches into Prometheus metric families: one family per counter,
 * gauge and histogram of {@link StatisticsMetrics}, one data point per cache labelled
 * {@value #CACHE_LABEL}.
 */
final class CacheMetrics {

    /** The label naming the cache of a data point. */
    static final String CACHE_LABEL = "cache";

    private static final double NANOS_PER_SECOND = 1e9;

    private CacheMetrics() {
    }

    /** The metric families of {@code statisticsByCache}; none when there is no cache. */
    static MetricSnapshots snapshot(SortedMap<String, CacheStatistics> statisticsByCache) {
        if (statisticsByCache.isEmpty()) {
            return new MetricSnapshots(List.of());
        }
        List<MetricSnapshot> families = new ArrayList<>();
        for (StatisticsMetric<Long> c : StatisticsMetrics.COUNTERS) {
            CounterSnapshot.Builder family = CounterSnapshot.builder().name(c.metricName()).help(c.help());
            for (Map.Entry<String, CacheStatistics> e : statisticsByCache.entrySet()) {
                family.dataPoint(CounterDataPointSnapshot.builder().labels(labels(e.getKey()))
                        .value(c.valueOf(e.getValue())).build());
            }
            families.add(family.build());
        }
        for (StatisticsMetric<Long> g : StatisticsMetrics.GAUGES) {
            GaugeSnapshot.Builder family = GaugeSnapshot.builder().name(g.metricName()).help(g.help());
            for (Map.Entry<String, CacheStatistics> e : statisticsByCache.entrySet()) {
                family.dataPoint(GaugeDataPointSnapshot.builder().labels(labels(e.getKey()))
                        .value(g.valueOf(e.getValue())).build());
            }
            families.add(family.build());
        }
        for (StatisticsMetric<LatencyHistogram> l : StatisticsMetrics.LATENCIES) {
            HistogramSnapshot.Builder family = HistogramSnapshot.builder().name(l.metricName()).help(l.help());
            for (Map.Entry<String, CacheStatistics> e : statisticsByCache.entrySet()) {
                LatencyHistogram h = l.valueOf(e.getValue());
                family.dataPoint(HistogramDataPointSnapshot.builder().labels(labels(e.getKey()))
                        .classicHistogramBuckets(buckets(h)).sum(h.sumNanos() / NANOS_PER_SECOND).build());
            }
            families.add(family.build());
        }
        return new MetricSnapshots(families);
    }

    private static Labels labels(String cache) {
        return Labels.of(CACHE_LABEL, cache);
    }

    /** The histogram's buckets in seconds; its last bucket (beyond the highest bound) is {@code +Inf}. */
    static ClassicHistogramBuckets buckets(LatencyHistogram h) {
        int n = h.bucketCounts().size();
        double[] upperBounds = new double[n];
        long[] counts = new long[n];
        for (int i = 0; i < n; i++) {
            upperBounds[i] = i < n - 1 ? h.upperBoundsNanos().get(i) / NANOS_PER_SECOND : Double.POSITIVE_INFINITY;
            counts[i] = h.bucketCounts().get(i);
        }
        return ClassicHistogramBuckets.of(upperBounds, counts);
    }
}
