package pcache.metrics.internal;

import java.util.List;

import pcache.api.CacheStatistics;
import pcache.api.LatencyHistogram;

/** Which values of {@link CacheStatistics} are exported, as what, under which names. */
final class StatisticsMetrics {

    /**
     * The cumulative counters (those {@code pcache:stats} shows), each as a Prometheus counter:
     * the metric name is written with the {@code _total} suffix the text format adds.
     */
    static final List<StatisticsMetric<Long>> COUNTERS = List.of(
            new StatisticsMetric<>("readRequests", "pcache_read_requests",
                    "Read requests served.", CacheStatistics::readRequests),
            new StatisticsMetric<>("readHits", "pcache_read_hits",
                    "Read requests served entirely from the cache.", CacheStatistics::readHits),
            new StatisticsMetric<>("readMisses", "pcache_read_misses",
                    "Read requests served entirely from the backing device.", CacheStatistics::readMisses),
            new StatisticsMetric<>("readPartialHits", "pcache_read_partial_hits",
                    "Read requests served partly from the cache and partly from the backing device.",
                    CacheStatistics::readPartialHits),
            new StatisticsMetric<>("bytesRead", "pcache_read_bytes",
                    "Bytes returned to readers.", CacheStatistics::bytesRead),
            new StatisticsMetric<>("bytesReadFromCache", "pcache_read_from_cache_bytes",
                    "Bytes returned to readers that were copied from the cache.", CacheStatistics::bytesReadFromCache),
            new StatisticsMetric<>("bytesWritten", "pcache_written_bytes",
                    "Bytes written by clients (writes and write-zeroes).", CacheStatistics::bytesWritten),
            new StatisticsMetric<>("writeRequests", "pcache_write_requests",
                    "Write requests, including write-zeroes.", CacheStatistics::writeRequests),
            new StatisticsMetric<>("fuaWrites", "pcache_fua_writes",
                    "Write requests with FUA.", CacheStatistics::fuaWrites),
            new StatisticsMetric<>("placedWrites", "pcache_placed_writes",
                    "Write requests whose bytes were received straight into the cache's memory, without a copy.",
                    CacheStatistics::placedWrites),
            new StatisticsMetric<>("lentReads", "pcache_lent_reads",
                    "Read hits whose bytes the cache lent out of its memory to be sent without a copy.",
                    CacheStatistics::lentReads),
            new StatisticsMetric<>("flushes", "pcache_flushes",
                    "Flush requests.", CacheStatistics::flushes),
            new StatisticsMetric<>("trims", "pcache_trims",
                    "Trim requests.", CacheStatistics::trims),
            new StatisticsMetric<>("deferredRequests", "pcache_deferred_requests",
                    "Requests that had to wait for free cache space.", CacheStatistics::deferredRequests),
            new StatisticsMetric<>("writebackKsets", "pcache_writeback_ksets",
                    "Key sets written back.", CacheStatistics::writebackKsets),
            new StatisticsMetric<>("writebackBytes", "pcache_writeback_bytes",
                    "Bytes written back to the backing device.", CacheStatistics::writebackBytes),
            new StatisticsMetric<>("writebackErrors", "pcache_writeback_errors",
                    "Failed write-back attempts (each is retried).", CacheStatistics::writebackErrors),
            new StatisticsMetric<>("gcKsets", "pcache_gc_ksets",
                    "Key sets garbage-collected.", CacheStatistics::gcKsets),
            new StatisticsMetric<>("gcSegmentsReclaimed", "pcache_gc_reclaimed_segments",
                    "Segments reclaimed for reuse.", CacheStatistics::gcSegmentsReclaimed),
            new StatisticsMetric<>("crcErrors", "pcache_crc_errors",
                    "Cached extents whose data failed its CRC.", CacheStatistics::crcErrors),
            new StatisticsMetric<>("crcRecovered", "pcache_crc_recovered",
                    "Extents that failed their CRC while clean and were re-read from the backing device.",
                    CacheStatistics::crcRecovered),
            new StatisticsMetric<>("backingErrors", "pcache_backing_errors",
                    "Failed backing-device operations.", CacheStatistics::backingErrors));

    /** The values that describe a cache now, each as a Prometheus gauge. */
    static final List<StatisticsMetric<Long>> GAUGES = List.of(
            new StatisticsMetric<>("dirtyBytes", "pcache_dirty_bytes",
                    "Bytes logged but not yet written back (an overwritten extent counts once per version to write back).",
                    CacheStatistics::dirtyBytes),
            new StatisticsMetric<>("keys", "pcache_index_extents",
                    "Extents in the cache's index.", CacheStatistics::keys),
            new StatisticsMetric<>("segmentsUsed", "pcache_segments_used",
                    "Segments in use.", CacheStatistics::segmentsUsed),
            new StatisticsMetric<>("segmentsTotal", "pcache_segments_owned",
                    "Segments owned by the cache.", CacheStatistics::segmentsTotal),
            new StatisticsMetric<>("quarantinedExtents", "pcache_quarantined_extents",
                    "Extents that failed their CRC while dirty and were set aside (reads of them fail until rewritten).",
                    CacheStatistics::quarantinedExtents));

    /** The latency histograms, each as a Prometheus histogram in seconds. */
    static final List<StatisticsMetric<LatencyHistogram>> LATENCIES = List.of(
            new StatisticsMetric<>("readLatency", "pcache_read_duration_seconds",
                    "How long reads took, as the cache device's callers saw them.", CacheStatistics::readLatency),
            new StatisticsMetric<>("writeLatency", "pcache_write_duration_seconds",
                    "How long writes and write-zeroes took, as the cache device's callers saw them.",
                    CacheStatistics::writeLatency),
            new StatisticsMetric<>("flushLatency", "pcache_flush_duration_seconds",
                    "How long flushes took, as the cache device's callers saw them.", CacheStatistics::flushLatency));

    private StatisticsMetrics() {
    }
}
