package pcache.engine.internal.engine;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import pcache.api.BlockDevice;
import pcache.api.DeviceClosedException;
import pcache.api.format.PcacheFormat;
import pcache.api.spi.CacheKey;
import pcache.api.spi.ExtentVisitor;
import pcache.api.spi.KeyLoggedException;
import pcache.api.spi.KeySlice;

/**
 * Writes, write-zeroes, trims and flushes of one open cache (reference §4.1, §4.3, §4.4). Writes
 * are cut at 4 MiB slice boundaries (and segment boundaries by allocation); each piece is copied
 * to pmem and made durable <em>before</em> its key is inserted into the slice and appended to the
 * key log under the slice lock (§7.2). When no segment is free, writers wait until GC reclaims one.
 */
final class WritePath {

    private static final long SPACE_WAIT_SLICE_MILLIS = 1000;
    private static final int ZERO_REGION_MAX = (int) PcacheFormat.SUBTREE_SIZE;

    private final OpenCache cache;
    private final EngineSignals signals;
    private final Stats stats;
    private final String name;
    private final Object zeroesLock = new Object();
    /** Whether dropped trims were logged (once per open cache). */
    private final java.util.concurrent.atomic.AtomicBoolean droppedTrimsLogged =
            new java.util.concurrent.atomic.AtomicBoolean();
    private ByteBuffer zeroes;

    WritePath(OpenCache cache, EngineSignals signals) {
        this.cache = cache;
        this.signals = signals;
        this.stats = cache.stats();
        this.name = cache.name();
    }

