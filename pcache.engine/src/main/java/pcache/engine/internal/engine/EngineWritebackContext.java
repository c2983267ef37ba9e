package pcache.engine.internal.engine;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import pcache.api.BackingDeviceException;
import pcache.api.BackingUnavailableException;
import pcache.api.CachePos;
import pcache.api.CorruptMediaException;
import pcache.api.DeviceClosedException;
import pcache.api.format.PcacheFormat;
import pcache.api.spi.BackingDevice;
import pcache.api.spi.CacheKey;
import pcache.api.spi.ExtentVisitor;
import pcache.api.spi.KeyIndex;
import pcache.api.spi.KeySlice;
import pcache.api.spi.Kset;
import pcache.api.spi.WritebackContext;
import pcache.engine.internal.BackingHolder;

/**
 * What write-back policies see of one open cache: the durable key log from dirty_tail, a scratch
 * index, the backing device (written through here, with retries) and dirty_tail itself. Used by
 * the write-back thread only, one step at a time.
 */
final class EngineWritebackContext implements WritebackContext {

    /** Tries of one backing write or flush within a write-back step before the step fails. */
    private static final int WRITEBACK_ATTEMPTS = 5;
    private static final long RETRY_LOG_INTERVAL_NANOS = 10_000_000_000L;

    /** One backing operation of a write-back step. */
    @FunctionalInterface
    private interface BackingStep {
        void run() throws IOException;
    }

    private final OpenCache cache;
    private final EngineSignals signals;
    private final Stats stats;
    /** Tells the write-back loop that an attempt succeeded, before dirty_tail's move is signalled. */
    private final Runnable groupWrittenBack;
    /** {@link EngineSignals.OtherFlushes#failures} as of write-back's last flush. */
    private long otherFlushFailuresSeen;
    /** The device write-back wrote to since its last flush (null: none), and whether it wrote to several. */
    private BackingDevice wroteTo;
    private boolean wroteToSeveral;
    /**
     * The write-through epoch in which write-back left pieces out since its last flush (0: none):
     * if it has ended by the flush, the group is written again ({@link WriteThroughOrder}).
     */
    private int reliedOnEpoch;
    /** A piece of a run contiguous in the cache this large is written from the mapping, not gathered. */
    static final int DIRECT_PIECE_BYTES = 64 << 10;
    /** Largest single write straight from the mapping. */
    static final int MAX_PIECE_BYTES = 16 << 20;
    /**
     * Adjacent extents holding only zeroes, this many bytes or more, go to the backing device as
     * one write-zeroes rather than as data (a file system then zeroes them without writing, an
     * NBD server receives no payload). Smaller ones stay data: zeroing a few blocks costs a file
     * system more than writing them.
     */
    static final int ZERO_RUN_MIN_BYTES = 64 << 10;

    /** Page-aligned, so that a backing file can write what it gathers past its page cache. */
    private final ByteBuffer bounce = ByteBuffer.allocateDirect((8 << 20) + 4096).alignedSlice(4096);
    /** When a retried backing error was last logged; retries are logged at most every 10 s. */
    private long lastRetryLogNanos = System.nanoTime() - RETRY_LOG_INTERVAL_NANOS;

    EngineWritebackContext(OpenCache cache, EngineSignals signals, Runnable groupWrittenBack) {
        this.cache = cache;
        this.signals = signals;
        this.groupWrittenBack = groupWrittenBack;
        this.stats = cache.stats();
        this.otherFlushFailuresSeen = signals.otherFlushes.failures();
    }

    @Override
    public CachePos dirtyTail() {
        return cache.meta().dirtyTail();
    }

    @Override
    public CachePos keyHead() {
        return cache.keyLog().persistedHead();
    }

