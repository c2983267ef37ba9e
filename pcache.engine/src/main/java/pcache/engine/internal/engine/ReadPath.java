package pcache.engine.internal.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import pcache.api.BlockDevice;
import pcache.api.DataIntegrityException;
import pcache.api.spi.CacheKey;
import pcache.api.spi.KeySlice;
import pcache.engine.internal.engine.ReadPlan.Piece;

/**
 * Reads of one open cache (reference §4.2). A read walks each slice under its lock and inserts
 * placeholders for the gaps, then copies the hits outside the lock and re-checks each segment's
 * generation after the copy (a reclaim during the copy makes the read start over), reads the
 * misses from the backing device and fills the cache through its placeholders ({@link MissFill}).
 * With data CRCs on, every hit is verified (beyond dm-pcache, which never checks on reads).
 *
 * <p>A read may also lend its hits out of the mapping instead of copying them
 * ({@link #tryReadView}): each hit's segment is pinned (a reference taken only while its
 * generation still matches), so it is not reclaimed and reused until the view is closed.
 */
final class ReadPath {

    /**
     * Segment pins that open views may hold at once, as a fraction of the cache's segments: a
     * pinned segment cannot be reclaimed, so clients slow to take their replies must not keep
     * much of the cache from GC. Beyond it reads copy, as without views; a cache of fewer than
     * this many segments (below dm-pcache's minimum of 32) lends nothing.
     */
    static final int VIEW_PIN_SHARE = 8;

    private final OpenCache cache;
    private final EngineSignals signals;
    private final Stats stats;
    private final MissFill fill;

    /** Segment pins held by open views. */
    private final AtomicInteger pins = new AtomicInteger();
    private final int maxPins;

    ReadPath(OpenCache cache, EngineSignals signals) {
        this.cache = cache;
        this.signals = signals;
        this.stats = cache.stats();
        this.fill = new MissFill(cache);
        this.maxPins = cache.segments().segmentCount() / VIEW_PIN_SHARE;
    }

    /** Reads {@code dst.remaining()} bytes at {@code offset} through the cache. */
    void read(long offset, ByteBuffer dst) throws IOException {
        signals.checkOpen();
        int total = dst.remaining();
        BlockDevice.checkRange(cache.name(), cache.logicalSize(), BlockDevice.SECTOR_SIZE, offset, total);
        cache.quarantine().check(offset, total);
        stats.readRequests.increment();
        long fromCache = 0;
        long pos = offset;
        int base = dst.position();
        while (pos < offset + total) {
            int len = (int) Math.min(offset + total - pos, cache.sliceEnd(pos) - pos);
            fromCache += readSlicePart(pos, dst.slice(base + (int) (pos - offset), len));
            pos += len;
        }
        // write-back may have quarantined part of the range while this read ran, and GC may
        // then have reclaimed its segment, so the read took it for a miss
        cache.quarantine().check(offset, total);
        dst.position(base + total);
        stats.bytesRead.add(total);
        stats.bytesReadFromCache.add(fromCache);
        if (fromCache == total) {
            stats.readHits.increment();
        } else if (fromCache == 0) {
            stats.readMisses.increment();
        } else {
            stats.readPartialHits.increment();
        }
    }

    /**
     * Reads only if every byte is a hit that needs no waiting (no gap, no other reader's fill in
     * progress, no segment reclaimed during the copy); false otherwise, with nothing counted and
     * {@code dst}'s position unchanged. A hit whose data fails its CRC is handled as by
     * {@link #read}.
     */
    boolean tryRead(long offset, ByteBuffer dst) throws IOException {
        signals.checkOpen();
        int total = dst.remaining();
        BlockDevice.checkRange(cache.name(), cache.logicalSize(), BlockDevice.SECTOR_SIZE, offset, total);
        cache.quarantine().check(offset, total);
        long pos = offset;
        int base = dst.position();
        while (pos < offset + total) {
            int len = (int) Math.min(offset + total - pos, cache.sliceEnd(pos) - pos);
            if (!tryReadSlicePart(pos, dst.slice(base + (int) (pos - offset), len))) {
                return false;
            }
            pos += len;
        }
        cache.quarantine().check(offset, total);
        dst.position(base + total);
        countHit(total);
        return true;
    }

    /** Counts a read served wholly from the cache without waiting. */
    private void countHit(int length) {
        stats.readRequests.increment();
        stats.bytesRead.add(length);
        stats.bytesReadFromCache.add(length);
        stats.readHits.increment();
    }