    /** Writes {@code src} at {@code offset} into the cache (write-back semantics). */
    void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        write(offset, src, fua, null);
    }

    /** As {@link #write}, for a write-through request ({@code through}; null for none). */
    void write(long offset, ByteBuffer src, boolean fua, Through through) throws IOException {
        signals.checkOpen();
        BlockDevice.checkRange(name, cache.logicalSize(), BlockDevice.SECTOR_SIZE, offset, src.remaining());
        countRequest(fua);
        writePieces(offset, src, fua, true, through);
    }

    /**
     * Writes as {@link #write} does if no wait for space is needed; false when it would be (or
     * others already wait for space: they go first). Pieces written before space ran out stay
     * (the caller's {@link #write} of the same bytes supersedes them) and {@code src}'s position
     * is put back.
     */
    boolean tryWrite(long offset, ByteBuffer src, boolean fua) throws IOException {
        signals.checkOpen();
        BlockDevice.checkRange(name, cache.logicalSize(), BlockDevice.SECTOR_SIZE, offset, src.remaining());
        if (signals.spaceWaiters.get() > 0 || !writePieces(offset, src, fua, false, null)) {
            return false;
        }
        countRequest(fua);
        return true;
    }

    /**
     * Writes {@code length} bytes from {@code source} as {@link #tryWrite} does, the source
     * filling the cache space itself: a writable view of the mapping (a scratch buffer for the
     * rare piece that crosses two windows of it). False, with the source not called, when the
     * region has no mapping to hand out (a copy through the caller's buffer costs the same) or
     * the space is not free at once: all of it is taken first. Keys are logged only once every
     * piece is filled; when the source throws, the space taken is given back (it holds no key:
     * GC reclaims it with its segment).
     */
    boolean tryWriteFrom(long offset, int length, boolean fua, BlockDevice.WriteSource source) throws IOException {
        signals.checkOpen();
        BlockDevice.checkRange(name, cache.logicalSize(), BlockDevice.SECTOR_SIZE, offset, length);
        if (length == 0 || !cache.region().hasWritableViews() || signals.spaceWaiters.get() > 0) {
            return false;
        }
        List<Allocation> pieces = new ArrayList<>(2);
        try {
            long pos = offset;
            long end = offset + length;
            while (pos < end) {
                Allocation a = allocateNow((int) Math.min(end - pos, cache.keyEnd(pos) - pos));
                if (a == null) {
                    break;
                }
                pieces.add(a);
                pos += a.length();
            }
            if (pos < end) {
                List<Allocation> taken = new ArrayList<>(pieces);
                pieces.clear(); // given back below, once
                giveBack(taken);
                return false;
            }
            ByteBuffer[] filled = new ByteBuffer[pieces.size()];
            for (int i = 0; i < filled.length; i++) {
                filled[i] = fill(pieces.get(i), source);
            }
            pos = offset;
            for (int i = 0; i < filled.length; i++) {
                Allocation a = pieces.get(i);
                pieces.set(i, null); // from here its key holds its space (or, failing, gives it back)
                commitPiece(pos, filled[i], a, fua, null);
                pos += a.length();
            }
        } catch (IOException | RuntimeException | Error e) {
            try {
                giveBack(pieces);
            } catch (IOException g) {
                e.addSuppressed(g);
            }
            throw e;
        }
        countRequest(fua);
        stats.placedWrites.increment();
        completed(offset, length);
        return true;
    }

    /** Drops the segment reference of every allocation still held (not null), each on its own. */
    private void giveBack(List<Allocation> pieces) throws IOException {
        IOException failure = null;
        for (Allocation a : pieces) {
            if (a == null) {
                continue;
            }
            try {
                cache.segments().put(a.segment());
            } catch (IOException | RuntimeException e) {
                if (failure == null) {
                    failure = new IOException("cache " + name + ": giving back the space of a write that was not done failed", e);
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    /** Lets {@code source} fill the space of {@code a} and stores it; returns the bytes as stored. */
    private ByteBuffer fill(Allocation a, BlockDevice.WriteSource source) throws IOException {
        long at = cache.dataOffset(a.segment()) + a.offset();
        ByteBuffer target = cache.region().writableView(at, a.length());
        if (target != null) {
            filled(source, target.duplicate());
            return target;
        }
        ByteBuffer scratch = ByteBuffer.allocate(a.length());
        filled(source, scratch.duplicate());
        cache.region().write(at, scratch.duplicate());
        return scratch;
    }

    /** Has {@code source} fill {@code dst}; a source that leaves part of it unfilled fails the write. */
    private void filled(BlockDevice.WriteSource source, ByteBuffer dst) throws IOException {
        source.fill(dst);
        if (dst.hasRemaining()) {
            throw new IOException("cache " + name + ": the write's source left " + dst.remaining()
                    + " bytes of its buffer unfilled; the write is not done");
        }
    }

    /**
     * Makes the stored bytes of {@code a} ({@code data}) durable, then logs their key; gives the
     * space back when the flush fails ({@link #insertAndLog} does when logging fails).
     */
    private void commitPiece(long pos, ByteBuffer data, Allocation a, boolean fua, Through through)
            throws IOException {
        long at = cache.dataOffset(a.segment()) + a.offset();
        CacheKey key = new CacheKey(pos, a.length()).place(a.segment(), a.offset(), a.generation());
        try {
            cache.region().flush(at, a.length());
            cache.region().fence();
            if (cache.config().dataCrc()) {
                // in the try: a fault in the mapping while the CRC reads it (data may be a view of
                // it) must give the space back too
                key.setDataCrc(cache.crc().checksum(data.duplicate()));
            }
        } catch (IOException | RuntimeException | Error e) {
            cache.giveBackAfter(a, e);
            throw e;
        }
        insertAndLogDirty(key, a, fua, through);
    }

    /**
     * Writes {@code src} piece by piece (cut at slice and segment ends). Without {@code wait}, a
     * piece that finds no space ends it: false, with {@code src}'s position put back.
     */
    private boolean writePieces(long offset, ByteBuffer src, boolean fua, boolean wait, Through through)
            throws IOException {
        int start = src.position();
        int total = src.remaining();
        long pos = offset;
        while (src.hasRemaining()) {
            int want = (int) Math.min(src.remaining(), cache.keyEnd(pos) - pos);
            Allocation a = wait ? allocateWaiting(want) : allocateNow(want);
            if (a == null) {
                src.position(start);
                return false;
            }
            pos += writePiece(pos, src, a, fua, through);
        }
        completed(offset, total);
        return true;
    }

    /** Takes cache space if some is free now; null otherwise. */
    private Allocation allocateNow(int wanted) throws IOException {
        try {
            return cache.heads().allocate(wanted);
        } catch (DataHeads.NoSpace e) {
            return null;
        }
    }

    private void countRequest(boolean fua) {
        stats.writeRequests.increment();
        if (fua) {
            stats.fuaWrites.increment();
        }
    }

    private void completed(long offset, int total) throws IOException {
        cache.quarantine().clearOnceLogged(offset, total, cache.keyLog());
        stats.bytesWritten.add(total);
    }

    /**
     * Copies the next {@code a.length()} bytes of {@code src} into the allocation, makes them
     * durable, then logs their key; advances {@code src}. Returns the bytes written.
     */
    private int writePiece(long pos, ByteBuffer src, Allocation a, boolean fua, Through through)
            throws IOException {
        ByteBuffer part = src.slice(src.position(), a.length());
        try {
            cache.region().write(cache.dataOffset(a.segment()) + a.offset(), part.duplicate());
        } catch (IOException | RuntimeException | Error e) {
            // an Error too (the JVM's InternalError for a fault in mapped memory): the space's
            // reference must go back, or its segment could never be reclaimed
            cache.giveBackAfter(a, e);
            throw e;
        }
        commitPiece(pos, part, a, fua, through);
        src.position(src.position() + a.length());
        return a.length();
    }

    /**
     * {@link #insertAndLog} for a dirty key, its bytes counted dirty first: once its kset is
     * persisted (by a flush, a FUA write or the kset timer, possibly before this returns) write-back
     * may see it, and a policy that finds nothing counted dirty takes the log to hold only clean
     * ksets (the batching policy then passes them at once, written back undrained).
     */
    private void insertAndLogDirty(CacheKey key, Allocation a, boolean fua, Through through)
            throws IOException {
        stats.dirtyBytes.add(key.length());
        try {
            insertAndLog(key, a, fua, through);
        } catch (KeyLoggedException e) {
            throw e; // logged: dirty until write-back passes it
        } catch (IOException | RuntimeException | Error e) {
            stats.dirtyBytes.add(-key.length()); // not logged
            throw e;
        }
    }

    /**
     * Inserts a key whose data is durable and appends it to the log, under its slice lock. For a
     * write-through request ({@code through}, else null) it adds a copy of the key, as logged, to
     * its keys, and marks the pieces of the key over pieces marked as on the backing device in the
     * current epoch ({@link Through}).
     */
    private void insertAndLog(CacheKey key, Allocation a, boolean fua, Through through) throws IOException {
        KeySlice slice = cache.index().slice(key.offset());
        slice.lock();
        List<CacheKey> displaced = new ArrayList<>();
        List<CacheKey> overLanded = through == null ? null : new ArrayList<>(0);
        // under the slice lock: a mark of the current epoch is one the next look of write-back trusts
        int epoch = through == null ? 0 : cache.writeThrough().epoch();
        try {
            try {
                insertAndLogLocked(slice, key, a, fua, displaced, overLanded, epoch);
            } catch (KeyLoggedException e) {
                if (through != null) {
                    marks(slice, key, overLanded, through); // logged and in the index all the same
                }
                throw e;
            }
            if (through != null) {
                // logged: nothing from here on may undo that; the marks are only a help
                marks(slice, key, overLanded, through);
            }
        } finally {
            slice.unlock();
        }
    }

    private void insertAndLogLocked(KeySlice slice, CacheKey key, Allocation a, boolean fua, List<CacheKey> displaced,
            List<CacheKey> overLanded, int epoch) throws IOException {
        try {
            slice.walk(key.offset(), key.length(), cache.validity(), new ExtentVisitor() {
                @Override
                public boolean hit(CacheKey old, long position, int length) {
                    if (!old.isEmpty()) {
                        CacheKey part = old.copy();
                        part.cutFront((int) (position - old.offset()));
                        part.cutBack(part.length() - length);
                        displaced.add(part);
                        if (overLanded != null && old.onBackingEpoch() == epoch) {
                            CacheKey over = key.copy();
                            over.cutFront((int) (position - key.offset()));
                            over.cutBack(over.length() - length);
                            over.markOnBacking(epoch);
                            overLanded.add(over);
                        }
                    }
                    return true;
                }

                @Override
                public boolean gap(long position, int length) {
                    return true;
                }
            });
            slice.insert(key, cache.validity());
            cache.keyLog().append(key, fua);
        } catch (KeyLoggedException e) {
            // in the log (its kset written; the wait for the ones before it failed): the key
            // stays, with its reference, which GC gives back when it passes the kset; only the
            // request fails
            throw e;
        } catch (IOException | RuntimeException | Error e) {
            // the key is not in the log: nothing will drop its reference later; and the keys it
            // displaced still hold the newest acknowledged data of its range, so reads must find
            // them again rather than the older content of the backing device
            slice.remove(key);
            for (CacheKey part : displaced) {
                slice.insert(part, cache.validity());
            }
            cache.giveBackAfter(a, e); // the request fails for what failed first, not for the reclaim after it
            throw e;
        }
    }

    /**
     * For a write-through request, once {@code key} is logged: keeps a copy of it for the marks
     * when its backing write lands, and inserts its marked pieces over pieces that had landed on
     * the backing device (the same bytes: they cut the key around them). Only marks: a failure
     * leaves them out (logged), which makes write-back write older versions there in order, as
     * without them; it never fails the logged write.
     */
    private void marks(KeySlice slice, CacheKey key, List<CacheKey> overLanded, Through through) {
        try {
            through.logged().add(key.copy());
            for (CacheKey over : overLanded) {
                slice.insert(over, cache.validity());
            }
        } catch (RuntimeException | Error e) {
            CacheEngine.LOG.log(System.Logger.Level.WARNING, "cache " + name + ": marking a write-through write's"
                    + " pieces over ones that reached the backing device failed (write-back then writes older"
                    + " versions there again, in order): " + e);
        }
    }

    /** Makes {@code [offset, offset + length)} read as zeroes: keys pointing at one zeroed region. */
    void writeZeroes(long offset, long length, boolean fua) throws IOException {
        writeZeroes(offset, length, fua, null);
    }

    /** As {@link #writeZeroes}, for a write-through request ({@code through}; null for none). */
    void writeZeroes(long offset, long length, boolean fua, Through through) throws IOException {
        signals.checkOpen();
        BlockDevice.checkRange(name, cache.logicalSize(), BlockDevice.SECTOR_SIZE, offset, length);
        stats.writeRequests.increment();
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            int want = (int) Math.min(end - pos, ZERO_REGION_MAX);
            Allocation a = allocateWaiting(want);
            long at = cache.dataOffset(a.segment()) + a.offset();
            try {
                cache.region().fill(at, a.length(), (byte) 0);
                cache.region().flush(at, a.length());
                cache.region().fence();
            } catch (IOException | RuntimeException | Error e) {
                cache.giveBackAfter(a, e);
                throw e;
            }
            pos = logZeroes(a, pos, end, want, through);
        }
        if (fua) {
            cache.keyLog().flush();
        }
        cache.quarantine().clearOnceLogged(offset, length, cache.keyLog());
        stats.bytesWritten.add(length);
    }

    /**
     * Logs keys from {@code pos} pointing at the zeroed allocation {@code a}; a large allocation
     * serves several slices, a short one (end of a segment) one key only. Returns where they end.
     */
    private long logZeroes(Allocation a, long pos, long end, int want, Through through) throws IOException {
        boolean reuse = a.length() >= Math.min(want, 1 << 20);
        boolean more;
        do {
            int len = (int) Math.min(Math.min(a.length(), cache.sliceEnd(pos) - pos), end - pos);
            more = reuse && pos + len < end;
            if (more) {
                // the next key's reference, taken while this key's still holds the segment: taken
                // once this key is logged, its kset could be written back and passed by GC first,
                // and the segment reclaimed (its head let it go if the allocation ended it), so the
                // next key would point at a segment in its next life
                cache.segments().get(a.segment());
            }
            CacheKey key = new CacheKey(pos, len).place(a.segment(), a.offset(), a.generation());
            key.markZeroes(); // for block status; the region was zeroed and flushed above
            if (cache.config().dataCrc()) {
                key.setDataCrc(crcOfZeroes(len));
            }
            try {
                insertAndLogDirty(key, new Allocation(a.segment(), a.offset(), a.generation(), len), false, through);
            } catch (IOException | RuntimeException | Error e) {
                if (more) {
                    cache.giveBackAfter(a, e); // the next key's, not used
                }
                throw e;
            }
            pos += len;
        } while (more);
        return pos;
    }

    private int crcOfZeroes(int length) {
        synchronized (zeroesLock) {
            if (zeroes == null) {
                zeroes = ByteBuffer.allocateDirect(ZERO_REGION_MAX);
            }
        }
        return cache.crc().checksum(zeroes.duplicate().limit(length));
    }

    /**
     * Drops {@code [offset, offset + length)} from the cache index (trim) and leaves the trim for
     * write-back to pass on to the backing device at its place in the log ({@link PendingTrims}).
     * Slice by slice, under the slice's lock: a write to the slice logged before the place is one
     * the trim removes from the index, a write logged after it one it keeps, so the backing device
     * ends as the index says. Without {@code passOn} the backing device is not told.
     */
    void trim(long offset, long length, boolean passOn) throws IOException {
        signals.checkOpen();
        BlockDevice.checkRange(name, cache.logicalSize(), BlockDevice.SECTOR_SIZE, offset, length);
        stats.trims.increment();
        long pos = offset;
        long end = offset + length;
        boolean dropped = false;
        while (pos < end) {
            long len = Math.min(end - pos, cache.sliceEnd(pos) - pos);
            KeySlice slice = cache.index().slice(pos);
            slice.lock();
            try {
                if (passOn) {
                    long from = pos;
                    boolean[] kept = {false};
                    try {
                        // recorded before any kset can be logged at its place: write-back cannot pass it unseen
                        cache.keyLog().flushToBarrier(place -> kept[0] = cache.trims().add(place, from, len));
                    } finally {
                        slice.removeRange(pos, len); // also when the flush failed: the index agrees with a recorded trim
                    }
                    dropped |= !kept[0];
                } else {
                    slice.removeRange(pos, len);
                }
            } finally {
                slice.unlock();
            }
            pos += len;
        }
        cache.quarantine().clear(offset, length);
        EngineSignals.signal(signals.writebackSignal);
        if (dropped && droppedTrimsLogged.compareAndSet(false, true)) {
            CacheEngine.LOG.log(System.Logger.Level.WARNING, "cache " + name + ": a trim is not passed on to the"
                    + " backing device (the backing device keeps the old data of the range, which a trim allows):"
                    + " either " + PendingTrims.MAX_RANGES + " trims already wait for write-back, or the key log"
                    + " cannot place a trim in its order. Logged once.");
        }
    }

    /** Persists every open kset: every write acknowledged before this call is durable after it. */
    void flush() throws IOException {
        signals.checkOpen();
        stats.flushes.increment();
        cache.keyLog().flush();
    }

    /**
     * Takes cache space, waiting (deferral, §4.4) while none is free. While anyone waits, GC
     * reclaims whatever is written back even below gc_percent: the allocator keeps a segment in
     * reserve for the key log, so with a high gc_percent on a small cache the threshold could
     * otherwise never be reached and the writer would wait forever.
     */
    private Allocation allocateWaiting(int wanted) throws IOException {
        boolean counted = false;
        try {
            while (true) {
                long epoch = signals.reclaimEpoch.get();
                try {
                    return cache.heads().allocate(wanted);
                } catch (DataHeads.NoSpace e) {
                    if (!counted) {
                        stats.deferredRequests.increment();
                        signals.spaceWaiters.incrementAndGet();
                        counted = true;
                    }
                    awaitReclaim(epoch);
                }
            }
        } finally {
            if (counted) {
                signals.spaceWaiters.decrementAndGet();
            }
        }
    }

    /**
     * Wakes GC and write-back, then waits until a segment is reclaimed after {@code epoch}. A
     * wait that saw no reclaim asks the cache device whether it still takes flushes (its fence
     * fails once one failed for good): if not, neither write-back (which stores dirty_tail) nor GC
     * (which stores key_tail) can free space until the cache is opened again, so the writer fails
     * with the device's error instead of waiting for good. A device that fails now and then, or a
     * backing device that is away, keeps it waiting.
     */
    private void awaitReclaim(long epoch) throws IOException {
        signals.wakeGc();
        EngineSignals.signal(signals.writebackSignal);
        synchronized (signals.spaceLock) {
            signals.checkOpen();
            if (signals.reclaimEpoch.get() == epoch) {
                // woken by a reclaim; the timeout is only a safety net, not a poll loop
                try {
                    signals.spaceLock.wait(SPACE_WAIT_SLICE_MILLIS);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("interrupted while waiting for free cache space in " + name);
                }
            }
        }
        signals.checkOpen();
        if (signals.reclaimEpoch.get() == epoch) {
            try {
                cache.region().fence();
            } catch (DeviceClosedException e) {
                signals.checkOpen();
                throw e;
            } catch (IOException e) {
                throw new IOException("cache " + name + " has no free space, and its cache device takes no more"
                        + " flushes, so none can be freed until the cache is opened again: " + e.getMessage(), e);
            }
        }
    }
}
