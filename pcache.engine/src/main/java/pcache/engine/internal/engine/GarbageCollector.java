package pcache.engine.internal.engine;

import java.io.IOException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import pcache.api.CachePos;
import pcache.api.spi.CacheKey;
import pcache.api.spi.KeySlice;
import pcache.api.spi.Kset;
import pcache.engine.internal.media.CacheMetadata;

/**
 * GC of one open cache (reference §6): the GC thread reclaims ksets from key_tail while usage is at
 * or above gc_percent (or while a writer waits for space), never passing dirty_tail; a segment
 * whose last reference goes is reclaimed by the allocator, and a background cleaner then removes
 * the keys that pointed into it from the index, a few per lock hold (§6.4). Purge empties a clean
 * cache for pass-through.
 */
final class GarbageCollector {

    private static final int CLEAN_BATCH = 10;
    /**
     * Passes of the key cleaner start at least this far apart. A pass looks at every key of the
     * index (a reclaimed segment's keys can be anywhere in it), so under a heavy write load, with
     * segments reclaimed many times a second, passes 10 ms apart kept a core busy (JFR: the
     * scheduler thread in removeInvalid with two thirds of the samples of the connection reader
     * that served the writes). Keys of a reclaimed segment are invalid at once for reads and
     * walks, which skip and drop them; waiting only delays giving their memory back.
     */
    static final long CLEAN_INTERVAL_MILLIS = 500;

    private final OpenCache cache;
    private final EngineSignals signals;
    private final ScheduledExecutorService scheduler;
    private final Object passLock = new Object();
    private final AtomicBoolean cleanerScheduled = new AtomicBoolean();
    /** {@link System#nanoTime()} when the last cleaner pass started. */
    private volatile long lastCleanNanos = System.nanoTime() - CLEAN_INTERVAL_MILLIS * 1_000_000L;
    private volatile int gcPercent;
    /** The error of the latest pass when it failed, or null. */
    private volatile String lastError;
    /**
     * The keys of the kset key_tail last passed whose references are not all given back yet (a
     * failed pass), and how many are: the retry gives back the rest first, never one twice, since
     * each would take a reference that belongs to a key logged later and could have a segment
     * holding dirty data reclaimed. Null when none are owed. Only touched under {@link #passLock}.
     */
    private java.util.List<CacheKey> keysOwed;
    private int keysPut;
    /**
     * The key segment a failed pass was releasing after key_tail left it (-1: none): the retry
     * finishes storing key_tail and releases it, or the segment would stay taken until a restart.
     */
    private int releasing = -1;
    /** A run of failed passes is logged at most this often (its first with the stack trace). */
    static final long FAILURE_LOG_MILLIS = 10_000;
    /** Whether the latest pass failed; only the GC thread touches this and the next two. */
    private boolean failing;
    /** Failed passes since the last one logged. */
    private long unreportedFailures;
    private long lastFailureLogNanos;

    GarbageCollector(OpenCache cache, EngineSignals signals, ScheduledExecutorService scheduler) {
        this.cache = cache;
        this.signals = signals;
        this.scheduler = scheduler;
        this.gcPercent = cache.config().gcPercent();
    }

    int gcPercent() {
        return gcPercent;
    }

    /** The error of the latest GC pass when it failed, or null when it succeeded. */
    String lastError() {
        return lastError;
    }

    /** Applies a new threshold (already persisted by the caller) and lets GC look again. */
    void gcPercent(int percent) {
        gcPercent = percent;
        signals.wakeGc();
    }

