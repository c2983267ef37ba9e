package pcache.engine.internal.engine;

import pcache.api.format.PcacheFormat;
import pcache.api.spi.CrcProvider;
import pcache.api.spi.KeyIndex;
import pcache.api.spi.KeyLog;
import pcache.api.spi.KeyValidity;
import pcache.api.spi.PmemRegion;
import pcache.api.spi.SegmentAllocator;
import pcache.engine.internal.BackingHolder;
import pcache.engine.internal.media.CacheMetadata;

/**
 * The structures of one open cache, as {@link Recovery} built them: the region and its metadata
 * records, the segments, the index and its scratch copy for write-back policies, the key log, the
 * data heads, the quarantine and the trims write-back still owes the backing device. They do not
 * change while the cache is open; every part of the engine (request paths, write-back, GC) works
 * on the same instance.
 *
 * @param logicalSize the size of the cached device in bytes
 * @param validity whether a key still points at live data (its segment was not reclaimed since)
 * @param trims trims waiting for write-back to reach their place in the log
 * @param writeThrough orders write-back against clients' write-through requests
 */
record OpenCache(EngineConfig config, PmemRegion region, CrcProvider crc, BackingHolder backing, Stats stats,
        CacheMetadata meta, SegmentAllocator segments, KeyIndex index, KeyIndex scratch, KeyLog keyLog,
        DataHeads heads, QuarantineGuard quarantine, long logicalSize, KeyValidity validity,
        PendingTrims trims, WriteThroughOrder writeThrough) {

    String name() {
        return config.name();
    }

    /** Where the data area of cache segment {@code segment} starts on the region. */
    long dataOffset(int segment) {
        return segments.dataOffset(segment);
    }

    /**
     * Gives back the segment reference {@code a} holds, after {@code failure}. Giving back a
     * segment's last reference reclaims it, which stores its new generation and can fail too (an
     * {@code Error} as well: a fault in the mapped cache memory); that failure is added to
     * {@code failure}, never thrown in its place, so the caller's error and its other give-backs stand.
     */
    void giveBackAfter(Allocation a, Throwable failure) {
        try {
            segments.put(a.segment());
        } catch (java.io.IOException | RuntimeException | Error also) {
            failure.addSuppressed(also);
        }
    }

    /**
     * The most a key written or filled by a read miss holds with data CRCs. A hit checks the CRC of
     * its key's whole extent, so a 4 KiB read of data one 1 MiB write left checked 1 MiB (measured:
     * 82 times fewer such reads than of data written 4 KiB at a time, docs/BENCHMARKS.md); with
     * keys of at most this much it checks at most this much. The kernel takes keys of any length
     * up to a slice. Write-zeroes keys are not cut so.
     */
    static final int CRC_KEY_BYTES = 64 << 10;

    /**
     * Where a key written (or filled by a read miss) from {@code pos} ends at most: the end of its
     * slice, and with data CRCs the next {@link #CRC_KEY_BYTES} boundary of the device.
     */
    long keyEnd(long pos) {
        long end = sliceEnd(pos);
        return config.dataCrc() ? Math.min(end, (pos & -(long) CRC_KEY_BYTES) + CRC_KEY_BYTES) : end;
    }

    /**
     * The data CRC of {@code length} bytes of {@code segment}'s data at {@code segmentOffset}: what a
     * key's CRC covers ({@code CacheKey.crcSegmentOffset}, {@code crcLength}), to check it against.
     */
    int dataCrcOf(int segment, int segmentOffset, int length) throws java.io.IOException {
        return crc.checksum(region.view(dataOffset(segment) + segmentOffset, length));
    }

    /** The end of the 4 MiB slice (or of the device) that holds {@code pos}: no key crosses it. */
    long sliceEnd(long pos) {
        return Math.min(logicalSize, (pos & ~(PcacheFormat.SUBTREE_SIZE - 1)) + PcacheFormat.SUBTREE_SIZE);
    }
}