    /**
     * A trim waiting at {@code position} ends what a step may read there: the policy sees the end
     * of the log, writes back and flushes what comes before, and passes dirty_tail to it; then the
     * trim goes to the backing device, and only then the ksets after it are read.
     */
    @Override
    public Kset readKset(CachePos position) throws IOException {
        // the durable end first: a kset at a trim's place is durable only after the trim was recorded
        CachePos durable = cache.keyLog().persistedHead();
        if (cache.trims().waitsAt(position)) {
            if (!position.equals(dirtyTail())) {
                return null;
            }
            sendTrims(position);
        }
        if (position.equals(durable)) {
            return null;
        }
        Kset k;
        try {
            k = cache.keyLog().read(position);
        } catch (CorruptMediaException e) {
            throw e;
        } catch (IOException e) {
            // the key log lives on the cache device: its read failing is the cache device's damage
            throw new CorruptMediaException("kset", cache.dataOffset(position.segment()) + position.offset(),
                    "reading it for write-back failed: " + e.getMessage());
        }
        if (k == null) {
            signals.reportLogDamage("cache " + cache.name() + ": the kset at " + position
                    + " (before the durable end of the log " + durable + ") is unreadable; write-back"
                    + " cannot pass it");
            return null;
        }
        return withoutStaleKeys(k);
    }

    /**
     * {@code k} without the keys older than their segment (a generation below the segment's): as
     * replay leaves them out, their segment was reclaimed since and may hold other data, even the
     * key log. The kernel's GC gives references back before it stores key_tail, so an image it
     * wrote can hold such keys at or after dirty_tail (replay starting from an older copy of
     * dirty_tail); written back, their bytes would land over the backing device's good data.
     * pcache never logs one ahead of dirty_tail (a dirty key's reference keeps its segment).
     */
    private Kset withoutStaleKeys(Kset k) {
        List<CacheKey> keys = k.keys();
        List<CacheKey> kept = null;
        for (int i = 0; i < keys.size(); i++) {
            CacheKey key = keys.get(i);
            boolean stale = Long.compareUnsigned(key.generation(), cache.segments().generation(key.segment())) < 0;
            if (stale && kept == null) {
                kept = new ArrayList<>(keys.subList(0, i));
            } else if (!stale && kept != null) {
                kept.add(key);
            }
        }
        return kept == null ? k : new Kset(k.position(), k.sizeBytes(), k.last(), k.nextSegment(), List.copyOf(kept));
    }

    /** Passes on the trims waiting at dirty_tail, if any (write-back has reached their place). */
    void sendDueTrims() throws IOException {
        CachePos tail = dirtyTail();
        if (cache.trims().waitsAt(tail)) {
            sendTrims(tail);
        }
    }

    /**
     * Sends the trims waiting at {@code place} (= dirty_tail) to the backing device. A trim is a
     * hint: one the device fails is dropped (counted in backing_errors, logged at most every 10 s);
     * without a device they stay for the next attempt.
     */
    private void sendTrims(CachePos place) throws IOException {
        List<long[]> due = cache.trims().take(place);
        try {
            sendTaken(place, due);
        } finally {
            cache.trims().sent(place);
        }
    }

    private void sendTaken(CachePos place, List<long[]> due) throws IOException {
        WriteThroughOrder order = cache.writeThrough();
        for (int i = 0; i < due.size() && cache.trims().keepSending(); i++) {
            long[] t = due.get(i);
            try {
                // a write-through write landed in the range before the trim is wiped by it: its
                // mark must not keep older versions out from now on, and none may land while the
                // trim is on its way (WriteThroughOrder; always, as write-back's writes do, so
                // that the first write-through request cannot be missed)
                try (WriteThroughOrder.Held held = order.exclusive(t[0], t[1])) {
                    trimOnce(t);
                    order.newEpoch();
                }
            } catch (DeviceClosedException | BackingUnavailableException e) {
                for (long[] rest : due.subList(i, due.size())) {
                    cache.trims().add(place, rest[0], rest[1]);
                }
                throw e;
            } catch (IOException e) {
                stats.backingErrors.increment();
                long now = System.nanoTime();
                if (now - lastRetryLogNanos >= RETRY_LOG_INTERVAL_NANOS) {
                    lastRetryLogNanos = now;
                    CacheEngine.LOG.log(System.Logger.Level.WARNING, "cache " + cache.name() + ": the backing"
                            + " device failed a trim of [" + t[0] + ", +" + t[1] + "); not retried (a trim is a"
                            + " hint: the range keeps its old data there): " + e.getMessage());
                }
            }
        }
    }

