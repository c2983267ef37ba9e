package pcache.metrics.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;

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
 * {@value #CACHE_LABEL}; and {@value #OPEN}, which also has a data point (0) for each configured
 * cache that is not open, so that an alert can fire on it.
 */
final class CacheMetrics {

    /** The label naming the cache of a data point. */
    static final String CACHE_LABEL = "cache";

    private static final double NANOS_PER_SECOND = 1e9;

    private CacheMetrics() {
    }

    /** The gauge that says which caches are open. */
    static final String OPEN = "pcache_cache_open";

    /**
     * The metric families of {@code statisticsByCache} (the open caches), and {@value #OPEN}: 1 for
     * each of them, 0 for each of {@code notOpen} (configured caches that are not open); none when
     * there is no cache at all.
     */
    static MetricSnapshots snapshot(SortedMap<String, CacheStatistics> statisticsByCache, SortedSet<String> notOpen) {
        if (statisticsByCache.isEmpty() && notOpen.isEmpty()) {
            return new MetricSnapshots(List.of());
        }
        List<MetricSnapshot> families = new ArrayList<>();
        GaugeSnapshot.Builder open = GaugeSnapshot.builder().name(OPEN).help("1 while the cache is open; 0 while it is"
                + " configured but not open: its open failed (pcache:list says why) or it waits for its backing device");
        SortedMap<String, Double> openByName = new TreeMap<>();
        notOpen.forEach(n -> openByName.put(n, 0.0));
        statisticsByCache.keySet().forEach(n -> openByName.put(n, 1.0));
        openByName.forEach((name, value) -> open.dataPoint(GaugeDataPointSnapshot.builder().labels(labels(name))
                .value(value).build()));
        families.add(open.build());
        if (statisticsByCache.isEmpty()) {
            return new MetricSnapshots(families);
        }
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
