package pcache.api;

/**
 * Counters of one cache. Cumulative counters count from when the cache was opened (a swap of its
 * parts or a configuration change that opens its engine again does not restart them); the
 * "current" ones describe the cache now.
 *
 * @param readRequests read requests served
 * @param readHits read requests served entirely from the cache
 * @param readMisses read requests served entirely from the backing device
 * @param readPartialHits read requests served partly from each
 * @param bytesRead bytes returned to readers
 * @param bytesReadFromCache of {@code bytesRead}, bytes copied from the cache
 * @param bytesWritten bytes written by clients (writes and write-zeroes)
 * @param writeRequests write requests (including write-zeroes)
 * @param fuaWrites writes with FUA
 * @param flushes flush requests
 * @param trims trim requests
 * @param deferredRequests requests that had to wait for free cache space
 * @param dirtyBytes current: bytes logged but not yet written back (an overwritten extent counts
 *        once per version still to write back)
 * @param keys current: extents in the index
 * @param segmentsUsed current: segments in use
 * @param segmentsTotal segments owned by the cache
 * @param writebackKsets key sets written back
 * @param writebackBytes bytes written back
 * @param writebackErrors failed write-back attempts (each is retried)
 * @param gcKsets key sets garbage-collected
 * @param gcSegmentsReclaimed segments reclaimed for reuse
 * @param crcErrors cached extents whose data failed its CRC
 * @param crcRecovered of those, clean extents re-read from the backing device
 * @param quarantinedExtents current: extents that failed their CRC while dirty and were set
 *        aside (reads of them fail until they are rewritten)
 * @param backingErrors failed backing-device operations
 * @param readLatency how long reads took (since 1.3; the cache device measures them as its
 *        callers see them, so they include waits for the backing device and for space)
 * @param writeLatency how long writes and write-zeroes took (since 1.3)
 * @param flushLatency how long flushes took (since 1.3)
 * @param placedWrites of {@code writeRequests}, writes whose bytes the cache received straight
 *        into its memory, without a copy through a buffer ({@link BlockDevice#tryWriteFrom}; since
 *        1.5)
 * @param lentReads of {@code readHits}, reads whose bytes the cache lent out of its memory, to
 *        be sent without a copy through a buffer ({@link BlockDevice#tryReadView}; since 1.6)
 */
