package pcache.engine.internal.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.function.Supplier;

import pcache.api.BackingState;
import pcache.api.BlockExtent;
import pcache.api.CacheConditions;
import pcache.api.CacheConfigurationException;
import pcache.api.CacheDevice.DrainProgress;
import pcache.api.CacheMode;
import pcache.api.CacheStatistics;
import pcache.api.LatencyHistogram;
import pcache.api.CacheStatus;
import pcache.api.CorruptMediaException;
import pcache.api.spi.BackingDevice;
import pcache.api.spi.CrcProvider;
import pcache.api.spi.KeyIndex;
import pcache.api.spi.KeyIndexProvider;
import pcache.api.spi.PmemRegion;
import pcache.api.spi.SegmentAllocator;
import pcache.api.spi.SegmentAllocatorProvider;
import pcache.api.spi.WritebackPolicy;
import pcache.engine.internal.BackingHolder;
import pcache.engine.internal.media.CacheMetadata;
import pcache.engine.internal.media.ExtensionCodec.Range;
import pcache.io.log.Log;

/**
 * One open cache: dm-pcache's cache target (reference §2.5-§7) over a pmem region, a segment
 * allocator, a key index and key log, and a swappable backing device. Plain Java, no framework:
 * the DS component and the tests drive it directly.
 *
 * <p>The engine implements the cache in write-back form; modes, request gating and swaps are the
 * business of {@link CacheDeviceFacade}. It owns its region and closes it. This class is the
 * engine's face and its life cycle; each concern is a class of its own, working on the
 * structures {@link Recovery} built ({@link OpenCache}) and coordinated by {@link EngineSignals}:
 *
 * <ul>
 * <li>{@link Recovery}, {@link Replay}, {@link BackingPairing}: format, or load and replay the key log;
 * <li>{@link WritePath}: writes, write-zeroes, trims, flushes, waiting for space;
 * <li>{@link ReadPath}, {@link ReadPlan}, {@link MissFill}: reads, hits, misses and miss fills;
 * <li>{@link QuarantineGuard}: ranges whose dirty data failed its CRC;
 * <li>{@link WriteThroughOrder}: write-back never undoes a newer write-through write;
 * <li>{@link WritebackLoop}, {@link EngineWritebackContext}: the write-back thread, drains, and
 *     what write-back policies see;
 * <li>{@link GarbageCollector}: the GC thread, the index cleaner, purge.
 * </ul>
 *
 * Every part logs under this class's name, so one logger configures the engine's output.
 */
public final class CacheEngine implements AutoCloseable {

    static final System.Logger LOG = Log.of(CacheEngine.class);

    private final EngineConfig config;
    private final PmemRegion region;
    private final BackingHolder backing;
    private final Supplier<WritebackPolicy> policy;
    private final Stats stats = new Stats();
    private final EngineSignals signals;
    private final ScheduledExecutorService scheduler;

    private OpenCache cache;
    private WritePath writes;
    private ReadPath reads;
    private BlockStatusWalk blockStatus;
    private WritebackLoop writeback;
    private volatile GarbageCollector gc;
    private Thread writebackThread;
    private Thread gcThread;

