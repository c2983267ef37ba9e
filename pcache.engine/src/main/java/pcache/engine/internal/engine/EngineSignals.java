package pcache.engine.internal.engine;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import pcache.api.DeviceClosedException;

/**
 * How the threads of one open cache tell each other what happened: request threads, the
 * write-back thread, the GC thread, the kset flush timer and callers of drain and close share
 * one instance. It holds no cache structure, only monitors, counters and flags.
 *
 * <p>Every monitor is notified with {@link #signal} and waited on with {@link #await} (or, where a
 * condition must be re-checked under the monitor, by the owner directly); waits are bounded, so a
 * lost notification costs at most one interval, never a hang.
 */
final class EngineSignals {

    private final String cacheName;

    /** Writers waiting for free cache space wait here; a reclaimed segment wakes them. */
    final Object spaceLock = new Object();
    /** Wakes the write-back thread: new ksets, a drain, a waiting writer. */
    final Object writebackSignal = new Object();
    /**
     * Wakes the GC thread: dirty_tail moved, gc_percent changed, a waiting writer
     * ({@link #wakeGc}); GC waits on it through {@link #awaitGc}.
     */
    final Object gcSignal = new Object();
    /**
     * Calls to {@link #wakeGc} since the open; guarded by {@link #gcSignal}. GC waits only while
     * it has seen them all, so a wake-up that comes during a pass (after it looked, before it
     * waits) makes it look again at once instead of after gc_interval_ms.
     */
    private long gcWakeups;
    /** Wakes drain callers after each write-back step. */
    final Object drainSignal = new Object();

    /**
     * How long requests and write-back wait for a backing device, in milliseconds: the
     * configuration's at the open, changed at run time by {@link CacheEngine#setBackingTimeoutMillis}.
     */
    volatile long backingTimeoutMillis;

    /** Counts segment reclaims, so that a writer can tell whether one happened while it looked. */
    final AtomicLong reclaimEpoch = new AtomicLong();
    /** Ksets persisted since the open (including the dirty ones found by replay). */
    final AtomicLong persistedKsets = new AtomicLong();
    /** Ksets write-back has passed (dirty_tail moved over them) since the open. */
    final AtomicLong passedKsets = new AtomicLong();
    /** Requests waiting for cache space (deferred): GC then ignores gc_percent. */
    final AtomicInteger spaceWaiters = new AtomicInteger();
    /** Drains in progress: write-back policies then write back everything they can. */
    final AtomicInteger draining = new AtomicInteger();
    /**
     * Backing flushes that failed outside write-back (a client's flush or FUA write in write-through
     * mode). Such a flush may have taken the one report of writes the backing device lost,
     * write-back's among them, so write-back's next flush does not count as proof
     * ({@link EngineWritebackContext#flushBacking}).
     */
    final OtherFlushes otherFlushes = new OtherFlushes();

    /**
     * Backing flushes outside write-back, counted as they begin and end. Write-back's flush that
     * succeeds while one of them runs cannot tell whether that one will fail (and take the report
     * of writes the device lost): it waits for the ones begun before it ended, then looks.
     */
    static final class OtherFlushes {
        private long begun;
        private long failures;
        private final java.util.TreeSet<Long> running = new java.util.TreeSet<>();

        synchronized long begin() {
            running.add(++begun);
            return begun;
        }

        synchronized void end(long ticket, boolean failed) {
            running.remove(ticket);
            if (failed) {
                failures++;
            }
            notifyAll();
        }

        /**
         * The failures counted once every flush begun before now has ended; waits at most
         * {@code timeoutMillis} for them, and returns -1 when some still run then (a flush stuck
         * that long may yet fail).
         */
        synchronized long failuresOnceEnded(long timeoutMillis) throws java.io.InterruptedIOException {
            long through = begun;
            long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
            while (!running.isEmpty() && running.first() <= through) {
                long left = (deadline - System.nanoTime()) / 1_000_000L;
                if (left <= 0) {
                    return -1;
                }
                try {
                    wait(left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new java.io.InterruptedIOException("interrupted while waiting for other flushes of the backing device");
                }
            }
            return failures;
        }

        /** The failures counted so far. */
        synchronized long failures() {
            return failures;
        }
    }

