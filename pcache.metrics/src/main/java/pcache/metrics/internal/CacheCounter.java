package pcache.metrics.internal;

import java.util.function.ToLongFunction;

import pcache.api.CacheStatistics;

/**
 * The cumulative counters of {@link CacheStatistics} (those {@code pcache:stats} shows), each as
 * a Prometheus counter: {@link #metricName()} is written with the {@code _total} suffix the text
 * format adds.
 */
enum CacheCounter {
    READ_REQUESTS("readRequests", "pcache_read_requests", "Read requests served.", CacheStatistics::readRequests),
    READ_HITS("readHits", "pcache_read_hits", "Read requests served entirely from the cache.",
            CacheStatistics::readHits),
    READ_MISSES("readMisses", "pcache_read_misses", "Read requests served entirely from the backing device.",
            CacheStatistics::readMisses),
    READ_PARTIAL_HITS("readPartialHits", "pcache_read_partial_hits",
            "Read requests served partly from the cache and partly from the backing device.",
            CacheStatistics::readPartialHits),
    BYTES_READ("bytesRead", "pcache_read_bytes", "Bytes returned to readers.", CacheStatistics::bytesRead),
    BYTES_READ_FROM_CACHE("bytesReadFromCache", "pcache_read_from_cache_bytes",
            "Bytes returned to readers that were copied from the cache.", CacheStatistics::bytesReadFromCache),
    BYTES_WRITTEN("bytesWritten", "pcache_written_bytes", "Bytes written by clients (writes and write-zeroes).",
            CacheStatistics::bytesWritten),
    WRITE_REQUESTS("writeRequests", "pcache_write_requests", "Write requests, including write-zeroes.",
            CacheStatistics::writeRequests),
    FUA_WRITES("fuaWrites", "pcache_fua_writes", "Write requests with FUA.", CacheStatistics::fuaWrites),
    FLUSHES("flushes", "pcache_flushes", "Flush requests.", CacheStatistics::flushes),
    TRIMS("trims", "pcache_trims", "Trim requests.", CacheStatistics::trims),
    DEFERRED_REQUESTS("deferredRequests", "pcache_deferred_requests", "Requests that had to wait for free cache space.",
            CacheStatistics::deferredRequests),
    WRITEBACK_KSETS("writebackKsets", "pcache_writeback_ksets", "Key sets written back.",
            CacheStatistics::writebackKsets),
    WRITEBACK_BYTES("writebackBytes", "pcache_writeback_bytes", "Bytes written back to the backing device.",
            CacheStatistics::writebackBytes),
    WRITEBACK_ERRORS("writebackErrors", "pcache_writeback_errors", "Failed write-back attempts (each is retried).",
            CacheStatistics::writebackErrors),
    GC_KSETS("gcKsets", "pcache_gc_ksets", "Key sets garbage-collected.", CacheStatistics::gcKsets),
    GC_SEGMENTS_RECLAIMED("gcSegmentsReclaimed", "pcache_gc_reclaimed_segments", "Segments reclaimed for reuse.",
            CacheStatistics::gcSegmentsReclaimed),
    CRC_ERRORS("crcErrors", "pcache_crc_errors", "Cached extents whose data failed its CRC.",
            CacheStatistics::crcErrors),
    CRC_RECOVERED("crcRecovered", "pcache_crc_recovered",
            "Extents that failed their CRC while clean and were re-read from the backing device.",
            CacheStatistics::crcRecovered),
    BACKING_ERRORS("backingErrors", "pcache_backing_errors", "Failed backing-device operations.",
            CacheStatistics::backingErrors);

    private final String component;
    private final String metricName;
    private final String help;
    private final ToLongFunction<CacheStatistics> value;

    CacheCounter(String component, String metricName, String help, ToLongFunction<CacheStatistics> value) {
        this.component = component;
        this.metricName = metricName;
        this.help = help;
        this.value = value;
    }

    /** The {@link CacheStatistics} component this counter reads. */
    String component() {
        return component;
    }

    /** The metric's name without {@code _total}. */
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
