package pcache.engine.internal;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

import pcache.api.BackingDeviceException;
import pcache.api.BackingState;
import pcache.api.BackingUnavailableException;
import pcache.api.BlockDevice;
import pcache.api.BlockExtent;
import pcache.api.CacheConditions;
import pcache.api.CacheDevice;
import pcache.api.CacheMode;
import pcache.api.CacheStatistics;
import pcache.api.CacheStatus;
import pcache.api.DeviceClosedException;
import pcache.api.PcacheException;
import pcache.api.spi.BackingDevice;
import pcache.engine.internal.engine.CacheEngine;
import pcache.io.log.Log;

/**
 * The {@link CacheDevice} clients use: routes each request by mode, and keeps the device usable
 * while its engine is replaced (pmem swap) or emptied (entering pass-through). The engine behind it
 * may change; the facade, and the service registration holding it, stay.
 *
 * <ul>
 * <li>WRITEBACK: everything goes through the engine.</li>
 * <li>WRITETHROUGH: writes go to the engine and then to the backing device before they are
 * acknowledged (FUA and flushes reach the backing device too). The engine still logs them as dirty
 * and writes them back in log order, which is redundant but keeps the backing device right when
 * concurrent writes reach it in a different order than the cache saw them, or a write to it failed;
 * what a newer write-through write already put there is not written over with older versions
 * ({@link CacheEngine#writeThrough}).</li>
 * <li>PASSTHROUGH: the cache is empty (it was drained and purged on entry); requests go straight
 * to the backing device.</li>
 * </ul>
 *
 * <p>The facade measures how long reads, writes (and write-zeroes) and flushes take as its callers
 * see them, whatever the mode ({@link LatencyRecorder}); {@link #statistics()} adds those
 * histograms to the engine's counters. Both survive an engine replacement: the counters of the
 * engines replaced are carried on ({@link CarriedCounters}).
 */
public final class CacheDeviceFacade implements CacheDevice {

    private static final System.Logger LOG = Log.of(CacheDeviceFacade.class);
    private static final long QUIESCE_TIMEOUT_MILLIS = 30_000;
    /**
     * How long a switch to pass-through holds client requests to write back what is left after
     * the drain that ran beside them (writes under way when it began, write-through by then).
     */
    static final long HELD_DRAIN_MILLIS = 10_000;
    /** How many times a switch to pass-through drains and holds before it gives up. */
    static final int PASSTHROUGH_ROUNDS = 3;
    /** {@link #HELD_DRAIN_MILLIS}, shorter in tests. */
    private volatile long heldDrainMillis = HELD_DRAIN_MILLIS;

    /** Opens a new engine, e.g. through another pmem provider. */
    @FunctionalInterface
    public interface EngineOpener {
        CacheEngine open() throws IOException;
    }

    private final String name;
    private final BackingHolder backing;
    private final RequestGate gate;
    private final Object controlLock = new Object();
    /** Set by {@link #close()} (under {@link #controlLock}); a closed device never comes back into service. */
    private volatile boolean closed;
    /** Set as {@link #close} begins: drains end, and no mode switch starts another. */
    private volatile boolean closing;
    /** Orders a trim with a switch into write-through mode (which drops the trims write-back owes). */
    private final Object trimLock = new Object();
    private volatile CacheEngine engine;
    private volatile CacheMode mode;
    private volatile long backingTimeoutMillis;
    /** Counters of the engines replaced so far; also the lock under which {@link #engine} is replaced. */
    private final CarriedCounters carried = new CarriedCounters();
    private final LatencyRecorder readLatency = new LatencyRecorder();
    private final LatencyRecorder writeLatency = new LatencyRecorder();
    private final LatencyRecorder flushLatency = new LatencyRecorder();
    /** Why the cache device is not held safely, or null: asked of the owner of its lock. */
    private final Supplier<String> cacheDeviceProblem;
    /** Pass-through writes per backing device, until a flush covers them. */
    private final PassthroughWrites passthroughWrites;
    /** Why writes acknowledged before an engine replacement may be lost, for the next client flush; or null. */
    private final java.util.concurrent.atomic.AtomicReference<String> lostAtReplacement =
            new java.util.concurrent.atomic.AtomicReference<>();

    public CacheDeviceFacade(CacheEngine engine, BackingHolder backing, CacheMode mode) {
        this(engine, backing, mode, () -> null);
    }