    volatile boolean closed;
    /** Set when the cache is about to close: drains in progress end at once ({@link CacheEngine#cancelDrains}). */
    volatile boolean drainsCancelled;
    /** A purge is emptying the cache: write-back counts as draining. */
    volatile boolean purging;
    /** The write-back thread sleeps for lack of work (set and cleared under writebackSignal). */
    volatile boolean writebackIdle;
    /** A description of damage write-back found in the key log (at or after dirty_tail), or null. */
    private volatile String logDamage;
    /**
     * A description of damage GC found at key_tail, or null. Apart from write-back's: write-back
     * passing ksets ahead of it says nothing of it (before, each step of write-back cleared it,
     * and GC logged it again at once, so health flapped and the log filled with the same ERROR).
     */
    private volatile String gcLogDamage;

    EngineSignals(String cacheName) {
        this.cacheName = cacheName;
    }

    /** A kset became durable: wakes write-back when it sleeps for lack of work. */
    void ksetPersisted() {
        persistedKsets.incrementAndGet();
        // one wake-up per idle period, not one per kset (a context switch on every FUA write)
        if (writebackIdle) {
            signal(writebackSignal);
        }
    }

    /** A segment was reclaimed: wakes the writers waiting for space. */
    void segmentReclaimed() {
        reclaimEpoch.incrementAndGet();
        signal(spaceLock);
    }

    /** Write-back passed {@code ksets} ksets: the damage it reported, if any, is behind it. */
    void ksetsPassed(int ksets) {
        logDamage = null; // before the count: a drain that sees its ksets passed sees no stale damage
        passedKsets.addAndGet(ksets);
        wakeGc();
    }

    /** Asks GC to look again (dirty_tail moved, gc_percent changed, a writer waits for space). */
    void wakeGc() {
        synchronized (gcSignal) {
            gcWakeups++;
            gcSignal.notifyAll();
        }
    }

    /** The wake-ups GC has been asked for so far: read before a pass, given to {@link #awaitGc} after it. */
    long gcWakeups() {
        synchronized (gcSignal) {
            return gcWakeups;
        }
    }

    /** GC's wait: up to {@code millis}, and not at all when a wake-up came since {@code seen} was read. */
    void awaitGc(long seen, long millis) throws InterruptedException {
        synchronized (gcSignal) {
            if (gcWakeups == seen) {
                gcSignal.wait(Math.max(1, millis));
            }
        }
    }

    /** The damage in the key log write-back or GC reported, or null (both, when both did). */
    String logDamage() {
        String w = logDamage;
        String g = gcLogDamage;
        return w == null ? g : g == null ? w : w + "; " + g;
    }

    /** The damage write-back reported, or null. */
    String writebackLogDamage() {
        return logDamage;
    }

    /** Records the damage GC found at key_tail, logging each distinct description once. */
    synchronized void reportGcLogDamage(String damage) {
        if (!damage.equals(gcLogDamage)) {
            gcLogDamage = damage;
            CacheEngine.LOG.log(System.Logger.Level.ERROR, damage);
        }
    }

    /** GC read the kset at key_tail (or has nothing to read): what it reported is behind it. */
    synchronized void forgetGcLogDamage() {
        if (gcLogDamage != null) {
            gcLogDamage = null;
            CacheEngine.LOG.log(System.Logger.Level.INFO, "cache {0}: GC reads the kset at key_tail again", cacheName);
        }
    }

    /** Forgets {@code damage} if it is the damage reported now (another may have replaced it). */
    synchronized void forgetLogDamage(String damage) {
        if (damage != null && damage.equals(logDamage)) {
            logDamage = null;
        }
    }

    /** Records damage in the key log, logging each distinct description once. */
    synchronized void reportLogDamage(String damage) {
        if (!damage.equals(logDamage)) {
            logDamage = damage;
            CacheEngine.LOG.log(System.Logger.Level.ERROR, damage);
        }
    }

    boolean writebackRequested() {
        return draining.get() > 0 || purging;
    }

    void checkOpen() throws DeviceClosedException {
        if (closed) {
            throw new DeviceClosedException("cache " + cacheName + " is closed");
        }
    }

    /** Marks the cache closed and wakes the writers waiting for space, so that they see it. */
    void close() {
        closed = true;
        signal(spaceLock);
    }

    static void signal(Object monitor) {
        synchronized (monitor) {
            monitor.notifyAll();
        }
    }

    static void await(Object monitor, long millis) throws InterruptedException {
        synchronized (monitor) {
            monitor.wait(Math.max(1, millis));
        }
    }
}