    private CacheEngine(EngineConfig config, PmemRegion region, BackingHolder backing,
            Supplier<WritebackPolicy> policy) {
        this.config = config;
        this.region = region;
        this.backing = backing;
        this.policy = policy;
        this.signals = new EngineSignals(config.name());
        signals.backingTimeoutMillis = config.backingTimeoutMillis();
        ScheduledThreadPoolExecutor s = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "pcache-" + config.name() + "-timer");
            t.setDaemon(true);
            return t;
        });
        s.setRemoveOnCancelPolicy(true);
        this.scheduler = s;
    }

    /**
     * Opens the cache on {@code region}: formats a blank device (dm-pcache formats when the
     * superblock magic is 0), or loads and replays an existing one. Takes ownership of the region.
     * A new cache needs a backing device (its size is the logical size); an existing one records it.
     *
     * @throws CorruptMediaException for a foreign or damaged device, naming the structure and offset
     * @throws CacheConfigurationException when the configuration contradicts the device
     */
    public static CacheEngine open(EngineConfig config, PmemRegion region, CrcProvider crc,
            SegmentAllocatorProvider allocators, KeyIndexProvider keyIndexes, BackingHolder backing,
            Supplier<WritebackPolicy> policy) throws IOException {
        EngineConfig.checkGcPercent(config.gcPercent());
        CacheEngine e = new CacheEngine(config, region, backing, policy);
        boolean ok = false;
        try {
            e.cache = new Recovery(config, region, crc, backing, e.stats, e.signals, e.scheduler,
                    segment -> e.segmentReclaimed()).open(allocators, keyIndexes);
            e.writes = new WritePath(e.cache, e.signals);
            e.reads = new ReadPath(e.cache, e.signals);
            e.blockStatus = new BlockStatusWalk(e.cache);
            e.writeback = new WritebackLoop(e.cache, e.signals, policy);
            e.gc = new GarbageCollector(e.cache, e.signals, e.scheduler);
            // the device bound changing ends what write-back may take write-through writes to have
            // put on it, under the holder's lock (WriteThroughOrder)
            OpenCache opened = e.cache;
            backing.onChange(() -> opened.writeThrough().newEpoch());
            // from here no device reaches write-back, reads or GC unless it is this cache's disk,
            // including one bound while the cache opened
            String refused = backing.checkWith(e::checkIdentity);
            if (refused != null) {
                LOG.log(System.Logger.Level.ERROR, "cache " + config.name() + ": backing device refused: " + refused);
            }
            e.startThreads();
            ok = true;
            return e;
        } finally {
            if (!ok) {
                e.abandon();
            }
        }
    }

    private void segmentReclaimed() {
        GarbageCollector g = gc;
        if (g != null) {
            g.segmentReclaimed();
        } else {
            stats.gcSegmentsReclaimed.increment();
            signals.segmentReclaimed();
        }
    }

    private void startThreads() {
        writebackThread = new Thread(writeback::run, "pcache-" + config.name() + "-writeback");
        writebackThread.setDaemon(true);
        gcThread = new Thread(gc::run, "pcache-" + config.name() + "-gc");
        gcThread.setDaemon(true);
        writebackThread.start();
        gcThread.start();
    }

    // ---------------------------------------------------------------- accessors

    public String name() {
        return config.name();
    }

    public long logicalSize() {
        return cache.logicalSize();
    }

    public EngineConfig config() {
        return config;
    }

    public int gcPercent() {
        return gc.gcPercent();
    }

    /** Sets and persists the GC threshold. */
    public synchronized void setGcPercent(int percent) throws IOException {
        EngineConfig.checkGcPercent(percent);
        cache.meta().storeInfo(cache.meta().info().withGcPercent(percent));
        gc.gcPercent(percent);
    }

    /**
     * Checks that {@code device} is the backing device this cache belongs to; records it on first
     * pairing (or when forced).
     */
    public void checkIdentity(BackingDevice device) throws IOException {
        BackingPairing.check(cache.meta(), config, cache.logicalSize(), device);
    }

    /** The status line fields plus pcache's; {@code mode} comes from the facade. */
    public CacheStatus status(CacheMode mode) {
        CacheMetadata meta = cache.meta();
        SegmentAllocator segments = cache.segments();
        return new CacheStatus(config.name(), meta.sbFlags(), meta.segNum(), segments.segmentCount(),
                segments.usedCount(), gc.gcPercent(), meta.info().flags(), cache.keyLog().head(), meta.dirtyTail(),
                meta.keyTail(), mode, config.dataCrc(), backing.state(), backing.describe(),
                region.description());
    }

    public CacheStatistics statistics() {
        return new CacheStatistics(stats.readRequests.sum(), stats.readHits.sum(), stats.readMisses.sum(),
                stats.readPartialHits.sum(), stats.bytesRead.sum(), stats.bytesReadFromCache.sum(),
                stats.bytesWritten.sum(), stats.writeRequests.sum(), stats.fuaWrites.sum(), stats.flushes.sum(),
                stats.trims.sum(), stats.deferredRequests.sum(),
                Math.max(0, stats.dirtyBytes.sum()), // a striped sum is no snapshot: never show a negative
                cache.index().keyCount(),
                cache.segments().usedCount(), cache.segments().segmentCount(), stats.writebackKsets.sum(),
                stats.writebackBytes.sum(), stats.writebackErrors.sum(), stats.gcKsets.sum(),
                stats.gcSegmentsReclaimed.sum(), stats.crcErrors.sum(), stats.crcRecovered.sum(),
                cache.quarantine().snapshot().size(), stats.backingErrors.sum(), LatencyHistogram.EMPTY,
                LatencyHistogram.EMPTY, LatencyHistogram.EMPTY, stats.placedWrites.sum(), stats.lentReads.sum());
    }

    /** Counts a backing device error met outside the engine (a pass-through or write-through request). */
    public void countBackingError() {
        stats.backingErrors.increment();
    }

    /**
     * What needs attention now; {@code cacheDeviceProblem} is the facade's owner's word on the
     * cache device (the engine does not hold its lock).
     */
    public CacheConditions conditions(String cacheDeviceProblem) {
        return new CacheConditions(signals.spaceWaiters.get(), cacheDeviceProblem, writeback.failure(),
                stats.gcErrors.sum(), gc.lastError(), signals.logDamage());
    }

    /** A description of damage found in the key log by write-back or GC, or null. */
    public String logDamage() {
        return signals.logDamage();
    }

    /** The quarantined ranges (for tools and tests). */
    public List<Range> quarantined() {
        return cache.quarantine().snapshot();
    }

    /** The index, for inspection (tests check it against the media); requests never go through it here. */
    /**
     * Fails when {@code [offset, offset + length)} touches a quarantined range: in pass-through
     * mode a read goes to the backing device, which holds an older version there.
     */
    public void checkQuarantine(long offset, long length) throws IOException {
        cache.quarantine().check(offset, length);
    }

    /** Whether {@code [offset, offset + length)} touches a quarantined range. */
    public boolean quarantines(long offset, long length) {
        return cache.quarantine().touches(offset, length);
    }

    /**
     * Lifts the quarantine from a range that a pass-through trim, or a pass-through write or
     * write-zeroes made durable (FUA), replaced.
     */
    public void liftQuarantine(long offset, long length) throws IOException {
        cache.quarantine().clear(offset, length);
    }

    public KeyIndex index() {
        return cache.index();
    }

    /** The segments, for inspection (tests check generations against the index). */
    public SegmentAllocator segments() {
        return cache.segments();
    }

    // ---------------------------------------------------------------- requests

    /** Writes {@code src} at {@code offset} into the cache (write-back semantics). */
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        writes.write(offset, src, fua);
    }

    /** Writes as {@link #write} does if no wait for cache space is needed; false otherwise. */
    public boolean tryWrite(long offset, ByteBuffer src, boolean fua) throws IOException {
        return writes.tryWrite(offset, src, fua);
    }

    /** As {@link #tryWrite}, the bytes placed into the cache space by {@code source}. */
    public boolean tryWriteFrom(long offset, int length, boolean fua, pcache.api.BlockDevice.WriteSource source)
            throws IOException {
        return writes.tryWriteFrom(offset, length, fua, source);
    }

    /** Makes {@code [offset, offset + length)} read as zeroes: keys pointing at one zeroed region. */
    public void writeZeroes(long offset, long length, boolean fua) throws IOException {
        writes.writeZeroes(offset, length, fua);
    }

    /** A write-through request's write to the backing device. */
    @FunctionalInterface
    public interface ToBacking {
        void write() throws IOException;
    }

    /**
     * A write-through write: into the cache as {@link #write} does, then {@code toBacking}. Once
     * that has landed, write-back no longer writes older versions of the range over it
     * ({@link WriteThroughOrder}).
     */
    public void writeThrough(long offset, ByteBuffer src, boolean fua, ToBacking toBacking) throws IOException {
        WriteThroughOrder order = cache.writeThrough();
        order.writeThroughBegins();
        int length = src.remaining();
        Through through = new Through();
        writes.write(offset, src, fua, through);
        through(order, offset, length, through, toBacking);
    }

    /** A write-through write-zeroes, as {@link #writeThrough}. */
    public void writeZeroesThrough(long offset, long length, boolean fua, ToBacking toBacking) throws IOException {
        WriteThroughOrder order = cache.writeThrough();
        order.writeThroughBegins();
        Through through = new Through();
        writes.writeZeroes(offset, length, fua, through);
        through(order, offset, length, through, toBacking);
    }

    private void through(WriteThroughOrder order, long offset, long length, Through through, ToBacking toBacking)
            throws IOException {
        try (WriteThroughOrder.Held held = order.shared(offset, length)) {
            // read before the write: a flush that fails, or a change of device, from here on ends it
            int epoch = order.epoch();
            try {
                toBacking.write();
            } catch (IOException e) {
                // even "none bound": the request may have been sent to a device closed under it
                order.distrust("a write-through write failed: " + e.getMessage());
                throw e;
            }
            order.landed(cache, through.logged(), epoch);
        }
    }

    /**
     * Drops {@code [offset, offset + length)} from the cache index (trim); write-back passes the
     * trim on to the backing device once it has written back everything logged before it.
     */
    public void trim(long offset, long length) throws IOException {
        writes.trim(offset, length, true);
    }

    /**
     * A trim: with {@code passOn}, as {@link #trim(long, long)}; without, the index drops the range
     * and the backing device is not told (write-through mode tells it at once).
     */
    public void trim(long offset, long length, boolean passOn) throws IOException {
        writes.trim(offset, length, passOn);
    }

    /**
     * A write-through request's trim failed on the backing device: its outcome is unknown (it may
     * be carried out later, over a write that landed after it), so write-back no longer relies on
     * marks ({@link WriteThroughOrder#distrust}).
     */
    public void backingTrimFailed(String why) {
        cache.writeThrough().distrust("a write-through trim failed: " + why);
    }

    /**
     * Forgets the trims write-back has not passed on yet (they are hints: the backing device keeps
     * the old data there). Write-through mode does, since its writes reach the backing device at
     * once and a trim passed on later would remove them there until write-back writes them again.
     */
    public void dropPendingTrims() throws java.io.InterruptedIOException {
        cache.trims().clear();
    }

    /**
     * A flush of the backing device outside write-back begins (a client's flush or FUA write in
     * write-through or pass-through mode); returns its ticket for {@link #otherFlushEnds}. One that
     * fails may have taken the one report of writes the device lost, write-back's among them:
     * write-back then writes its current group again instead of trusting its own flush.
     */
    public long otherFlushBegins() {
        return signals.otherFlushes.begin();
    }

    /** The flush of {@code ticket} ({@link #otherFlushBegins}) ended; {@code failed} if it did not succeed. */
    public void otherFlushEnds(long ticket, boolean failed) {
        if (failed) {
            cache.writeThrough().newEpoch(); // it may have lost what write-through requests wrote
        }
        signals.otherFlushes.end(ticket, failed);
    }

    /** Persists every open kset: every write acknowledged before this call is durable after it. */
    public void flush() throws IOException {
        writes.flush();
    }

    /** Whether the engine was closed (or abandoned). */
    public boolean isClosed() {
        return signals.closed;
    }

    /** Persists every open kset, as a flush does, without counting a client's flush. */
    public void persistOpenKeySets() throws IOException {
        signals.checkOpen();
        cache.keyLog().flush();
    }

    /** Reads {@code dst.remaining()} bytes at {@code offset} through the cache. */
    public void read(long offset, ByteBuffer dst) throws IOException {
        reads.read(offset, dst);
    }

    /** Reads as {@link #read} does if every byte is a cache hit needing no wait; false otherwise. */
    public boolean tryRead(long offset, ByteBuffer dst) throws IOException {
        return reads.tryRead(offset, dst);
    }

    /**
     * Lends the bytes of a read that is wholly made of hits needing no wait, out of the mapping
     * with their segments pinned until the view is closed; null when it cannot (see
     * {@link pcache.api.BlockDevice#tryReadView}).
     */
    public pcache.api.BlockDevice.ReadView tryReadView(long offset, int length) throws IOException {
        return reads.tryReadView(offset, length);
    }

    /** Segment pins held by open read views now. */
    public int readViewPins() {
        return reads.viewPins();
    }

    /**
     * What is allocated or zero in {@code [offset, offset + length)}: the cache's own knowledge,
     * and the backing device's answer where the cache holds nothing ({@link BlockStatusWalk}).
     */
    public List<BlockExtent> blockStatus(long offset, long length, int maxExtents) throws IOException {
        signals.checkOpen();
        return blockStatus.allocation(offset, length, maxExtents);
    }

    /**
     * The backing device's own {@code base:allocation} answer (pass-through mode) with every
     * quarantined range reported as data: its reads fail, so no copying tool may skip it.
     */
    public List<BlockExtent> backingAllocationWithLostAsData(List<BlockExtent> answer, int maxExtents) {
        return blockStatus.backingWithLostAsData(answer, maxExtents);
    }

    /** Which parts of {@code [offset, offset + length)} are not yet written back ({@link BlockStatusWalk}). */
    public List<BlockExtent> dirtyStatus(long offset, long length, int maxExtents) throws IOException {
        signals.checkOpen();
        return blockStatus.dirty(offset, length, maxExtents);
    }

    /**
     * Writes back everything dirty now (after persisting open ksets), waiting for it.
     *
     * @throws pcache.api.BackingDeviceException when write-back fails for longer than the backing timeout
     */
    public void drain(DrainProgress progress) throws IOException {
        writeback.drain(progress);
    }

    /** As {@link #drain}, giving up after {@code maxMillis}: false when something was left to write back then. */
    public boolean drain(DrainProgress progress, long maxMillis) throws IOException {
        return writeback.drain(progress, maxMillis);
    }

    /**
     * Changes how long read misses and write-back wait for a backing device (a configuration
     * change at run time). Before, only the facade's pass-through and write-through requests
     * followed a change; this engine's own waits kept the value of its open.
     */
    public void setBackingTimeoutMillis(long millis) {
        signals.backingTimeoutMillis = millis;
    }

    /** How long read misses and write-back wait for a backing device now, in milliseconds. */
    public long backingTimeoutMillis() {
        return signals.backingTimeoutMillis;
    }

    /**
     * Ends every drain in progress, and every later one, with an error: the cache is about to
     * close. A drain waits as long as write-back makes progress or fails nothing (a backing write
     * that hangs), and a mode switch to pass-through drains while holding the facade's control
     * lock, which closing needs: before, a stop waited for the whole drain.
     */
    public void cancelDrains() {
        signals.drainsCancelled = true;
        EngineSignals.signal(signals.drainSignal);
    }

    /**
     * Counts a request that the facade served on the backing device alone (pass-through), as this
     * engine counts its own: a read as a miss with its bytes; a write (or write-zeroes) with its
     * bytes; a flush; a trim. Before, pass-through requests showed in the latency histograms only,
     * and the request counters of statistics, metrics and JMX stood still.
     */
    public void countPassedThrough(CacheRequestKind kind, long bytes, boolean fua) {
        switch (kind) {
            case READ -> {
                stats.readRequests.increment();
                stats.readMisses.increment();
                stats.bytesRead.add(bytes);
            }
            case WRITE -> {
                stats.writeRequests.increment();
                if (fua) {
                    stats.fuaWrites.increment();
                }
                stats.bytesWritten.add(bytes);
            }
            case FLUSH -> stats.flushes.increment();
            case TRIM -> stats.trims.increment();
            default -> throw new IllegalArgumentException(String.valueOf(kind));
        }
    }

    /** The kinds of request {@link #countPassedThrough} counts. */
    public enum CacheRequestKind { READ, WRITE, FLUSH, TRIM }

    /** Whether everything persisted has been written back. */
    public boolean isClean() {
        return cache.meta().dirtyTail().equals(cache.keyLog().persistedHead())
                && cache.keyLog().head().equals(cache.keyLog().persistedHead()) && cache.keyLog().pendingKeys() == 0;
    }

    /**
     * Empties the cache: everything must already be written back (drain first, with requests
     * quiesced). Drops every key and releases every segment, as entering pass-through requires.
     */
    public void purge() throws IOException {
        gc.purge();
        cache.trims().clear(); // none wait after a drain; their places in the log are gone now
    }

    // ---------------------------------------------------------------- life cycle

    /**
     * Closes the cache: stops write-back and GC, persists every open kset (so every acknowledged
     * write survives), flushes the backing device (best effort) and releases the region. Dirty data
     * stays in the cache for the next open. Requests must have stopped (the facade quiesces them).
     */
    @Override
    public void close() throws IOException {
        if (signals.closed) {
            return;
        }
        signals.close();
        stopThread(writebackThread);
        stopThread(gcThread);
        IOException failure = null;
        try {
            cache.keyLog().flush();
        } catch (IOException e) {
            failure = e;
        }
        cache.keyLog().close();
        BackingDevice dev = backing.peek();
        // a device that is reconnecting would hold the stop for its whole I/O timeout; its
        // written-back data is covered by dirty_tail anyway (advanced only after a flush)
        if (dev != null && dev.state() == BackingState.ONLINE) {
            try {
                dev.flush();
            } catch (IOException e) {
                LOG.log(System.Logger.Level.WARNING, "cache {0}: flushing the backing device at close failed: {1}",
                        config.name(), e.getMessage());
            }
        }
        scheduler.shutdownNow();
        try {
            region.close();
        } catch (IOException e) {
            if (failure == null) {
                failure = e;
            } else {
                failure.addSuppressed(e);
            }
        }
        EngineSignals.signal(signals.drainSignal);
        if (failure != null) {
            throw failure;
        }
    }

    /**
     * Stops the engine without persisting anything: waiting writers are woken, the write-back and
     * GC threads and the timers stop, open key sets are dropped and the region is closed. This
     * releases what a failed open created; it is also what a power cut does to a running cache,
     * which is how the crash tests stop one.
     */
    public void abandon() {
        signals.close();
        stopThread(writebackThread);
        stopThread(gcThread);
        if (cache != null) {
            cache.keyLog().close();
        }
        scheduler.shutdownNow();
        try {
            region.close();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "closing the region of a failed open: {0}", e.getMessage());
        }
    }

    private static void stopThread(Thread t) {
        if (t == null) {
            return;
        }
        t.interrupt();
        try {
            t.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
