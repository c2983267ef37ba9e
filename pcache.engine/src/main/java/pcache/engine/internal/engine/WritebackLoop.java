package pcache.engine.internal.engine;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.function.Supplier;

import pcache.api.BackingDeviceException;
import pcache.api.CacheDevice.DrainProgress;
import pcache.api.CorruptMediaException;
import pcache.api.DeviceClosedException;
import pcache.api.PcacheException;
import pcache.api.spi.WritebackOutcome;
import pcache.api.spi.WritebackPolicy;

/**
 * The write-back thread of one open cache and the drains that wait for it. The thread runs the
 * bound {@link WritebackPolicy} one step at a time through an {@link EngineWritebackContext}; it
 * passes on trims when dirty_tail reaches their place in the log ({@link PendingTrims}),
 * sleeps while the policy is idle until a kset is persisted, and backs off (doubling up to 5 s)
 * while the backing device fails, keeping dirty data in the cache.
 */
final class WritebackLoop {

    private final OpenCache cache;
    private final EngineSignals signals;
    private final Supplier<WritebackPolicy> policy;
    private final Stats stats;
    private final String name;
    private volatile IOException lastError;
    /** The latest failed attempt's error (any kind) until an attempt succeeds, for {@link #failure()}. */
    private volatile String failure;
    /** The damage on the cache device that failed the latest attempt, until an attempt succeeds. */
    private volatile CorruptMediaException damage;
    /** What {@link #damage} was reported as, to take back once it is behind us. */
    private String damageReport;
    /** What damage that write-back cannot pass means, and what to do. */
    private static final String AFTER_DAMAGE = "nothing logged from there on is written back, so its newest data"
            + " is only in the cache: copy what reads still return off the export before stopping the cache;"
            + " pcache:fsck on the stopped cache device shows the damage";

    WritebackLoop(OpenCache cache, EngineSignals signals, Supplier<WritebackPolicy> policy) {
        this.cache = cache;
        this.signals = signals;
        this.policy = policy;
        this.stats = cache.stats();
        this.name = cache.name();
    }

    /** The error of the latest write-back attempt when it failed, or null when it succeeded. */
    String failure() {
        return failure;
    }

    /** The thread's body: runs until the cache closes. */
    void run() {
        long backoff = 100;
        EngineWritebackContext ctx = new EngineWritebackContext(cache, signals, this::worked);
        long interval = cache.config().gcIntervalMillis();
        while (!signals.closed) {
            WritebackPolicy p = policy.get();
            try {
                long seen = signals.persistedKsets.get();
                if (p == null) {
                    // nothing can be written back until a policy is bound: new ksets need not wake us
                    EngineSignals.await(signals.writebackSignal, interval);
                    continue;
                }
                ctx.sendDueTrims();
                WritebackOutcome outcome = p.step(ctx);
                if (outcome != WritebackOutcome.DEFERRED) {
                    // a group written back said so already; nothing left to write back (IDLE)
                    // leaves no failure to show. A policy that chose to wait tried nothing: the
                    // failure its last attempt met stays shown until write-back writes again
                    worked();
                }
                backoff = 100;
                if (outcome == WritebackOutcome.IDLE) {
                    idleUntilNewKsets(seen);
                } else if (outcome == WritebackOutcome.DEFERRED) {
                    EngineSignals.await(signals.writebackSignal, Math.min(100, interval));
                }
            } catch (InterruptedException e) {
                if (signals.closed) {
                    return;
                }
            } catch (IOException | RuntimeException | Error e) {
                // any Error too: a thread that ended would leave every drain waiting forever (a
                // policy bundle refreshed under it can throw a LinkageError)
                if (signals.closed) {
                    return;
                }
                failed(e instanceof InternalError fault ? mappingFault(fault)
                        : e instanceof Exception x ? x : new IllegalStateException("write-back failed: " + e, e));
                try {
                    EngineSignals.await(signals.writebackSignal, backoff);
                } catch (InterruptedException ie) {
                    if (signals.closed) {
                        return;
                    }
                }
                backoff = Math.min(backoff * 2, 5000);
            }
            EngineSignals.signal(signals.drainSignal);
        }
    }

    /**
     * The JVM reports a fault in mapped memory (the cache device's medium failing, or its file
     * truncated under the mapping) as an {@link InternalError}: damage on the cache device, which
     * must not end the write-back thread.
     */
    private CorruptMediaException mappingFault(InternalError fault) {
        return new CorruptMediaException("cache device", 0, "a fault in its memory mapping during write-back ("
                + fault.getMessage() + "): most likely its medium fails, or its file was truncated while mapped");
    }

    /**
     * An attempt succeeded: a whole step, or a group written back within one (called before
     * dirty_tail's move is signalled, so a drain that sees its ksets passed sees no stale error).
     */
    private void worked() {
        if (lastError != null) {
            CacheEngine.LOG.log(System.Logger.Level.INFO, "cache {0}: write-back works again", name);
            lastError = null;
        }
        failure = null;
        forgetDamage();
        cache.backing().setFailing(false);
    }

    /** The damage an earlier attempt met is behind us (it was a passing read error, or is passed). */
    private void forgetDamage() {
        if (damage != null) {
            damage = null;
            signals.forgetLogDamage(damageReport);
        }
    }