    /** The hits of {@code [pos, pos + len)} in {@code slice}, walked under its lock; missing at the first gap. */
    private ReadPlan planHits(KeySlice slice, long pos, int len) {
        ReadPlan plan = ReadPlan.hitsOnly();
        slice.lock();
        try {
            slice.walk(pos, len, cache.validity(), plan);
        } finally {
            slice.unlock();
        }
        return plan;
    }

    /**
     * Lends the bytes of a read that is wholly made of hits needing no wait, as views of the
     * region's mapping with their segments pinned; null when it cannot (a gap, another reader's
     * fill, a segment reclaimed meanwhile, a region that has no mapping, the pin limit reached),
     * with nothing counted and nothing held. A hit whose data fails its CRC is handled as by
     * {@link #read}.
     */
    pcache.api.BlockDevice.ReadView tryReadView(long offset, int length) throws IOException {
        signals.checkOpen();
        BlockDevice.checkRange(cache.name(), cache.logicalSize(), BlockDevice.SECTOR_SIZE, offset, length);
        if (length == 0 || !cache.region().hasWritableViews()) {
            return null; // nothing to lend, or the region's views would be copies
        }
        cache.quarantine().check(offset, length);
        View view = new View();
        boolean lent = false;
        try {
            long pos = offset;
            while (pos < offset + length) {
                int len = (int) Math.min(offset + length - pos, cache.sliceEnd(pos) - pos);
                if (!viewSlicePart(pos, len, view)) {
                    return null;
                }
                pos += len;
            }
            cache.quarantine().check(offset, length);
            lent = true;
        } finally {
            if (!lent) {
                view.close();
            }
        }
        countHit(length);
        stats.lentReads.increment();
        return view;
    }

    /** Adds one slice's part to {@code view}; false when it must not be lent (see {@link #tryReadView}). */
    private boolean viewSlicePart(long pos, int len, View view) throws IOException {
        KeySlice slice = cache.index().slice(pos);
        ReadPlan plan = planHits(slice, pos, len);
        if (plan.missing) {
            return false;
        }
        long expected = pos;
        for (Piece p : plan.pieces) {
            if (p.position != expected || !view.pin(p.segment, p.generation)) {
                return false;
            }
            // pinned with its generation unchanged since the walk: the bytes stay the key's
            if (cache.config().dataCrc() && !verifyHit(p)) {
                removeKeys(slice, List.of(p)); // as tryRead does: the blocking read plans again
                return false;
            }
            view.add(cache.region().view(cache.dataOffset(p.segment) + p.segmentOffset, p.length));
            expected += p.length;
        }
        return expected == pos + len;
    }

    /** Open views' pins now (for tests and statistics). */
    int viewPins() {
        return pins.get();
    }

    /** The bytes of one lent read and the segment pins that keep them from being reused. */
    private final class View implements pcache.api.BlockDevice.ReadView {
        private final List<ByteBuffer> buffers = new ArrayList<>(2);
        private ByteBuffer[] array;
        private int[] pinned = new int[2];
        private int pinCount;
        private final AtomicBoolean closed = new AtomicBoolean();

        /**
         * Pins a segment still at {@code generation}, within the limit; false when it cannot. A
         * segment this view pinned already is not pinned twice (its generation cannot have
         * changed under the pin).
         */
        boolean pin(int segment, long generation) {
            for (int i = 0; i < pinCount; i++) {
                if (pinned[i] == segment) {
                    return cache.segments().generation(segment) == generation;
                }
            }
            if (pins.incrementAndGet() > maxPins) {
                pins.decrementAndGet();
                return false;
            }
            boolean taken = false;
            try {
                taken = cache.segments().tryGet(segment, generation);
            } finally {
                if (!taken) {
                    pins.decrementAndGet();
                }
            }
            if (!taken) {
                return false;
            }
            if (pinCount == pinned.length) {
                pinned = java.util.Arrays.copyOf(pinned, pinCount * 2);
            }
            pinned[pinCount++] = segment;
            return true;
        }

        void add(ByteBuffer b) {
            buffers.add(b);
        }

        @Override
        public ByteBuffer[] buffers() {
            if (array == null) {
                array = buffers.toArray(new ByteBuffer[0]);
            }
            return array;
        }

