package pcache.api;

/**
 * Counters of one cache. Cumulative counters count from when the cache was opened; the
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
 */
public record CacheStatistics(long readRequests, long readHits, long readMisses, long readPartialHits,
        long bytesRead, long bytesReadFromCache, long bytesWritten, long writeRequests, long fuaWrites,
        long flushes, long trims, long deferredRequests, long dirtyBytes, long keys, long segmentsUsed,
        long segmentsTotal, long writebackKsets, long writebackBytes, long writebackErrors, long gcKsets,
        long gcSegmentsReclaimed, long crcErrors, long crcRecovered, long quarantinedExtents,
        long backingErrors) {
}