    /** Sends one trim; one whose outcome is unknown (it failed) ends the reliance on marks. */
    private void trimOnce(long[] t) throws IOException {
        signals.checkOpen(); // as retrying: after a close, a late trim could destroy a successor's data
        try {
            backing().trim(t[0], t[1]);
        } catch (BackingHolder.NoneBound e) {
            throw e; // never sent
        } catch (IOException e) {
            cache.writeThrough().distrust("a trim of [" + t[0] + ", +" + t[1] + ") failed: "
                    + e.getMessage());
            throw e;
        }
        dropCleanCopies(t[0], t[1]);
    }

    /**
     * After the backing device took a trim: drops from the index what it holds clean in the range
     * (misses read between the trim and now, holding the bytes from before it) and the
     * placeholders of misses being read (their fills then do nothing), so that reads and block
     * status follow the backing device there from now on. What it holds dirty there was written
     * after the trim and stays.
     */
    private void dropCleanCopies(long offset, long length) {
        long pos = offset;
        long end = offset + length;
        List<long[]> clean = new ArrayList<>();
        while (pos < end) {
            long partEnd = Math.min(end, cache.sliceEnd(pos));
            KeySlice slice = cache.index().existingSlice((int) (pos / PcacheFormat.SUBTREE_SIZE));
            if (slice != null) {
                slice.lock();
                try {
                    clean.clear();
                    slice.walk(pos, partEnd - pos, cache.validity(), new ExtentVisitor() {
                        @Override
                        public boolean hit(CacheKey key, long position, int len) {
                            if (key.isEmpty() || key.isClean()) {
                                long[] last = clean.isEmpty() ? null : clean.get(clean.size() - 1);
                                if (last != null && last[0] + last[1] == position) {
                                    last[1] += len;
                                } else {
                                    clean.add(new long[] {position, len});
                                }
                            }
                            return true;
                        }

                        @Override
                        public boolean gap(long position, int len) {
                            return true;
                        }
                    });
                    for (long[] r : clean) {
                        slice.removeRange(r[0], r[1]);
                    }
                } finally {
                    slice.unlock();
                }
            }
            pos = partEnd;
        }
    }

    @Override
    public KeyIndex scratchIndex() {
        cache.scratch().clear();
        return cache.scratch();
    }

    /**
     * Writes {@code extent} back, with its range held against clients' write-through requests from
     * the look at the index until the write is done ({@link WriteThroughOrder}). Once such requests
     * have written, the pieces that a newer one put on the backing device in the current epoch
     * replaced are left out, and the epoch is remembered for {@link #flushBacking}.
     */
    @Override
    public void writeBack(List<CacheKey> extent) throws IOException {
        if (extent.isEmpty()) {
            return;
        }
        WriteThroughOrder order = cache.writeThrough();
        long from = extent.get(0).offset();
        long to = extent.get(extent.size() - 1).end();
        try (WriteThroughOrder.Held held = order.exclusive(from, to - from)) {
            if (!order.used()) {
                writeBackVerified(extent);
                return;
            }
            int epoch = order.epoch();
            List<CacheKey> left = new ArrayList<>(extent.size());
            boolean leftOut = false;
            for (CacheKey k : extent) {
                leftOut |= WriteThroughOrder.notReplacedOnBacking(cache, k, epoch, left);
            }
            if (!leftOut) {
                writeBackVerified(extent);
                return;
            }
            if (reliedOnEpoch == 0) {
                reliedOnEpoch = epoch;
            }
            List<CacheKey> adjacent = new ArrayList<>(left.size());
            for (CacheKey k : left) {
                if (!adjacent.isEmpty() && adjacent.get(adjacent.size() - 1).end() != k.offset()) {
                    writeBackVerified(adjacent);
                    adjacent = new ArrayList<>(left.size());
                }
                adjacent.add(k);
            }
            writeBackVerified(adjacent);
        }
    }