        @Override
        public void close() {
            if (!closed.compareAndSet(false, true)) {
                return;
            }
            for (int i = 0; i < pinCount; i++) {
                pins.decrementAndGet();
                try {
                    // the last reference reclaims the segment here, as GC's would
                    cache.segments().put(pinned[i]);
                } catch (IOException | RuntimeException e) {
                    if (signals.closed) {
                        continue; // the cache closed under the view: nothing to give back to
                    }
                    CacheEngine.LOG.log(System.Logger.Level.WARNING, "cache " + cache.name()
                            + ": giving back cache segment " + pinned[i] + ", pinned by a read view, failed: " + e);
                }
            }
        }
    }

    private boolean tryReadSlicePart(long pos, ByteBuffer out) throws IOException {
        KeySlice slice = cache.index().slice(pos);
        ReadPlan plan = planHits(slice, pos, out.remaining());
        if (plan.missing) {
            return false;
        }
        for (Piece p : plan.pieces) {
            if (!copyHit(p, out.slice((int) (p.position - pos), p.length))) {
                // as read() does: drop what went stale or failed its CRC (counted once, in
                // copyHit); the blocking read then plans again and reads that part from the
                // backing device
                removeKeys(slice, List.of(p));
                return false;
            }
        }
        return true;
    }

    /**
     * Copies a hit into {@code target}; true when the copy is good: the segment was not
     * reclaimed meanwhile and, with data CRCs on, the data passed its CRC.
     */
    private boolean copyHit(Piece p, ByteBuffer target) throws IOException {
        cache.region().read(cache.dataOffset(p.segment) + p.segmentOffset, target);
        // the copy's plain loads must not move past the generation's read (a seqlock's validate:
        // a no-op on x86, a barrier on aarch64, where bytes of the segment's next life could
        // otherwise pass the check)
        java.lang.invoke.VarHandle.acquireFence();
        return cache.segments().generation(p.segment) == p.generation
                && (!cache.config().dataCrc() || verifyHit(p));
    }

    private static void removeKeys(KeySlice slice, List<Piece> pieces) {
        slice.lock();
        try {
            for (Piece p : pieces) {
                slice.remove(p.key);
            }
        } finally {
            slice.unlock();
        }
    }

    /** Reads one slice's part; {@code out} covers exactly it. Returns the bytes served from pmem. */
    private long readSlicePart(long pos, ByteBuffer out) throws IOException {
        int len = out.remaining();
        KeySlice slice = cache.index().slice(pos);
        while (true) {
            ReadPlan plan = new ReadPlan();
            slice.lock();
            try {
                slice.walk(pos, len, cache.validity(), plan);
                for (Piece p : plan.pieces) {
                    if (p.ownPlaceholder) {
                        slice.insertPlaceholder(p.key);
                    }
                }
            } finally {
                slice.unlock();
            }
            try {
                Long served = serve(slice, pos, out, plan);
                if (served != null) {
                    return served;
                }
            } catch (IOException | RuntimeException | Error e) {
                removeOwnPlaceholders(slice, plan);
                throw e;
            }
        }
    }

    /** Copies the hits and reads the misses of a plan; null when the plan went stale and must be redone. */
    private Long serve(KeySlice slice, long pos, ByteBuffer out, ReadPlan plan) throws IOException {
        long fromCache = 0;
        List<Piece> bad = null;
        for (Piece p : plan.pieces) {
            if (!p.hit) {
                continue;
            }
            if (!copyHit(p, out.slice((int) (p.position - pos), p.length))) {
                if (bad == null) {
                    bad = new ArrayList<>();
                }
                bad.add(p);
                continue;
            }
            fromCache += p.length;
        }
        if (bad != null) {
            removeOwnPlaceholders(slice, plan);
            removeKeys(slice, bad);
            return null;
        }
        for (Piece p : plan.pieces) {
            if (!p.hit) {
                readMiss(slice, p, out.slice((int) (p.position - pos), p.length));
            }
        }
        return fromCache;
    }

    private static void removeOwnPlaceholders(KeySlice slice, ReadPlan plan) {
        slice.lock();
        try {
            for (Piece p : plan.pieces) {
                if (p.ownPlaceholder && p.key.isEmpty()) {
                    slice.remove(p.key);
                }
            }
        } finally {
            slice.unlock();
        }
    }