    /**
     * A facade whose {@link #conditions()} report the cache device's problem as
     * {@code cacheDeviceProblem} tells it (null: locked and writable).
     */
    public CacheDeviceFacade(CacheEngine engine, BackingHolder backing, CacheMode mode,
            Supplier<String> cacheDeviceProblem) {
        this.cacheDeviceProblem = cacheDeviceProblem;
        this.name = engine.name();
        this.engine = engine;
        this.backing = backing;
        this.mode = CacheMode.WRITEBACK;
        this.gate = new RequestGate(name);
        this.passthroughWrites = new PassthroughWrites(name);
        this.backingTimeoutMillis = engine.config().backingTimeoutMillis();
        if (mode != CacheMode.WRITEBACK) {
            try {
                setMode(mode);
            } catch (IOException e) {
                LOG.log(System.Logger.Level.ERROR, "cache {0}: cannot enter mode {1} at start, staying in"
                        + " writeback: {2}", name, mode.configName(), e.getMessage());
            }
        }
    }

    /** The engine now serving requests (tests and the component). */
    public CacheEngine engine() {
        return engine;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long sizeBytes() {
        return engine.logicalSize();
    }

    // ---------------------------------------------------------------- I/O

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        long start = System.nanoTime();
        readUnmeasured(offset, dst);
        readLatency.record(System.nanoTime() - start);
    }

    private void readUnmeasured(long offset, ByteBuffer dst) throws IOException {
        gate.enter();
        try {
            if (mode == CacheMode.PASSTHROUGH) {
                BlockDevice.checkRange(name, sizeBytes(), SECTOR_SIZE, offset, dst.remaining());
                engine.checkQuarantine(offset, dst.remaining()); // the backing device holds older data there
                engine.countPassedThrough(CacheEngine.CacheRequestKind.READ, dst.remaining(), false);
                int pos = dst.position();
                onBacking(dev -> {
                    dst.position(pos);
                    dev.read(offset, dst);
                });
            } else {
                engine.read(offset, dst);
            }
        } finally {
            gate.exit();
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        long start = System.nanoTime();
        writeUnmeasured(offset, src, fua);
        writeLatency.record(System.nanoTime() - start);
    }

    private void writeUnmeasured(long offset, ByteBuffer src, boolean fua) throws IOException {
        gate.enter();
        try {
            CacheMode m = mode;
            if (m == CacheMode.PASSTHROUGH) {
                int length = src.remaining();
                BlockDevice.checkRange(name, sizeBytes(), SECTOR_SIZE, offset, length);
                engine.countPassedThrough(CacheEngine.CacheRequestKind.WRITE, length, fua);
                int pos = src.position();
                // a write that lifts a quarantine is made durable first, or a power cut could
                // leave the backing device's older version served with no quarantine to refuse it
                boolean lifts = engine.quarantines(offset, length);
                boolean durable = fua || lifts;
                writeToBacking(durable, dev -> {
                    src.position(pos);
                    dev.write(offset, src, durable);
                });
                if (lifts) {
                    engine.liftQuarantine(offset, length);
                }
                return;
            }
            if (m == CacheMode.WRITETHROUGH) {
                ByteBuffer copy = src.duplicate();
                int pos = copy.position();
                engine.writeThrough(offset, src, fua, () -> onBacking(fua, dev -> {
                    copy.position(pos);
                    dev.write(offset, copy, fua);
                }));
            } else {
                engine.write(offset, src, fua);
            }
        } finally {
            gate.exit();
        }
    }

    @Override
    public void flush() throws IOException {
        long start = System.nanoTime();
        flushUnmeasured();
        flushLatency.record(System.nanoTime() - start);
    }

    private void flushUnmeasured() throws IOException {
        gate.enter();
        try {
            CacheMode m = mode;
            if (m != CacheMode.PASSTHROUGH) {
                engine.flush();
            } else {
                engine.countPassedThrough(CacheEngine.CacheRequestKind.FLUSH, 0, false);
            }
            if (m != CacheMode.WRITEBACK) {
                flushBacking();
            }
            throwReportOfLostWrites();
        } finally {
            gate.exit();
        }
    }

    /** A hit in write-back or write-through mode, served at once; false for anything slower. */
    @Override
    public boolean tryRead(long offset, ByteBuffer dst) throws IOException {
        long start = System.nanoTime();
        boolean served = tryReadUnmeasured(offset, dst);
        if (served) {
            readLatency.record(System.nanoTime() - start);
        }
        return served;
    }

    private boolean tryReadUnmeasured(long offset, ByteBuffer dst) throws IOException {
        if (!gate.tryEnter()) {
            return false;
        }
        try {
            return mode != CacheMode.PASSTHROUGH && engine.tryRead(offset, dst);
        } finally {
            gate.exit();
        }
    }

    /**
     * A hit lent out of the cache's mapping ({@link CacheEngine#tryReadView}). The view keeps
     * its place in the request gate until it is closed: a swap of the cache's parts or a change
     * to pass-through waits for it as for any request in flight (and gives up with a clear error
     * after its timeout when a client does not take its reply).
     */
    @Override
    public ReadView tryReadView(long offset, int length) throws IOException {
        long start = System.nanoTime();
        if (!gate.tryEnter()) {
            return null;
        }
        ReadView view = null;
        try {
            if (mode != CacheMode.PASSTHROUGH) {
                view = engine.tryReadView(offset, length);
            }
        } finally {
            if (view == null) {
                gate.exit();
            }
        }
        if (view == null) {
            return null;
        }
        readLatency.record(System.nanoTime() - start);
        return new GatedView(view, gate);
    }

    /** A view that leaves the request gate when it is closed. */
    private static final class GatedView implements ReadView {
        private final ReadView view;
        private final RequestGate gate;
        private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

        GatedView(ReadView view, RequestGate gate) {
            this.view = view;
            this.gate = gate;
        }

        @Override
        public ByteBuffer[] buffers() {
            return view.buffers();
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) {
                try {
                    view.close();
                } finally {
                    gate.exit();
                }
            }
        }
    }

