package pcache.engine.internal;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

import pcache.api.BackingDeviceException;
import pcache.api.BackingState;
import pcache.api.spi.BackingDevice;

/**
 * The writes clients sent straight to backing devices in pass-through mode without FUA, per
 * device, and how many of them a flush of that device covered. A client's flush must cover every
 * write acknowledged before it, on whichever device it went to: a device swapped out (or removed)
 * with such writes is flushed as it goes, and a client flush also flushes any device other than the
 * one it reached that still holds some. Where that fails, the writes may be lost, and the next
 * client flush, in whatever mode, says so once ({@link #takeReport}).
 *
 * <p>Write-through writes are not counted: the cache holds them too, and write-back writes them
 * to the device bound. The counts change under one lock, twice per pass-through write (a path
 * that waits for the backing device anyway); flushes run outside it. Flushes of a device no
 * longer reached run one at a time (so that one that takes the device's one report of lost writes
 * is not overtaken by one that finds nothing to report, and the loss is reported); flushes of the
 * device bound run as clients send them, each getting its own answer.
 */
final class PassthroughWrites {

    /** A write on one device. */
    @FunctionalInterface
    interface DeviceOp {
        void run(BackingDevice device) throws IOException;
    }

    /** One device's counts, guarded by the {@link PassthroughWrites} lock; its monitor orders its flushes. */
    private static final class OnDevice {
        final BackingDevice device;
        int inFlight;
        /** Writes that succeeded (acknowledged to clients). */
        long done;
        /** How many of {@link #done} a flush had seen before it began: covered, or reported lost. */
        long covered;
        /** No longer bound (its departure ran). */
        boolean gone;

        OnDevice(BackingDevice device) {
            this.device = device;
        }

        boolean uncovered() {
            return done > covered;
        }
    }

    private final String cacheName;
    private final List<OnDevice> devices = new ArrayList<>();
    /** Reports of writes that may be lost, for the next client flush. */
    private final List<String> reports = new ArrayList<>();
    private volatile boolean reportsPending;

    PassthroughWrites(String cacheName) {
        this.cacheName = cacheName;
    }

    private OnDevice find(BackingDevice device) {
        for (OnDevice d : devices) {
            if (d.device == device) {
                return d;
            }
        }
        return null;
    }

    /** Forgets {@code d} once nothing is left to do for it. Caller holds the lock. */
    private void forgetIfDone(OnDevice d) {
        if (d.gone && d.inFlight == 0 && !d.uncovered()) {
            devices.remove(d);
        }
    }

    /** Runs a client's write (no FUA) on {@code device}, counted once it succeeded. */
    void write(BackingDevice device, DeviceOp write) throws IOException {
        OnDevice d;
        synchronized (this) {
            d = find(device);
            if (d == null) {
                d = new OnDevice(device);
                // a write that took the device before it went and arrives after its departure:
                // tracked as gone, so a later flush covers it or reports it
                devices.add(d);
            }
            d.inFlight++;
        }
        boolean ok = false;
        try {
            write.run(device);
            ok = true;
        } finally {
            synchronized (this) {
                d.inFlight--;
                if (ok) {
                    d.done++;
                }
                if (d.gone && d.inFlight == 0) {
                    notifyAll(); // its departure waits for this
                }
                forgetIfDone(d);
            }
        }
    }

    /** Flushes {@code device} (the one a flush reached), covering the writes that succeeded on it before. */
    void flush(BackingDevice device) throws IOException {
        OnDevice d;
        long seen;
        synchronized (this) {
            d = find(device);
            seen = d == null ? 0 : d.done;
        }
        device.flush(); // not ordered with other flushes of the device bound: each gets its own report
        if (d != null) {
            synchronized (this) {
                d.covered = Math.max(d.covered, seen);
                forgetIfDone(d);
            }
        }
    }

    /**
     * Flushes every device but {@code reached} (the one a flush reached) that holds writes no
     * flush covered: devices swapped out, or about to be let go. One that fails is reported
     * ({@link #takeReport}).
     */
    void flushOthers(BackingDevice reached) {
        List<OnDevice> others = new ArrayList<>();
        synchronized (this) {
            for (java.util.Iterator<OnDevice> i = devices.iterator(); i.hasNext();) {
                OnDevice d = i.next();
                if (d.device == reached) {
                    continue;
                }
                if (d.uncovered()) {
                    others.add(d);
                } else if (d.inFlight == 0) {
                    // nothing left to cover on a device this flush did not reach: one gone, or
                    // counted again by a write that took it just before it went and then failed
                    i.remove();
                }
            }
        }
        for (OnDevice d : others) {
            flushCovering(d, null);
        }
    }

    /**
     * Flushes {@code d} if writes on it are uncovered; reports them lost when that fails or when
     * {@code notFlushed} says why it cannot be tried.
     *
     * @return the report made, or null
     */
    private String flushCovering(OnDevice d, String notFlushed) {
        synchronized (d) {
            long seen;
            synchronized (this) {
                if (!d.uncovered()) {
                    forgetIfDone(d);
                    return null; // nothing uncovered, or covered meanwhile by another flush of it
                }
                seen = d.done;
            }
            String why = notFlushed;
            if (why == null) {
                try {
                    d.device.flush();
                } catch (IOException | RuntimeException e) {
                    // its one report of lost writes is taken: reported, not retried
                    why = "its flush failed: " + e.getMessage();
                }
            }
            synchronized (this) {
                d.covered = Math.max(d.covered, seen); // covered, or reported below
                forgetIfDone(d);
                if (why == null) {
                    return null;
                }
                String report = "cache " + cacheName + ": backing device " + d.device.description() + " (no longer"
                        + " the one bound) took pass-through writes that no flush covered, and " + why + ": they may be"
                        + " lost. Check the data written since the last flush that succeeded";
                reports.add(report);
                reportsPending = true;
                return report;
            }
        }
    }

    /**
     * {@code device} went away (no longer bound): waits for the writes on their way to it (up
     * to {@code waitMillis}, while it is online), then flushes it if some that succeeded are not
     * covered.
     *
     * @return null when nothing was left uncovered; otherwise the report of what may be lost,
     *         which the next client flush gets
     */
    String departs(BackingDevice device, long waitMillis) {
        OnDevice d;
        synchronized (this) {
            d = find(device);
            if (d == null) {
                return null;
            }
            d.gone = true;
        }
        BackingState state = device.state();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMillis);
        String notFlushed = state == BackingState.ONLINE ? null
                : "it was " + state.name().toLowerCase(Locale.ROOT) + ", so it was not flushed";
        synchronized (this) {
            try {
                // writes still on their way after the wait are not acknowledged yet: if they
                // succeed, a later client flush covers them or reports them (flushOthers)
                while (notFlushed == null && d.inFlight > 0) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        break;
                    }
                    TimeUnit.NANOSECONDS.timedWait(this, left);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                notFlushed = "the wait for the writes on their way to it was interrupted, so it was not flushed";
            }
            if (!d.uncovered()) {
                forgetIfDone(d);
                return null;
            }
        }
        return flushCovering(d, notFlushed);
    }

    /**
     * The reports of writes that may be lost that no client flush has had yet, taken: a client's
     * flush fails with them once.
     */
    BackingDeviceException takeReport() {
        if (!reportsPending) {
            return null;
        }
        synchronized (this) {
            if (reports.isEmpty()) {
                return null;
            }
            String all = String.join("; ", reports);
            reports.clear();
            reportsPending = false;
            return new BackingDeviceException(all);
        }
    }
}