    /** Writes adjacent extents back, each one's data CRC checked first (when enabled). */
    private void writeBackVerified(List<CacheKey> extent) throws IOException {
        List<CacheKey> run = new ArrayList<>(extent.size());
        for (CacheKey k : extent) {
            if (cache.config().dataCrc() && !verifyForWriteback(k)) {
                writeRun(run);
                run.clear();
                continue;
            }
            run.add(k);
        }
        writeRun(run);
    }

    /** A dirty extent whose data fails its CRC is not written back but quarantined. */
    private boolean verifyForWriteback(CacheKey k) throws IOException {
        int actual = cache.crc().checksum(cacheView(cache.dataOffset(k.segment()) + k.crcSegmentOffset(),
                k.crcLength()));
        if (actual == k.dataCrc()) {
            return true;
        }
        stats.crcErrors.increment();
        CacheEngine.LOG.log(System.Logger.Level.ERROR, "cache {0}: dirty extent [{1}, +{2}) failed its data CRC during"
                + " write-back; quarantined (reads of it fail until it is rewritten)", cache.name(),
                k.offset(), k.length());
        // under the slice lock: a write that replaces a part afterwards lifts its quarantine when
        // it completes; added after the lock, it could land on that write's good data
        List<long[]> parts = new ArrayList<>();
        IndexPieces.each(cache, k, (t, position, length) -> {
            if (sameBytes(t, k)) {
                parts.add(new long[] {position, length});
            }
        }, () -> {
            for (long[] part : parts) {
                cache.quarantine().add(part[0], part[1]);
            }
        });
        return false;
    }

    /** Whether index key {@code t} is (a piece of) {@code written}: the same bytes of the same segment generation. */
    static boolean sameBytes(CacheKey t, CacheKey written) {
        return !t.isEmpty() && t.segment() == written.segment() && t.generation() == written.generation()
                && t.segmentOffset() - (t.offset() - written.offset()) == written.segmentOffset();
    }

    /**
     * Writes one run, retrying it a few times with a short back-off before giving up the step: a
     * backing device that fails some writes (a flaky link, an overloaded server) would otherwise
     * make a step of many writes fail almost always, and write-back would retry whole ksets forever
     * without progress.
     */
    private void writeRun(List<CacheKey> run) throws IOException {
        long total = run.isEmpty() ? 0 : run.get(run.size() - 1).end() - run.get(0).offset();
        if (total < ZERO_RUN_MIN_BYTES) {
            retrying(() -> writeRunOnce(run));
            return;
        }
        boolean[] zero = new boolean[run.size()];
        for (int i = 0; i < zero.length; i++) {
            zero[i] = holdsOnlyZeroes(run.get(i));
        }
        int dataFrom = 0;
        int i = 0;
        while (i < zero.length) {
            if (!zero[i]) {
                i++;
                continue;
            }
            int j = i;
            while (j < zero.length && zero[j]) {
                j++;
            }
            long offset = run.get(i).offset();
            long bytes = run.get(j - 1).end() - offset;
            if (bytes >= ZERO_RUN_MIN_BYTES) {
                List<CacheKey> before = run.subList(dataFrom, i);
                retrying(() -> writeRunOnce(before));
                retrying(() -> writeZeroesOnce(offset, bytes));
                dataFrom = j;
            }
            i = j;
        }
        List<CacheKey> rest = run.subList(dataFrom, run.size());
        retrying(() -> writeRunOnce(rest));
    }

