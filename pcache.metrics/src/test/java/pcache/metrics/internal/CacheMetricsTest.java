package pcache.metrics.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.lang.reflect.RecordComponent;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.prometheus.metrics.config.EscapingScheme;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;

import pcache.api.CacheStatistics;
import pcache.api.LatencyHistogram;

class CacheMetricsTest {

    private static final List<Long> BOUNDS = List.of(10_000L, 1_000_000L, 1_000_000_000L);

    @TempDir
    Path dir;

    /** Statistics whose long component number i (in declaration order) is {@code base + i}. */
    static CacheStatistics numbered(long base) throws Exception {
        RecordComponent[] components = CacheStatistics.class.getRecordComponents();
        Class<?>[] types = new Class<?>[components.length];
        Object[] values = new Object[components.length];
        for (int i = 0; i < components.length; i++) {
            types[i] = components[i].getType();
            values[i] = types[i] == long.class ? (Object) (base + i)
                    : new LatencyHistogram(BOUNDS, List.of(base + i, 2L, 0L, 1L), 5_000_000_000L + i);
        }
        return CacheStatistics.class.getDeclaredConstructor(types).newInstance(values);
    }

    static String text(SortedMap<String, CacheStatistics> caches) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrometheusTextFormatWriter.create().write(out, CacheMetrics.snapshot(caches, new TreeSet<>()),
                EscapingScheme.DEFAULT);
        return out.toString(StandardCharsets.UTF_8);
    }

    /** The value of the sample {@code name{labels}} in {@code text}; fails if it is not there once. */
    static double sample(String text, String nameAndLabels) {
        List<String> lines = text.lines().filter(l -> l.startsWith(nameAndLabels + " ")).toList();
        assertEquals(1, lines.size(), "one sample " + nameAndLabels + " in\n" + text);
        return Double.parseDouble(lines.get(0).substring(nameAndLabels.length() + 1).trim());
    }

    @Test
    void everyComponentOfTheStatisticsIsExportedOnce() {
        Set<String> components = Stream.of(CacheStatistics.class.getRecordComponents()).map(RecordComponent::getName)
                .collect(Collectors.toCollection(TreeSet::new));
        List<String> exported = new ArrayList<>();
        Stream.of(StatisticsMetrics.COUNTERS, StatisticsMetrics.GAUGES, StatisticsMetrics.LATENCIES)
                .flatMap(List::stream).map(StatisticsMetric::component).forEach(exported::add);
        assertEquals(components, new TreeSet<>(exported));
        assertEquals(components.size(), exported.size(), "each component once: " + exported);
    }

    @Test
    void eachMetricReadsItsOwnComponent() throws Exception {
        CacheStatistics s = numbered(100);
        for (List<? extends StatisticsMetric<?>> kind : List.of(StatisticsMetrics.COUNTERS, StatisticsMetrics.GAUGES,
                StatisticsMetrics.LATENCIES)) {
            for (StatisticsMetric<?> m : kind) {
                assertEquals(CacheStatistics.class.getMethod(m.component()).invoke(s), m.valueOf(s), m.metricName());
            }
        }
    }

    @Test
    void countersGaugesAndHistogramsPerCache() throws Exception {
        SortedMap<String, CacheStatistics> caches = new TreeMap<>();
        caches.put("a", numbered(100));
        caches.put("disk.0", numbered(1000));
        String text = text(caches);

        assertEquals(100, sample(text, "pcache_read_requests_total{cache=\"a\"}"));
        assertEquals(1000, sample(text, "pcache_read_requests_total{cache=\"disk.0\"}"));
        assertTrue(text.contains("# TYPE pcache_read_requests_total counter\n"), text);
        assertTrue(text.contains("# HELP pcache_read_requests_total Read requests served.\n"), text);
        assertEquals(numbered(100).backingErrors(), (long) sample(text, "pcache_backing_errors_total{cache=\"a\"}"));
        assertEquals(numbered(100).dirtyBytes(), (long) sample(text, "pcache_dirty_bytes{cache=\"a\"}"));
        assertTrue(text.contains("# TYPE pcache_dirty_bytes gauge\n"), text);
        assertEquals(numbered(100).segmentsTotal(), (long) sample(text, "pcache_segments_owned{cache=\"a\"}"));

        // the write histogram of cache a: per-bucket counts (base + i, 2, 0, 1) become cumulative
        long first = numbered(100).writeLatency().bucketCounts().get(0);
        assertTrue(text.contains("# TYPE pcache_write_duration_seconds histogram\n"), text);
        assertEquals(first, (long) sample(text, "pcache_write_duration_seconds_bucket{cache=\"a\",le=\"1.0E-5\"}"));
        assertEquals(first + 2, (long) sample(text, "pcache_write_duration_seconds_bucket{cache=\"a\",le=\"0.001\"}"));
        assertEquals(first + 2, (long) sample(text, "pcache_write_duration_seconds_bucket{cache=\"a\",le=\"1.0\"}"));
        assertEquals(first + 3, (long) sample(text, "pcache_write_duration_seconds_bucket{cache=\"a\",le=\"+Inf\"}"));
        assertEquals(first + 3, (long) sample(text, "pcache_write_duration_seconds_count{cache=\"a\"}"));
        assertEquals(numbered(100).writeLatency().sumNanos() / 1e9,
                sample(text, "pcache_write_duration_seconds_sum{cache=\"a\"}"), 1e-9);
        assertTrue(text.contains("pcache_flush_duration_seconds_count{cache=\"disk.0\"}"), text);
    }

    @Test
    void aCacheThatDoesNotMeasureLatencyHasEmptyHistograms() throws Exception {
        SortedMap<String, CacheStatistics> caches = new TreeMap<>();
        caches.put("old", new CacheStatistics(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
                21, 22, 23, 24, 25));
        String text = text(caches);
        assertEquals(0, sample(text, "pcache_read_duration_seconds_count{cache=\"old\"}"));
        assertEquals(0, sample(text, "pcache_read_duration_seconds_bucket{cache=\"old\",le=\"+Inf\"}"));
    }

    @Test
    void noCachesNoMetrics() throws Exception {
        assertEquals("", text(new TreeMap<>()));
    }

    @Test
    void promtoolAcceptsTheOutput() throws Exception {
        SortedMap<String, CacheStatistics> caches = new TreeMap<>();
        caches.put("a", numbered(100));
        caches.put("b-1", numbered(7));
        String text = text(caches);
        assertEquals("exit 0\n", Promtool.check(text, dir), text);
    }
}