public record CacheStatistics(long readRequests, long readHits, long readMisses, long readPartialHits,
        long bytesRead, long bytesReadFromCache, long bytesWritten, long writeRequests, long fuaWrites,
        long flushes, long trims, long deferredRequests, long dirtyBytes, long keys, long segmentsUsed,
        long segmentsTotal, long writebackKsets, long writebackBytes, long writebackErrors, long gcKsets,
        long gcSegmentsReclaimed, long crcErrors, long crcRecovered, long quarantinedExtents,
        long backingErrors, LatencyHistogram readLatency, LatencyHistogram writeLatency,
        LatencyHistogram flushLatency, long placedWrites, long lentReads) {

    /**
     * The counters without {@code lentReads} (0): the constructor of version 1.5.
     */
    public CacheStatistics(long readRequests, long readHits, long readMisses, long readPartialHits,
            long bytesRead, long bytesReadFromCache, long bytesWritten, long writeRequests, long fuaWrites,
            long flushes, long trims, long deferredRequests, long dirtyBytes, long keys, long segmentsUsed,
            long segmentsTotal, long writebackKsets, long writebackBytes, long writebackErrors, long gcKsets,
            long gcSegmentsReclaimed, long crcErrors, long crcRecovered, long quarantinedExtents,
            long backingErrors, LatencyHistogram readLatency, LatencyHistogram writeLatency,
            LatencyHistogram flushLatency, long placedWrites) {
        this(readRequests, readHits, readMisses, readPartialHits, bytesRead, bytesReadFromCache, bytesWritten,
                writeRequests, fuaWrites, flushes, trims, deferredRequests, dirtyBytes, keys, segmentsUsed,
                segmentsTotal, writebackKsets, writebackBytes, writebackErrors, gcKsets, gcSegmentsReclaimed,
                crcErrors, crcRecovered, quarantinedExtents, backingErrors, readLatency, writeLatency, flushLatency,
                placedWrites, 0);
    }

    /**
     * The counters without {@code placedWrites} (0): the constructor of version 1.3.
     */
    public CacheStatistics(long readRequests, long readHits, long readMisses, long readPartialHits,
            long bytesRead, long bytesReadFromCache, long bytesWritten, long writeRequests, long fuaWrites,
            long flushes, long trims, long deferredRequests, long dirtyBytes, long keys, long segmentsUsed,
            long segmentsTotal, long writebackKsets, long writebackBytes, long writebackErrors, long gcKsets,
            long gcSegmentsReclaimed, long crcErrors, long crcRecovered, long quarantinedExtents,
            long backingErrors, LatencyHistogram readLatency, LatencyHistogram writeLatency,
            LatencyHistogram flushLatency) {
        this(readRequests, readHits, readMisses, readPartialHits, bytesRead, bytesReadFromCache, bytesWritten,
                writeRequests, fuaWrites, flushes, trims, deferredRequests, dirtyBytes, keys, segmentsUsed,
                segmentsTotal, writebackKsets, writebackBytes, writebackErrors, gcKsets, gcSegmentsReclaimed,
                crcErrors, crcRecovered, quarantinedExtents, backingErrors, readLatency, writeLatency, flushLatency, 0, 0);
    }

    /**
     * The counters without latencies ({@link LatencyHistogram#EMPTY}): the constructor of
     * version 1.2, for caches that do not measure them.
     */
    public CacheStatistics(long readRequests, long readHits, long readMisses, long readPartialHits,
            long bytesRead, long bytesReadFromCache, long bytesWritten, long writeRequests, long fuaWrites,
            long flushes, long trims, long deferredRequests, long dirtyBytes, long keys, long segmentsUsed,
            long segmentsTotal, long writebackKsets, long writebackBytes, long writebackErrors, long gcKsets,
            long gcSegmentsReclaimed, long crcErrors, long crcRecovered, long quarantinedExtents,
            long backingErrors) {
        this(readRequests, readHits, readMisses, readPartialHits, bytesRead, bytesReadFromCache, bytesWritten,
                writeRequests, fuaWrites, flushes, trims, deferredRequests, dirtyBytes, keys, segmentsUsed,
                segmentsTotal, writebackKsets, writebackBytes, writebackErrors, gcKsets, gcSegmentsReclaimed,
                crcErrors, crcRecovered, quarantinedExtents, backingErrors, LatencyHistogram.EMPTY,
                LatencyHistogram.EMPTY, LatencyHistogram.EMPTY, 0, 0);
    }

    /**
     * @throws NullPointerException if a latency histogram is null
     */
    public CacheStatistics {
        java.util.Objects.requireNonNull(readLatency, "readLatency");
        java.util.Objects.requireNonNull(writeLatency, "writeLatency");
        java.util.Objects.requireNonNull(flushLatency, "flushLatency");
    }

    /**
     * The cache's data capacity: {@code segmentsTotal} segments of
     * {@link pcache.api.format.PcacheFormat#SEG_DATA_SIZE} bytes each (the capacity write-back
     * watermarks refer to).
     *
     * @since 1.4
     */
    public long capacityBytes() {
        return segmentsTotal * pcache.api.format.PcacheFormat.SEG_DATA_SIZE;
    }

    /**
     * {@code dirtyBytes} as a percentage of {@link #capacityBytes()}; 0 for a cache without
     * segments.
     *
     * @since 1.4
     */
    public double dirtyPercent() {
        long capacity = capacityBytes();
        return capacity <= 0 ? 0 : 100.0 * dirtyBytes / capacity;
    }

    /**
     * These counters with the given latencies: for a cache device whose request latencies are
     * measured by another part than its counters.
     *
     * @since 1.3
     */
    public CacheStatistics withLatencies(LatencyHistogram reads, LatencyHistogram writes, LatencyHistogram flushes) {
        return new CacheStatistics(readRequests, readHits, readMisses, readPartialHits, bytesRead, bytesReadFromCache,
                bytesWritten, writeRequests, fuaWrites, this.flushes, trims, deferredRequests, dirtyBytes, keys,
                segmentsUsed, segmentsTotal, writebackKsets, writebackBytes, writebackErrors, gcKsets,
                gcSegmentsReclaimed, crcErrors, crcRecovered, quarantinedExtents, backingErrors, reads, writes,
                flushes, placedWrites, lentReads);
    }
}
