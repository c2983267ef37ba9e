package pcache.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;

import org.junit.jupiter.api.Test;

import pcache.api.LatencyHistogram;

class StatsReportTest {

    private static final List<Long> BOUNDS = List.of(10_000L, 100_000L, 1_000_000L);

    @Test
    void latencyWithoutRequests() {
        assertEquals("no requests measured", StatsReport.latency(LatencyHistogram.EMPTY));
    }

    @Test
    void latencyShowsCountMeanAndTheBucketOf99Percent() {
        // 98 requests within 10 µs, 2 within 1 ms: 99 % are within 1 ms
        LatencyHistogram h = new LatencyHistogram(BOUNDS, List.of(98L, 0L, 2L, 0L), 98 * 5_000L + 2 * 600_000L);
        assertEquals("100 requests, mean 16.9 µs, 99 % within 1 ms", StatsReport.latency(h));
        // 100 within 10 µs
        assertEquals("100 requests, mean 5 µs, 99 % within 10 µs",
                StatsReport.latency(new LatencyHistogram(BOUNDS, List.of(100L, 0L, 0L, 0L), 500_000L)));
    }

    @Test
    void latencyBeyondTheHighestBound() {
        LatencyHistogram h = new LatencyHistogram(BOUNDS, List.of(0L, 0L, 0L, 3L), 3 * 2_500_000_000L);
        assertEquals("3 requests, mean 2.5 s, the slowest 1 % over 1 ms", StatsReport.latency(h));
    }

    @Test
    void durations() {
        assertEquals("999 µs", StatsReport.duration(999_000L));
        assertEquals("100 µs", StatsReport.duration(100_000L));
        assertEquals("1.23 ms", StatsReport.duration(1_234_567L));
        assertEquals("10 s", StatsReport.duration(10_000_000_000L));
    }
}