    /** A write in write-back mode that finds cache space at once; false for anything slower. */
    @Override
    public boolean tryWrite(long offset, ByteBuffer src, boolean fua) throws IOException {
        long start = System.nanoTime();
        boolean served = tryWriteUnmeasured(offset, src, fua);
        if (served) {
            writeLatency.record(System.nanoTime() - start);
        }
        return served;
    }

    private boolean tryWriteUnmeasured(long offset, ByteBuffer src, boolean fua) throws IOException {
        if (!gate.tryEnter()) {
            return false;
        }
        try {
            return mode == CacheMode.WRITEBACK && engine.tryWrite(offset, src, fua);
        } finally {
            gate.exit();
        }
    }

    /** As {@link #tryWrite}, the bytes received straight into cache space; false in other modes. */
    @Override
    public boolean tryWriteFrom(long offset, int length, boolean fua, WriteSource source) throws IOException {
        long start = System.nanoTime();
        if (!gate.tryEnter()) {
            return false;
        }
        boolean served;
        try {
            served = mode == CacheMode.WRITEBACK && engine.tryWriteFrom(offset, length, fua, source);
        } finally {
            gate.exit();
        }
        if (served) {
            writeLatency.record(System.nanoTime() - start);
        }
        return served;
    }

    /** A flush in write-back mode (it persists open key sets only); false in other modes. */
    @Override
    public boolean tryFlush() throws IOException {
        long start = System.nanoTime();
        boolean served = tryFlushUnmeasured();
        if (served) {
            flushLatency.record(System.nanoTime() - start);
        }
        return served;
    }

    private boolean tryFlushUnmeasured() throws IOException {
        if (!gate.tryEnter()) {
            return false;
        }
        try {
            if (mode != CacheMode.WRITEBACK) {
                return false;
            }
            engine.flush();
            throwReportOfLostWrites();
            return true;
        } finally {
            gate.exit();
        }
    }

    @Override
    public void trim(long offset, long length) throws IOException {
        gate.enter();
        try {
            if (mode == CacheMode.PASSTHROUGH) {
                BlockDevice.checkRange(name, sizeBytes(), SECTOR_SIZE, offset, length);
                engine.countPassedThrough(CacheEngine.CacheRequestKind.TRIM, length, false);
                onBacking(dev -> dev.trim(offset, length));
                engine.liftQuarantine(offset, length);
                return;
            }
            synchronized (trimLock) {
                CacheMode m = mode;
                // write-back mode: write-back passes the trim on between the older writes and the newer
                engine.trim(offset, length, m == CacheMode.WRITEBACK);
                if (m == CacheMode.WRITETHROUGH) {
                    // writes reach the backing device at once, so does the trim; a hint: never fail for it
                    BackingDevice dev = backing.peek();
                    if (dev != null && dev.state() == BackingState.ONLINE) {
                        try {
                            dev.trim(offset, length);
                        } catch (IOException e) {
                            LOG.log(System.Logger.Level.DEBUG, "cache {0}: backing trim failed (ignored): {1}", name,
                                    e.getMessage());
                            engine.backingTrimFailed(e.getMessage());
                        }
                    }
                }
            }
        } finally {
            gate.exit();
        }
    }