    /** The thread's body: runs until the cache closes. */
    void run() {
        long interval = cache.config().gcIntervalMillis();
        while (!signals.closed) {
            long wakeups = signals.gcWakeups(); // before the pass: a wake-up during it is not lost
            try {
                pass(false);
                lastError = null;
                if (failing) {
                    failing = false;
                    long unreported = unreportedFailures;
                    CacheEngine.LOG.log(System.Logger.Level.INFO, "cache " + cache.name() + ": GC works again"
                            + (unreported > 0 ? " (" + unreported + " more failed pass(es) since the last report)" : ""));
                }
                signals.awaitGc(wakeups, interval);
            } catch (InterruptedException e) {
                if (signals.closed) {
                    return;
                }
            } catch (IOException | RuntimeException | Error e) {
                // an Error too (the JVM's InternalError for a fault in mapped memory): a GC thread
                // that ended would leave the cache full and every writer waiting for space
                if (signals.closed) {
                    return;
                }
                // the error first: whoever sees the count go up must find it (a health check, a test)
                lastError = e instanceof InternalError ? "a fault in the cache device's memory mapping (" + e.getMessage()
                        + "): most likely its medium fails, or its file was truncated while mapped"
                        : e.getMessage() != null ? e.getMessage() : e.toString();
                cache.stats().gcErrors.increment();
                logFailure(e);
                try {
                    // until woken (a writer waiting for space wakes GC every second) or the interval
                    // passes; a retry that fails again is counted, its log line held back (logFailure)
                    EngineSignals.await(signals.gcSignal, interval);
                } catch (InterruptedException ie) {
                    if (signals.closed) {
                        return;
                    }
                }
            }
        }
    }

    /**
     * Logs a failed pass: the first of a run of failures with its stack trace, then at most one
     * line every {@link #FAILURE_LOG_MILLIS} with how many failed since (every failure is counted
     * in gc_errors).
     */
    private void logFailure(Throwable e) {
        long now = System.nanoTime();
        if (!failing) {
            CacheEngine.LOG.log(System.Logger.Level.ERROR, "cache " + cache.name() + ": GC failed; retrying (further"
                    + " failures are counted in gc_errors and logged at most every " + FAILURE_LOG_MILLIS / 1000
                    + " s)", e);
            failing = true;
        } else if (now - lastFailureLogNanos >= FAILURE_LOG_MILLIS * 1_000_000L) {
            CacheEngine.LOG.log(System.Logger.Level.ERROR, "cache " + cache.name() + ": GC still fails ("
                    + (unreportedFailures + 1) + " failed pass(es) since the last report): " + lastError);
        } else {
            unreportedFailures++;
            return;
        }
        lastFailureLogNanos = now;
        unreportedFailures = 0;
    }

    /**
     * Reclaims ksets from key_tail while usage is at or above gc_percent (or unconditionally when
     * {@code all}), never passing dirty_tail.
     */
    private void pass(boolean all) throws IOException {
        synchronized (passLock) {
            while (!signals.closed || all) {
                if (!reclaimOne(all)) {
                    return;
                }
            }
        }
    }

    /** Reclaims the kset at key_tail; false when there is nothing (more) to do now. */
    private boolean reclaimOne(boolean all) throws IOException {
        CacheMetadata meta = cache.meta();
        CachePos keyTail = meta.keyTail();
        CachePos dirtyTail = meta.dirtyTail();
        // first, also when key_tail has reached dirty_tail: the kset they belong to was passed
        if (keysOwed != null) {
            giveBackOwed();
            return true;
        }
        if (releasing >= 0) {
            if (keyTail.segment() == releasing) {
                releasing = -1; // key_tail was not moved: the pass below starts over
            } else {
                meta.storeKeyTail(keyTail); // both slots
                int segment = releasing;
                releasing = -1; // before the release, which frees it at once: never twice (see below)
                cache.segments().release(segment);
                return true;
            }
        }
        if (keyTail.equals(dirtyTail)) {
            return false;
        }
        if (!all && signals.spaceWaiters.get() == 0
                && (long) cache.segments().usedCount() * 100 < (long) cache.segments().segmentCount() * gcPercent) {
            return false;
        }
        Kset k = cache.keyLog().read(keyTail);
        if (k == null) {
            signals.reportGcLogDamage("cache " + cache.name() + ": the kset at key_tail " + keyTail
                    + " is unreadable; GC cannot pass it");
            return false;
        }
        signals.forgetGcLogDamage();
        if (k.last()) {
            if (dirtyTail.segment() == keyTail.segment()) {
                return false;
            }
            releasing = keyTail.segment();
            // into both slots before the release: a damaged newest copy must never make replay
            // start in a segment that has since been reused for other data
            meta.storeKeyTail(k.next());
            // stored: what is left is the release, which frees the segment before it tells anyone
            // (the allocator's listener). Were a failure there retried, the segment, by then
            // perhaps taken again by the key log or a data head, would be freed a second time and
            // handed out twice
            releasing = -1;
            cache.segments().release(keyTail.segment());
        } else {
            // key_tail passes the kset before its keys give their segments back: a segment whose
            // last reference goes gets a new generation, so its keys in this kset turn stale, while
            // the kset's keys into segments still in use stay valid. Were key_tail stored after,
            // a crash in between would replay the kset with only those, and an older version of a
            // range (its key valid) would come back over a newer one written back since (its key
            // stale); a key-log segment that took the reclaimed segment would be counted as data.
            // Stored first (both slots: the older copy must not point at the kset either),
            // replay starts after the kset and counts references without it.
            meta.storeKeyTail(k.next());
            keysOwed = k.keys();
            keysPut = 0;
            cache.stats().gcKsets.increment();
            giveBackOwed();
        }
        return true;
    }