    /**
     * Verifies the data CRC of a hit. A clean extent that fails is dropped and re-read from the
     * backing device (the caller retries); a dirty one is the only copy of its data, so the read
     * fails and the range is quarantined.
     *
     * @return true when the data is good
     */
    private boolean verifyHit(Piece p) throws IOException {
        int storedCrc = p.dataCrc;
        boolean good;
        int actual = 0;
        if (p.zeroes) {
            // a key of zeroes (written by write-zeroes, or zero bytes block status found with their
            // CRC holding): the bytes read must be zeroes, which checks them as the CRC would,
            // without the CRC of the whole key (up to 4 MiB of a write-zeroes for a 4 KiB read)
            good = ZeroBytes.allZero(cache.region().view(cache.dataOffset(p.segment) + p.segmentOffset, p.length));
        } else {
            actual = cache.dataCrcOf(p.segment, p.crcSegmentOffset, p.crcLength);
            good = actual == storedCrc;
        }
        java.lang.invoke.VarHandle.acquireFence(); // as in copyHit: the check's loads before the generation's
        if (good || cache.segments().generation(p.segment) != p.generation) {
            return cache.segments().generation(p.segment) == p.generation;
        }
        if (p.clean) {
            // write-back quarantines a dirty extent that fails its CRC, then marks it clean when
            // dirty_tail passes it: a read that checked the quarantine before then finds a clean
            // extent whose data never reached the backing device, and must fail as the quarantine
            // would have made it (the slice lock orders the quarantine before the clean flag)
            cache.quarantine().check(p.position, p.length);
            stats.crcErrors.increment();
            stats.crcRecovered.increment();
            CacheEngine.LOG.log(System.Logger.Level.WARNING, "cache {0}: clean extent at [{1}, +{2}) failed its data"
                    + " CRC; re-reading it from the backing device", cache.name(), p.position, p.length);
            return false;
        }
        stats.crcErrors.increment();
        long qOff = p.position;
        long qLen = p.length;
        // under the slice lock, only where the index still holds these bytes, as write-back does:
        // a write that replaced them while the CRC was computed lifted no quarantine (there was
        // none yet), and quarantining its range would refuse its good data, after restarts too
        List<long[]> lost = quarantineWhereStillHeld(p);
        String failed = "cache " + cache.name() + ": dirty extent [" + qOff + ", +" + qLen + ") failed its data CRC"
                + (p.zeroes ? " (known to hold zeroes, it reads back other bytes)" : " (stored 0x"
                        + Integer.toHexString(storedCrc) + ", computed 0x" + Integer.toHexString(actual) + ")");
        if (lost.isEmpty()) {
            throw new DataIntegrityException(failed + " while a write replaced it: nothing of it is left to lose"
                    + " and nothing is quarantined; read the range again", qOff, qLen);
        }
        StringBuilder ranges = new StringBuilder();
        for (long[] part : lost) {
            ranges.append(ranges.length() == 0 ? "" : ", ").append('[').append(part[0]).append(", +").append(part[1])
                    .append(')');
        }
        throw new DataIntegrityException(failed + "; its newest data is lost and " + ranges + " quarantined:"
                + " reads fail until it is written again", qOff, qLen);
    }

    /**
     * Quarantines the parts of hit {@code p}'s range whose index keys still hold its bytes (the
     * slice's lock held); returns them, {@code [offset, length]}.
     */
    private List<long[]> quarantineWhereStillHeld(Piece p) throws IOException {
        CacheKey read = new CacheKey(p.position, p.length).place(p.segment, p.segmentOffset, p.generation);
        List<long[]> parts = new ArrayList<>();
        IndexPieces.each(cache, read, (t, position, length) -> {
            if (EngineWritebackContext.sameBytes(t, read)) {
                parts.add(new long[] {position, length});
            }
        }, () -> {
            for (long[] part : parts) { // still under the lock: a write replacing them now lifts it
                cache.quarantine().add(part[0], part[1]);
            }
        });
        return parts;
    }

    /** Reads a miss from the backing device into {@code out} and fills the cache through our placeholder. */
    private void readMiss(KeySlice slice, Piece p, ByteBuffer out) throws IOException {
        backingRead(p.position, out.duplicate());
        if (p.ownPlaceholder) {
            fill.fill(slice, p.key, out);
        }
    }

    /** Reads from the bound backing device; a read cut off by a swap is re-issued on its successor. */
    private void backingRead(long offset, ByteBuffer dst) throws IOException {
        int pos = dst.position();
        cache.backing().run(cache.name(), signals.backingTimeoutMillis, stats.backingErrors::increment,
                "read", dev -> {
                    dst.position(pos);
                    dev.read(offset, dst);
                });
    }
}