    /** Whether {@code key}'s bytes in the cache are all zeroes. */
    private boolean holdsOnlyZeroes(CacheKey key) throws IOException {
        if (key.isZeroes()) {
            return true;
        }
        try {
            return ZeroBytes.holdsOnlyZeroes(cache, key);
        } catch (IOException e) {
            throw unreadable(cache.dataOffset(key.segment()) + key.segmentOffset(), e);
        }
    }

    private void writeZeroesOnce(long offset, long bytes) throws IOException {
        try {
            writeDevice().writeZeroes(offset, bytes, false);
        } catch (IOException e) {
            stats.backingErrors.increment();
            unknownOutcome(e);
            throw e;
        }
        stats.writebackBytes.add(bytes);
    }

    /**
     * Writes a run of extents adjacent on the backing device. Extents that also lie back to back in
     * the cache (a sequential stream fills a data segment front to back) form one piece, written
     * straight from the mapped cache device; pieces of at least {@link #DIRECT_PIECE_BYTES} go out
     * that way, while smaller ones are gathered in the bounce buffer so scattered small extents
     * still reach the backing device as one large write. Order within a run is free: nothing in
     * it is flushed before the whole step is.
     */
    private void writeRunOnce(List<CacheKey> run) throws IOException {
        if (run.isEmpty()) {
            return;
        }
        BackingDevice dev = writeDevice();
        try {
            bounce.clear();
            long gatheredAt = run.get(0).offset();
            int i = 0;
            while (i < run.size()) {
                int j = pieceEnd(run, i);
                CacheKey first = run.get(i);
                long pieceBytes = run.get(j - 1).end() - first.offset();
                if (pieceBytes >= DIRECT_PIECE_BYTES || (i == 0 && j == run.size())) {
                    gatheredAt = writeGathered(dev, gatheredAt);
                    dev.write(first.offset(), cacheView(
                            cache.dataOffset(first.segment()) + first.segmentOffset(), (int) pieceBytes), false);
                    stats.writebackBytes.add(pieceBytes);
                    gatheredAt = first.offset() + pieceBytes;
                } else {
                    for (int k = i; k < j; k++) {
                        CacheKey key = run.get(k);
                        if (bounce.remaining() < key.length()) {
                            gatheredAt = writeGathered(dev, gatheredAt);
                        }
                        readCache(cache.dataOffset(key.segment()) + key.segmentOffset(),
                                bounce.slice(bounce.position(), key.length()));
                        bounce.position(bounce.position() + key.length());
                    }
                }
                i = j;
            }
            writeGathered(dev, gatheredAt);
        } catch (CorruptMediaException e) {
            throw e; // the cache device's, not the backing device's
        } catch (IOException e) {
            stats.backingErrors.increment();
            unknownOutcome(e);
            throw e;
        }
    }

    /** A backing write of write-back's failed: unless it was never sent, marks are no longer relied on. */
    private void unknownOutcome(IOException e) {
        if (!(e instanceof BackingHolder.NoneBound)) {
            cache.writeThrough().distrust("a write of write-back's failed: " + e.getMessage());
        }
    }

    /** {@code length} bytes of cache data at {@code deviceOffset}; a failing read is damage to the cache device. */
    private ByteBuffer cacheView(long deviceOffset, int length) throws CorruptMediaException {
        try {
            return cache.region().view(deviceOffset, length);
        } catch (IOException e) {
            throw unreadable(deviceOffset, e);
        }
    }

    private void readCache(long deviceOffset, ByteBuffer dst) throws CorruptMediaException {
        try {
            cache.region().read(deviceOffset, dst);
        } catch (IOException e) {
            throw unreadable(deviceOffset, e);
        }
    }

    private static CorruptMediaException unreadable(long deviceOffset, IOException e) {
        return new CorruptMediaException("cache data", deviceOffset, "reading dirty data to write it back failed: "
                + e.getMessage());
    }