    @Override
    public void writeZeroes(long offset, long length, boolean fua) throws IOException {
        long start = System.nanoTime();
        writeZeroesUnmeasured(offset, length, fua);
        writeLatency.record(System.nanoTime() - start);
    }

    private void writeZeroesUnmeasured(long offset, long length, boolean fua) throws IOException {
        gate.enter();
        try {
            CacheMode m = mode;
            if (m == CacheMode.PASSTHROUGH) {
                BlockDevice.checkRange(name, sizeBytes(), SECTOR_SIZE, offset, length);
                engine.countPassedThrough(CacheEngine.CacheRequestKind.WRITE, length, fua);
                boolean lifts = engine.quarantines(offset, length); // as for a write
                boolean durable = fua || lifts;
                writeToBacking(durable, dev -> dev.writeZeroes(offset, length, durable));
                if (lifts) {
                    engine.liftQuarantine(offset, length);
                }
                return;
            }
            if (m == CacheMode.WRITETHROUGH) {
                engine.writeZeroesThrough(offset, length, fua,
                        () -> onBacking(fua, dev -> dev.writeZeroes(offset, length, fua)));
            } else {
                engine.writeZeroes(offset, length, fua);
            }
        } finally {
            gate.exit();
        }
    }

    /**
     * The cache's answer in write-back and write-through mode; in pass-through mode (the cache is
     * empty) the backing device's, with quarantined ranges as data.
     */
    @Override
    public List<BlockExtent> blockStatus(long offset, long length, int maxExtents) throws IOException {
        gate.enter();
        try {
            if (mode == CacheMode.PASSTHROUGH) {
                BlockDevice.checkRange(name, sizeBytes(), SECTOR_SIZE, offset, length);
                List<List<BlockExtent>> answer = new ArrayList<>(1);
                onBacking(dev -> answer.add(dev.blockStatus(offset, length, maxExtents)));
                // a quarantined range stays data, as in the other modes: its reads fail here too
                return engine.backingAllocationWithLostAsData(answer.get(0), maxExtents);
            }
            return engine.blockStatus(offset, length, maxExtents);
        } finally {
            gate.exit();
        }
    }

    /** Asks the engine, whatever the mode: in pass-through mode it is empty, so all is clean. */
    @Override
    public List<BlockExtent> dirtyStatus(long offset, long length, int maxExtents) throws IOException {
        gate.enter();
        try {
            return engine.dirtyStatus(offset, length, maxExtents);
        } finally {
            gate.exit();
        }
    }

    /** One operation on the backing device. */
    @FunctionalInterface
    private interface BackingOp {
        void run(BackingDevice device) throws IOException;
    }

    /** A client's pass-through write; one without FUA is counted until a flush covers it. */
    private void writeToBacking(boolean fua, BackingOp op) throws IOException {
        if (fua) {
            onBacking(true, op);
        } else {
            onBacking(false, dev -> passthroughWrites.write(dev, op::run));
        }
    }

    /**
     * Flushes the backing device for a client or a change of mode, and any device swapped out
     * that still holds pass-through writes no flush covered: a flush covers every write
     * acknowledged before it, wherever it went (one cut off by a swap and issued again on the new
     * device included). What it cannot cover is reported to a client's flush
     * ({@link #throwReportOfLostWrites}).
     */
    private void flushBacking() throws IOException {
        BackingDevice[] reached = new BackingDevice[1];
        try {
            onBacking(true, dev -> {
                reached[0] = dev;
                passthroughWrites.flush(dev);
            });
        } catch (BackingHolder.NoneBound e) {
            // none bound now: a device let go with writes on it is still flushed (leaving
            // pass-through goes on without a device, and no flush of write-back mode comes here)
            passthroughWrites.flushOthers(null);
            throw e;
        }
        passthroughWrites.flushOthers(reached[0]);
    }

