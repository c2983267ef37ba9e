package pcache.engine.internal;

import pcache.api.CacheStatistics;

/**
 * The cumulative counters of the engines a cache device closed when it replaced them (a swap of
 * its pmem mapping, a configuration change that opens it again), added to the current engine's,
 * so that monitoring sees counters that only grow while the device is open. Gauges (dirty bytes,
 * keys, segments, quarantined extents) and latencies are the current engine's and the device's.
 */
final class CarriedCounters {

    private long readRequests;
    private long readHits;
    private long readMisses;
    private long readPartialHits;
    private long bytesRead;
    private long bytesReadFromCache;
    private long bytesWritten;
    private long writeRequests;
    private long fuaWrites;
    private long flushes;
    private long trims;
    private long deferredRequests;
    private long writebackKsets;
    private long writebackBytes;
    private long writebackErrors;
    private long gcKsets;
    private long gcSegmentsReclaimed;
    private long crcErrors;
    private long crcRecovered;
    private long backingErrors;
    private long placedWrites;
    private long lentReads;

    /** Adds the counters of an engine that was closed (its last statistics). */
    synchronized void add(CacheStatistics s) {
        readRequests += s.readRequests();
        readHits += s.readHits();
        readMisses += s.readMisses();
        readPartialHits += s.readPartialHits();
        bytesRead += s.bytesRead();
        bytesReadFromCache += s.bytesReadFromCache();
        bytesWritten += s.bytesWritten();
        writeRequests += s.writeRequests();
        fuaWrites += s.fuaWrites();
        flushes += s.flushes();
        trims += s.trims();
        deferredRequests += s.deferredRequests();
        writebackKsets += s.writebackKsets();
        writebackBytes += s.writebackBytes();
        writebackErrors += s.writebackErrors();
        gcKsets += s.gcKsets();
        gcSegmentsReclaimed += s.gcSegmentsReclaimed();
        crcErrors += s.crcErrors();
        crcRecovered += s.crcRecovered();
        backingErrors += s.backingErrors();
        placedWrites += s.placedWrites();
        lentReads += s.lentReads();
    }

    /** {@code current} (the open engine's statistics) with the carried counters added. */
    synchronized CacheStatistics onto(CacheStatistics c) {
        return new CacheStatistics(c.readRequests() + readRequests, c.readHits() + readHits,
                c.readMisses() + readMisses, c.readPartialHits() + readPartialHits, c.bytesRead() + bytesRead,
                c.bytesReadFromCache() + bytesReadFromCache, c.bytesWritten() + bytesWritten,
                c.writeRequests() + writeRequests, c.fuaWrites() + fuaWrites, c.flushes() + flushes,
                c.trims() + trims, c.deferredRequests() + deferredRequests, c.dirtyBytes(), c.keys(),
                c.segmentsUsed(), c.segmentsTotal(), c.writebackKsets() + writebackKsets,
                c.writebackBytes() + writebackBytes, c.writebackErrors() + writebackErrors, c.gcKsets() + gcKsets,
                c.gcSegmentsReclaimed() + gcSegmentsReclaimed, c.crcErrors() + crcErrors,
                c.crcRecovered() + crcRecovered, c.quarantinedExtents(), c.backingErrors() + backingErrors,
                c.readLatency(), c.writeLatency(), c.flushLatency(), c.placedWrites() + placedWrites,
                c.lentReads() + lentReads);
    }
}