    /**
     * The end (exclusive) of the piece of {@code run} starting at {@code from}: the keys after it
     * that continue it both on the backing device (a run always does) and in the cache (same
     * segment and generation, the next bytes of it), up to {@link #MAX_PIECE_BYTES}.
     */
    private static int pieceEnd(List<CacheKey> run, int from) {
        CacheKey first = run.get(from);
        int end = from + 1;
        while (end < run.size()) {
            CacheKey prev = run.get(end - 1);
            CacheKey next = run.get(end);
            if (next.segment() != first.segment() || next.generation() != first.generation()
                    || next.segmentOffset() != prev.segmentOffset() + prev.length()
                    || next.end() - first.offset() > MAX_PIECE_BYTES) {
                break;
            }
            end++;
        }
        return end;
    }

    /** Writes what the bounce buffer gathered (backing bytes from {@code at}); returns where the next write starts. */
    private long writeGathered(BackingDevice dev, long at) throws IOException {
        bounce.flip();
        int bytes = bounce.remaining();
        if (bytes > 0) {
            dev.write(at, bounce, false);
            stats.writebackBytes.add(bytes); // counted once sent: a run that fails counts what it got out
        }
        bounce.clear();
        return at + bytes;
    }

    @Override
    public boolean flushBarrierAfter(Kset kset) {
        return cache.keyLog().flushBarrierAfter(kset.position());
    }

    /**
     * Flushes the backing device once. A failed flush is never retried on its own: it may have lost
     * every write since the flush before (a file's page cache drops pages whose write-out failed and
     * reports that to one data sync only, an NBD server that restarted lost its volatile cache), so
     * a flush that succeeds after it proves nothing. The failure fails the step instead, and the
     * write-back loop runs it again from dirty_tail, writing the group again before flushing. For
     * the same reason a flush that succeeds fails the step when a flush of the backing device
     * failed elsewhere since write-back's last one, or runs still ({@link EngineSignals.OtherFlushes}): that
     * one may have taken the report of this step's lost writes.
     */
    @Override
    public void flushBacking() throws IOException {
        BackingDevice wrote = wroteTo;
        boolean mixed = wroteToSeveral;
        int relied = reliedOnEpoch;
        wroteTo = null;
        wroteToSeveral = false;
        reliedOnEpoch = 0;
        BackingDevice dev;
        try {
            dev = backing();
            dev.flush();
        } catch (IOException e) {
            stats.backingErrors.increment();
            if (!(e instanceof BackingUnavailableException)) {
                cache.writeThrough().newEpoch(); // it may have lost what write-through requests wrote
            }
            throw e;
        }
        if (mixed || (wrote != null && wrote != dev)) {
            // a flush covers only the device it went to: writes that went to the device bound
            // before a swap (not closed, say a backing.target change) may still be in its cache
            throw new BackingDeviceException("cache " + cache.name() + ": the backing device was swapped while"
                    + " write-back wrote a group; it writes the group again to " + dev.description());
        }
        // a flush outside write-back still running may yet fail: wait for the ones begun by now
        long others = signals.otherFlushes.failuresOnceEnded(signals.backingTimeoutMillis);
        if (others < 0) {
            throw new BackingDeviceException("cache " + cache.name() + ": a flush of the backing device outside"
                    + " write-back has run for longer than backing_timeout_ms and may yet fail; write-back writes"
                    + " its group again");
        }
        if (others != otherFlushFailuresSeen) {
            otherFlushFailuresSeen = others;
            throw new BackingDeviceException("cache " + cache.name() + ": a flush of the backing device failed"
                    + " outside write-back while it was writing back, and may have taken the report of lost"
                    + " writes; write-back writes its group again");
        }
        if (cache.writeThrough().epochEnded(relied)) {
            throw new BackingDeviceException("cache " + cache.name() + ": write-back left out older versions that"
                    + " write-through requests had replaced, and the backing device may have lost those since (a"
                    + " flush failed, a trim was passed on, or the device changed); it writes its group again");
        }
    }

