package pcache.engine.internal.engine;

import java.util.concurrent.atomic.LongAdder;

/** The cumulative counters of one cache (see {@link pcache.api.CacheStatistics}). */
final class Stats {
    final LongAdder readRequests = new LongAdder();
    final LongAdder readHits = new LongAdder();
    final LongAdder readMisses = new LongAdder();
    final LongAdder readPartialHits = new LongAdder();
    final LongAdder bytesRead = new LongAdder();
    final LongAdder bytesReadFromCache = new LongAdder();
    final LongAdder bytesWritten = new LongAdder();
    final LongAdder writeRequests = new LongAdder();
    final LongAdder fuaWrites = new LongAdder();
    /** Writes whose bytes their source placed straight into cache space ({@code tryWriteFrom}). */
    final LongAdder placedWrites = new LongAdder();
    /** Reads whose bytes were lent out of the mapping ({@code tryReadView}). */
    final LongAdder lentReads = new LongAdder();
    final LongAdder flushes = new LongAdder();
    final LongAdder trims = new LongAdder();
    final LongAdder deferredRequests = new LongAdder();
    final LongAdder writebackKsets = new LongAdder();
    final LongAdder writebackBytes = new LongAdder();
    final LongAdder writebackErrors = new LongAdder();
    final LongAdder gcKsets = new LongAdder();
    final LongAdder gcSegmentsReclaimed = new LongAdder();
    /** Failed GC passes (see {@link pcache.api.CacheConditions#gcErrors()}). */
    final LongAdder gcErrors = new LongAdder();
    final LongAdder crcErrors = new LongAdder();
    final LongAdder crcRecovered = new LongAdder();
    final LongAdder backingErrors = new LongAdder();
    /** Current dirty bytes (logged, not written back). */
    final LongAdder dirtyBytes = new LongAdder();
}