    /** A client's flush fails, once, when pass-through writes on a device swapped out may be lost. */
    private void throwReportOfLostWrites() throws IOException {
        BackingDeviceException lost = passthroughWrites.takeReport();
        if (lost != null) {
            throw lost;
        }
        // read first: a flush writes nothing shared unless there is a report to take
        String unpersisted = lostAtReplacement.get() == null ? null : lostAtReplacement.getAndSet(null);
        if (unpersisted != null) {
            throw new PcacheException(unpersisted);
        }
    }

    /**
     * {@link #onBacking(BackingOp)}, for an operation that {@code syncs} the backing device (a
     * flush, a FUA write): one that fails may have taken the one report of writes the device lost
     * (a file's data sync reports a failed write-out once), write-back's among them, so write-back
     * is told and does not trust its own next flush. It is told when such an operation begins,
     * not only when it fails: a flush of write-back's that succeeds while this one is still running
     * waits for its end ({@link CacheEngine#otherFlushBegins}).
     */
    private void onBacking(boolean syncs, BackingOp op) throws IOException {
        if (!syncs) {
            onBacking(op);
            return;
        }
        CacheEngine e = engine;
        long ticket = e.otherFlushBegins();
        boolean failed = false;
        try {
            onBacking(op);
        } catch (IOException | RuntimeException | Error x) {
            // no device bound in time: nothing synced; anything else, a device's timeout included
            // (an NBD flush sent, then given up on), may have taken the report of lost writes
            failed = !(x instanceof BackingHolder.NoneBound);
            throw x;
        } finally {
            e.otherFlushEnds(ticket, failed);
        }
    }

    /**
     * Runs {@code op} on the bound backing device, waiting for one (bounded); an operation cut off
     * by a swap (the device closed under it) is re-issued on the new device.
     */
    private void onBacking(BackingOp op) throws IOException {
        CacheEngine e = engine;
        backing.run(name, backingTimeoutMillis, e::countBackingError, "request", op::run);
    }

    /**
     * The backing device {@code device} goes away (unbound: replaced by another, or removed; called
     * before its provider closes it). Pass-through writes that went to it and that no flush has
     * covered are flushed on it first, once those on their way have landed (bounded): a client's
     * next flush reaches the device bound then. If that fails, the client's next flush fails,
     * naming the device. Requests go on meanwhile, on the device bound.
     */
    public void backingGoes(BackingDevice device) {
        backing.remove(device);
        try {
            String lost = passthroughWrites.departs(device, QUIESCE_TIMEOUT_MILLIS);
            if (lost != null) {
                LOG.log(System.Logger.Level.ERROR, lost + " (the next client flush fails with this)");
            }
        } catch (RuntimeException e) { // a device's own bug: the unbind (a DS method) goes on
            LOG.log(System.Logger.Level.ERROR, "cache " + name + ": letting backing device go: " + e, e);
        }
    }

    // ---------------------------------------------------------------- control

    @Override
    public CacheStatus status() {
        return engine.status(mode);
    }

    @Override
    public CacheStatistics statistics() {
        CacheStatistics counters;
        synchronized (carried) {
            counters = carried.onto(engine.statistics());
        }
        return counters.withLatencies(readLatency.snapshot(), writeLatency.snapshot(),
                flushLatency.snapshot());
    }

    @Override
    public CacheConditions conditions() {
        String problem = cacheDeviceProblem.get();
        if (problem == null && gate.isShut() && !closed) {
            // a swap and its rollback failed: every request fails; monitoring must not say OK
            problem = "cache " + name + " is out of service: re-opening it (a swap of its pmem mapping or a"
                    + " configuration change) failed, and so did going back to how it was; requests fail until a"
                    + " mapping that can open the device is bound (pmem.target) or the cache is restarted. The"
                    + " log says why";
        }
        return engine.conditions(problem);
    }

    @Override
    public CacheMode mode() {
        return mode;
    }

    @Override
    public void setMode(CacheMode newMode) throws IOException {
        setMode(newMode, PASSTHROUGH_ROUNDS, heldDrainMillis);
    }

    /** How long a {@link #trySetMode} holds clients at most, once. */
    static final long BRIEF_HELD_DRAIN_MILLIS = 1_000;