    /** The bound backing device for a write of the group the next {@link #flushBacking} closes. */
    private BackingDevice writeDevice() throws IOException {
        BackingDevice dev = backing();
        if (wroteTo == null) {
            wroteTo = dev;
        } else if (wroteTo != dev) {
            wroteToSeveral = true;
        }
        return dev;
    }

    /** The bound backing device, waiting for one as requests do. */
    private BackingDevice backing() throws IOException {
        return cache.backing().acquire(signals.backingTimeoutMillis);
    }

    private void retrying(BackingStep step) throws IOException {
        long backoff = 10;
        for (int attempt = 1; ; attempt++) {
            // a closed engine writes nothing more: its successor may already have written newer
            // data there (the I/O of the backing file clears the interrupt that stops this thread)
            signals.checkOpen();
            try {
                step.run();
                return;
            } catch (DeviceClosedException | BackingUnavailableException e) {
                throw e; // no device: the write-back loop waits for one
            } catch (CorruptMediaException e) {
                throw e; // the cache device's damage: retrying the backing device cannot help
            } catch (IOException e) {
                if (attempt >= WRITEBACK_ATTEMPTS || signals.closed) {
                    throw e;
                }
                logRetry(attempt, e);
                try {
                    Thread.sleep(backoff);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("write-back of cache " + cache.name() + " interrupted");
                }
                backoff = Math.min(backoff * 4, 1000);
            }
        }
    }

    private void logRetry(int attempt, IOException e) {
        long now = System.nanoTime();
        if (now - lastRetryLogNanos >= RETRY_LOG_INTERVAL_NANOS) {
            lastRetryLogNanos = now;
            CacheEngine.LOG.log(System.Logger.Level.WARNING, "cache " + cache.name() + ": backing device error"
                    + " during write-back (attempt " + attempt + " of " + WRITEBACK_ATTEMPTS + "), will retry"
                    + " with back-off (dirty data stays safe in the cache; further retries are counted in"
                    + " backing_errors and logged at most every 10 s): " + e.getMessage());
        }
    }

    @Override
    public void advanceDirtyTail(List<Kset> passed) throws IOException {
        if (passed.isEmpty()) {
            return;
        }
        if (!passed.get(0).position().equals(cache.meta().dirtyTail())) {
            throw new IllegalStateException("write-back policy passed ksets from " + passed.get(0).position()
                    + " but dirty_tail is " + cache.meta().dirtyTail());
        }
        CachePos next = passed.get(passed.size() - 1).next();
        cache.meta().storeDirtyTail(next); // into both slots when it leaves a key segment
        long bytes = 0;
        for (Kset k : passed) {
            cache.keyLog().writtenBack(k.position());
            bytes += k.dirtyBytes();
        }
        try {
            for (Kset k : passed) {
                if (!k.last()) {
                    stats.writebackKsets.increment();
                    markClean(k);
                }
            }
        } finally {
            // the tail has moved: counted whatever the index walk does, or every later drain
            // would wait for ksets already passed
            stats.dirtyBytes.add(-bytes);
            groupWrittenBack.run();
            signals.ksetsPassed(passed.size());
        }
    }

    /** After write-back: index keys holding exactly the written data are now clean in memory. */
    private void markClean(Kset k) throws IOException {
        for (CacheKey written : k.keys()) {
            if (!written.isClean()) {
                IndexPieces.each(cache, written, (t, position, length) -> {
                    if (sameBytes(t, written)) {
                        t.markClean();
                    }
                });
            }
        }
    }

    @Override
    public long dirtyBytes() {
        return stats.dirtyBytes.sum();
    }

    @Override
    public int usedPercent() {
        return (int) (100L * cache.segments().usedCount() / cache.segments().segmentCount());
    }

    @Override
    public long capacityBytes() {
        return (long) cache.segments().segmentCount() * PcacheFormat.SEG_DATA_SIZE;
    }

    @Override
    public boolean draining() {
        return signals.writebackRequested();
    }

    @Override
    public boolean spaceWanted() {
        return signals.spaceWaiters.get() > 0;
    }
}