    /**
     * Gives back the references of {@link #keysOwed} not given back yet. A key holds one while
     * its generation is its segment's: a segment with references is never reclaimed, so a key
     * that took one still matches when GC passes it, and a key stale at replay took none (its
     * segment may hold the key log by now, see Replay).
     */
    private void giveBackOwed() throws IOException {
        java.util.List<CacheKey> keys = keysOwed;
        for (; keysPut < keys.size(); keysPut++) {
            CacheKey key = keys.get(keysPut);
            if (key.generation() == cache.segments().generation(key.segment())) {
                cache.segments().put(key.segment());
            }
        }
        keysOwed = null;
    }

    /** Told by the allocator when a segment was reclaimed: wakes writers, schedules the cleaner. */
    void segmentReclaimed() {
        cache.stats().gcSegmentsReclaimed.increment();
        signals.segmentReclaimed();
        scheduleCleaner();
    }

    /** Removes invalid keys in the background, a few per lock hold (reference §6.4). */
    private void scheduleCleaner() {
        if (signals.closed || !cleanerScheduled.compareAndSet(false, true)) {
            return;
        }
        long sinceLast = (System.nanoTime() - lastCleanNanos) / 1_000_000L;
        long delay = Math.max(10, CLEAN_INTERVAL_MILLIS - sinceLast);
        try {
            scheduler.schedule(this::cleanInvalidKeys, delay, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            cleanerScheduled.set(false);
        }
    }

    private void cleanInvalidKeys() {
        cleanerScheduled.set(false);
        lastCleanNanos = System.nanoTime();
        for (int i = 0; i < cache.index().sliceCount() && !signals.closed; i++) {
            KeySlice s = cache.index().existingSlice(i);
            if (s == null) {
                continue;
            }
            int removed;
            do {
                s.lock();
                try {
                    removed = s.removeInvalid(cache.validity(), CLEAN_BATCH);
                } finally {
                    s.unlock();
                }
            } while (removed == CLEAN_BATCH && !signals.closed);
        }
    }

    /**
     * Empties the cache: everything must already be written back (drain first, with requests
     * quiesced). Drops every key and releases every segment, as entering pass-through requires.
     */
    void purge() throws IOException {
        signals.checkOpen();
        cache.keyLog().flush();
        if (!cache.meta().dirtyTail().equals(cache.keyLog().persistedHead())) {
            throw new IllegalStateException("cache " + cache.name() + " is not clean: dirty_tail "
                    + cache.meta().dirtyTail() + ", key_head " + cache.keyLog().head());
        }
        signals.purging = true;
        try {
            cache.heads().retireAll();
            pass(true);
            lastError = null; // a pass succeeded: an earlier failure no longer needs attention
            cache.index().clear();
        } finally {
            signals.purging = false;
        }
    }
}