    /**
     * As {@link #setMode}, for a try no one waits for (a configured mode tried again on a timer):
     * a switch to pass-through holds new requests once, while those in flight finish (as every
     * switch does) and then for at most {@link #BRIEF_HELD_DRAIN_MILLIS} of writing back, so that
     * tries failing again and again (writers that keep up with write-back) do not stall every
     * client three times for the whole bound each time.
     */
    public void trySetMode(CacheMode newMode) throws IOException {
        setMode(newMode, 1, Math.min(heldDrainMillis, BRIEF_HELD_DRAIN_MILLIS));
    }

    private void setMode(CacheMode newMode, int passthroughRounds, long heldMillis) throws IOException {
        synchronized (controlLock) {
            if (closing) {
                throw new DeviceClosedException("cache " + name + " is closing: its mode stays " + mode.configName());
            }
            CacheMode old = mode;
            if (newMode == old) {
                return;
            }
            if (old == CacheMode.PASSTHROUGH) {
                leavePassthrough(newMode);
                return;
            }
            if (newMode != CacheMode.PASSTHROUGH) {
                switchBetweenCachingModes(old, newMode);
                return;
            }
            enterPassthrough(old, passthroughRounds, heldMillis);
        }
    }

    /** Write-back and write-through, one to the other. Caller holds the control lock. */
    private void switchBetweenCachingModes(CacheMode old, CacheMode newMode) throws IOException {
        synchronized (trimLock) {
            if (newMode == CacheMode.WRITETHROUGH) {
                // a trim passed on later would undo write-through writes on the backing device;
                // dropped first, so that a failed drop (interrupted) leaves the mode as it was
                engine.dropPendingTrims();
            }
            mode = newMode;
        }
        LOG.log(System.Logger.Level.INFO, "cache {0}: mode {1} -> {2}", name, old.configName(),
                newMode.configName());
    }

    /**
     * Writes back while clients go on, then holds them for what is left (written meanwhile) and
     * the purge. That held part is bounded ({@link #HELD_DRAIN_MILLIS}): when something is still
     * left then (writers that keep up with write-back, a backing write that does not finish), the
     * clients are released and the switch fails, the cache in its mode. Before, the held drain had
     * no bound: every request, hits too, waited behind it, for good behind a backing write that
     * hung. Caller holds the control lock.
     */
    private void enterPassthrough(CacheMode old, int rounds, long heldMillis) throws IOException {
        boolean done = false;
        for (int round = 1; !done && round <= rounds; round++) {
            engine.drain(null);
            hold();
            try {
                if (engine.drain(null, heldMillis)) {
                    engine.purge();
                    mode = CacheMode.PASSTHROUGH;
                    done = true;
                }
            } finally {
                gate.release();
            }
            if (!done && round < rounds) {
                LOG.log(System.Logger.Level.WARNING, "cache {0}: the switch to passthrough held client requests for {1}"
                        + " ms and some dirty data was still left; clients go on, writing back again (round {2} of {3})",
                        name, heldMillis, round, rounds);
            }
        }
        if (!done) {
            throw new PcacheException("cache " + name + ": the switch to passthrough held client requests "
                    + (rounds == 1 ? "once" : rounds + " times") + " for " + heldMillis + " ms to write back what was left after"
                    + " a drain, and some was still left " + (rounds == 1 ? "then" : "each time") + ": writers make data dirty as fast as write-back"
                    + " takes it to the backing device, or a backing write does not finish. Clients go on; the mode"
                    + " stays " + old.configName() + ". To stop new dirty data first, switch to writethrough, then to"
                    + " passthrough; and check the backing device");
        }
        LOG.log(System.Logger.Level.INFO, "cache {0}: mode {1} -> passthrough (drained and emptied)", name,
                old.configName());
    }

    /**
     * Pass-through wrote straight to the backing device. Requests still in flight there finish
     * first (a pass-through write landing after the switch could otherwise be overtaken by a read
     * that caches the older bytes as clean), and the backing device is flushed: a client's flush
     * in the new mode persists the key log, not what pass-through wrote before it. Caller holds
     * the control lock.
     */
    private void leavePassthrough(CacheMode newMode) throws IOException {
        hold();
        try {
            try {
                flushBacking(); // what it cannot cover is reported to the next client flush
            } catch (BackingHolder.NoneBound e) {
                // none bound: nothing can be flushed now, and refusing would keep the cache from
                // taking writes while the backing device is away (a device's own timeout fails
                // the switch: what pass-through wrote may not be durable)
                LOG.log(System.Logger.Level.WARNING, "cache " + name + ": leaving passthrough without flushing the"
                        + " backing device (" + e.getMessage() + ")");
            }
            mode = newMode;
        } finally {
            gate.release();
        }
        LOG.log(System.Logger.Level.INFO, "cache {0}: mode passthrough -> {1} (backing device flushed)", name,
                newMode.configName());
    }