    /**
     * Counts and reports a failed step: damage on the cache device as key-log damage (the backing
     * device is not at fault: it is not shown failing), backing errors once until write-back works
     * again. Only the newest failure is reported.
     */
    private void failed(Exception e) {
        failure = e.getMessage() != null ? e.getMessage() : e.toString();
        if (e instanceof CorruptMediaException damage) {
            // the newest failure is the cache device's: the backing device's earlier one is behind it
            this.damage = damage;
            lastError = null;
            cache.backing().setFailing(false);
            damageReport = "cache " + name + ": write-back stopped at damage on the cache device (not the backing"
                    + " device): " + damage.getMessage() + "; " + AFTER_DAMAGE;
            signals.reportLogDamage(damageReport);
        } else if (e instanceof IOException io) {
            forgetDamage();
            if (lastError == null) {
                CacheEngine.LOG.log(System.Logger.Level.WARNING, "cache " + name + ": write-back failed, will"
                        + " retry with back-off (dirty data stays safe in the cache): " + e.getMessage());
            }
            lastError = io;
            cache.backing().setFailing(true);
        } else {
            CacheEngine.LOG.log(System.Logger.Level.ERROR, "cache " + name + ": write-back step failed", e);
        }
        // counted last: whoever sees the count go up finds the failure reported
        stats.writebackErrors.increment();
    }

    /**
     * Sleeps until a kset is persisted after {@code seen} (or the idle interval passes). The flag
     * is set under the monitor and the count re-checked, so a kset persisted just before the wait
     * is not missed.
     */
    private void idleUntilNewKsets(long seen) throws InterruptedException {
        synchronized (signals.writebackSignal) {
            signals.writebackIdle = true;
            try {
                if (signals.persistedKsets.get() == seen && !cache.trims().waitsAt(cache.meta().dirtyTail())) {
                    signals.writebackSignal.wait(Math.max(1, cache.config().gcIntervalMillis()));
                }
            } finally {
                signals.writebackIdle = false;
            }
        }
    }

    /**
     * Writes back everything dirty now (after persisting open ksets), waiting for it.
     *
     * @throws BackingDeviceException when write-back fails for longer than the backing timeout
     */
    void drain(DrainProgress progress) throws IOException {
        drain(progress, Long.MAX_VALUE);
    }

    /**
     * As {@link #drain(DrainProgress)}, giving up after {@code maxMillis}: false when something was
     * still left to write back then (a hold of the clients must not last as long as write-back may).
     */
    boolean drain(DrainProgress progress, long maxMillis) throws IOException {
        long started = System.nanoTime();
        signals.checkOpen();
        cache.keyLog().flush();
        long target = signals.persistedKsets.get();
        long initial = stats.dirtyBytes.sum();
        signals.draining.incrementAndGet();
        try {
            EngineSignals.signal(signals.writebackSignal);
            long lastPassed = signals.passedKsets.get();
            long lastProgress = System.nanoTime();
            // and the trims logged before it: they wait at or before the end of the log drained
            while (signals.passedKsets.get() < target || cache.trims().waitsAt(cache.meta().dirtyTail())) {
                signals.checkOpen();
                if (signals.drainsCancelled) {
                    throw new DeviceClosedException("cache " + name + " is closing: its drain ended before"
                            + " everything was written back; dirty data stays safe in the cache");
                }
                if (progress != null) {
                    progress.progress(Math.max(0, stats.dirtyBytes.sum()), initial);
                }
                if ((System.nanoTime() - started) / 1_000_000L >= maxMillis) {
                    return false;
                }
                awaitStep();
                long passedNow = signals.passedKsets.get();
                if (passedNow != lastPassed) {
                    lastPassed = passedNow;
                    lastProgress = System.nanoTime();
                } else {
                    checkStalled((System.nanoTime() - lastProgress) / 1_000_000L);
                }
            }
        } finally {
            signals.draining.decrementAndGet();
        }
        if (progress != null) {
            progress.progress(Math.max(0, stats.dirtyBytes.sum()), initial);
        }
        return true;
    }

    private void awaitStep() throws InterruptedIOException {
        synchronized (signals.drainSignal) {
            try {
                signals.drainSignal.wait(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("drain of cache " + name + " interrupted;"
                        + " write-back goes on in the background");
            }
        }
    }

    /** Fails a drain that made no progress for longer than the backing timeout, saying why. */
    private void checkStalled(long stalledMillis) throws IOException {
        long timeout = signals.backingTimeoutMillis;
        if (policy.get() == null) {
            if (stalledMillis > timeout) {
                throw new PcacheException("drain of cache " + name + ": no write-back policy is"
                        + " bound (writeback.target matches no WritebackPolicy service) for " + stalledMillis
                        + " ms, so nothing is written back; bind one, e.g."
                        + " (pcache.writeback.policy=ordered)");
            }
            return;
        }
        IOException err = lastError;
        if (err != null && stalledMillis > timeout) {
            throw new BackingDeviceException("drain of cache " + name + " stalled for "
                    + stalledMillis + " ms: write-back keeps failing (" + err.getMessage()
                    + "); dirty data stays safe in the cache", err);
        }
        CorruptMediaException d = damage;
        if (d != null && stalledMillis > timeout) {
            throw new CorruptMediaException(d.structure(), d.deviceOffset(), "drain of cache " + name
                    + " stalled for " + stalledMillis + " ms: write-back cannot pass damage on the cache device ("
                    + d.getMessage() + "); " + AFTER_DAMAGE);
        }
        String logDamage = signals.writebackLogDamage(); // GC's, at key_tail, does not hold write-back
        if (logDamage != null && stalledMillis > timeout) {
            throw new CorruptMediaException("kset", 0, logDamage);
        }
        String other = failure; // neither device's: a policy's or the engine's own error
        if (other != null && stalledMillis > timeout) {
            throw new PcacheException("drain of cache " + name + " stalled for " + stalledMillis
                    + " ms: write-back keeps failing (" + other + "; the log holds the details); dirty data"
                    + " stays safe in the cache");
        }
    }
}