    private void hold() throws IOException {
        try {
            if (!gate.hold(QUIESCE_TIMEOUT_MILLIS)) {
                gate.release();
                throw new PcacheException("cache " + name + ": " + gate.inFlight() + " requests still in flight after "
                        + QUIESCE_TIMEOUT_MILLIS + " ms (waiting for space or for the backing device, or replies sent from the"
                        + " cache that a client does not take?); try again");
            }
        } catch (InterruptedException e) {
            gate.release();
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while quiescing cache " + name);
        }
    }

    @Override
    public int gcPercent() {
        return engine.gcPercent();
    }

    @Override
    public void setGcPercent(int percent) throws IOException {
        if (percent < GC_PERCENT_MIN || percent > GC_PERCENT_MAX) {
            throw new IllegalArgumentException("gc_percent " + percent + " is out of range: expected "
                    + GC_PERCENT_MIN + ".." + GC_PERCENT_MAX);
        }
        onCurrentEngine(e -> {
            e.setGcPercent(percent);
            return null;
        });
    }

    /**
     * Waits until write-back has taken everything dirty to the backing device. A swap of the
     * engine (pmem mapping, configuration change) meanwhile does not end it: the drain goes on
     * with the engine that took the place of the one it began on, which replays the same log.
     */
    @Override
    public void drain(DrainProgress progress) throws IOException {
        onCurrentEngine(e -> {
            e.drain(progress);
            return null;
        });
    }

    /** Something asked of the engine in service. */
    @FunctionalInterface
    private interface EngineCall<T> {
        T call(CacheEngine engine) throws IOException;
    }

    /**
     * Runs {@code call} on the engine in service. If it fails because a swap closed that engine
     * under it (the device itself still open), it runs again on the engine that replaced it, once
     * the swap is done. Before, a drain or a change of {@code gc_percent} under way during a swap
     * failed with "is closed" although the cache stayed in service.
     */
    private <T> T onCurrentEngine(EngineCall<T> call) throws IOException {
        while (true) {
            CacheEngine e = engine;
            try {
                return call.call(e);
            } catch (IOException | RuntimeException failure) {
                if (!replacedSince(e)) {
                    throw failure;
                }
                LOG.log(System.Logger.Level.DEBUG, "cache {0}: the engine was replaced under a call; it runs again on the"
                        + " new one ({1})", name, failure.getMessage());
            }
        }
    }

    /** Whether {@code e} was closed by a swap that put another engine in its place, the device still open. */
    private boolean replacedSince(CacheEngine e) {
        if (!e.isClosed() || closing) {
            return false; // a failure of the engine in service, or the device closing: the caller's
        }
        synchronized (controlLock) { // a swap under way ends first
            return !closed && !closing && engine != e && !engine.isClosed();
        }
    }

    /** Changes how long requests wait for a backing device. */
    public void setBackingTimeoutMillis(long millis) {
        this.backingTimeoutMillis = millis;
        engine.setBackingTimeoutMillis(millis);
    }

    /**
     * Replaces the engine: holds requests, closes the current engine (persisting everything),
     * opens the new one (the same cache device through another path, e.g. another pmem provider,
     * which replays the log) and lets requests go on. If the new engine does not open, the old
     * one is re-opened with {@code rollback}.
     */
    public void replaceEngine(EngineOpener opener, EngineOpener rollback) throws IOException {
        synchronized (controlLock) {
            if (closed) {
                throw new DeviceClosedException("cache " + name + " is closed");
            }
            hold();
            try {
                CacheEngine old = engine;
                closeReplaced(old);
                CacheEngine opened;
                try {
                    opened = opener.open();
                } catch (Throwable e) { // an Error too (out of memory while replaying): never left on the closed engine
                    LOG.log(System.Logger.Level.ERROR, "cache " + name + ": re-opening failed, rolling back: "
                            + e);
                    CacheEngine back;
                    try {
                        back = rollback.open();
                    } catch (Throwable e2) {
                        e.addSuppressed(e2);
                        gate.shut();
                        LOG.log(System.Logger.Level.ERROR, "cache " + name + ": rollback failed too; the cache is"
                                + " out of service: " + e2);
                        throw e;
                    }
                    replacedBy(old, back);
                    backInService(" on the engine it had");
                    throw e;
                }
                replacedBy(old, opened);
                backInService("");
            } finally {
                gate.release();
            }
        }
    }

    /**
     * Closes the engine being replaced (requests held). Its open key sets are persisted first, on
     * their own: if that fails, writes acknowledged since the last flush may be lost (the engine
     * opened next replays the device as it is), and the next client flush fails once to say so,
     * as a flush must not succeed over writes it does not cover. Its close failing after that
     * loses nothing (nothing was written since), and is logged.
     */
    private void closeReplaced(CacheEngine old) {
        if (old.isClosed()) {
            return; // out of service since an earlier swap and its rollback failed: closed then
        }
        try {
            old.persistOpenKeySets();
        } catch (Throwable e) {
            String lost = "cache " + name + ": the writes acknowledged before its engine was re-opened (pmem swap or"
                    + " configuration change) and not yet flushed could not be persisted (" + e.getMessage()
                    + ") and may be lost. Check the data written since the last flush that succeeded";
            lostAtReplacement.set(lost);
            LOG.log(System.Logger.Level.ERROR, lost + "; the next client flush fails to report it");
        }
        try {
            old.close();
        } catch (Throwable e) {
            LOG.log(System.Logger.Level.ERROR, "cache " + name + ": closing the engine being replaced failed"
                    + " (opening the new one all the same): " + e);
        }
    }

    /** An engine opened: a cache that an earlier swap and its rollback took out of service is back. */
    private void backInService(String how) {
        if (gate.isShut()) {
            gate.reopen();
            LOG.log(System.Logger.Level.INFO, "cache {0}: back in service{1}", name, how);
        }
    }

    /**
     * {@code replacement} takes the place of {@code old} (closed): its counters go on from the
     * old one's, in one step for {@link #statistics} (never counted twice or dropped meanwhile).
     */
    private void replacedBy(CacheEngine old, CacheEngine replacement) {
        replacement.setBackingTimeoutMillis(backingTimeoutMillis); // the one in force, also after a rollback
        CacheStatistics last;
        try {
            last = old.statistics();
        } catch (RuntimeException e) { // a closed engine that cannot say: its counts are lost, not the swap
            LOG.log(System.Logger.Level.WARNING, "cache " + name + ": the counters of the engine replaced could not be"
                    + " read; they start again from 0: " + e);
            last = null;
        }
        synchronized (carried) {
            if (last != null) {
                carried.add(last);
            }
            engine = replacement;
        }
        if (closing) { // checked after the engine is published: a close either sees it or is seen here
            replacement.cancelDrains();
        }
    }

    /** Shortens the hold of a switch to pass-through (tests). */
    void heldDrainMillis(long millis) {
        this.heldDrainMillis = millis;
    }

    /** Whether new requests are held back now (a swap or a change of mode is waiting for those in flight). */
    boolean holdingRequests() {
        return gate.isHeld();
    }

    /** Requests in flight now, open read views included. */
    long requestsInFlight() {
        return gate.inFlight();
    }

    /** False once the device is out of service (closed, or a swap and its rollback both failed). */
    boolean isInService() {
        return !gate.isShut();
    }

    /**
     * The first step of a close, for an owner that must wait for its own work before it closes:
     * a drain running (a switch to pass-through holds the control lock for as long as write-back
     * takes) ends with an error, and no mode switch starts another; requests are still served.
     */
    public void endDrains() {
        closing = true; // an engine that replaces this one meanwhile has its drains ended too
        engine.cancelDrains();
    }

    /**
     * Shuts the device down: refuses new requests, lets those in flight finish (bounded), then
     * closes the engine, persisting every open kset. Dirty data stays in the cache.
     */
    public void close() throws IOException {
        endDrains();
        synchronized (controlLock) {
            try {
                gate.hold(QUIESCE_TIMEOUT_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            closed = true;
            gate.shut();
            engine.close();
        }
    }

    @Override
    public String toString() {
        return "cache " + name;
    }
}
