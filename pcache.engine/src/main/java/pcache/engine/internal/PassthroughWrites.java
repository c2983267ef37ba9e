package pcache.engine.internal;

import java.io.IOException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import pcache.api.BackingDeviceException;
import pcache.api.BackingState;
import pcache.api.spi.BackingDevice;

/**
 * The writes clients sent straight to backing devices in pass-through mode without FUA, per
 * device, and how many of them a flush of that device covered. A client's flush must cover every
 * write acknowledged before it, on whichever device it went to: a device swapped out (or removed)
 * with such writes is flushed as it goes, and a client flush also flushes any device other than the
 * bound one that still holds some. Where that fails, the writes may be lost, and the next client
 * flush says so, once.
 *
 * <p>Write-through writes are not counted: the cache holds them too, and write-back writes them
 * to the device bound. Cost on the pass-through path: a scan of a list of one or two devices and
 * three atomic counters per write.
 */
final class PassthroughWrites {

    /** A write or a flush on one device. */
    @FunctionalInterface
    interface DeviceOp {
        void run(BackingDevice device) throws IOException;
    }

    /** One device's count. */
    private static final class OnDevice {
        final BackingDevice device;
        final AtomicInteger inFlight = new AtomicInteger();
        /** Writes that succeeded (acknowledged to clients). */
        final AtomicLong done = new AtomicLong();
        /** How many of {@link #done} a flush that succeeded had seen before it began. */
        final AtomicLong covered = new AtomicLong();
        /** Why its uncovered writes may be lost (its flush failed as it went away), or null. */
        volatile String lost;
        volatile boolean gone;

        OnDevice(BackingDevice device) {
            this.device = device;
        }

        boolean uncovered() {
            return done.get() > covered.get();
        }
    }

    private final String cacheName;
    private final CopyOnWriteArrayList<OnDevice> devices = new CopyOnWriteArrayList<>();

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

    private OnDevice on(BackingDevice device) {
        OnDevice d = find(device);
        if (d != null) {
            return d;
        }
        synchronized (devices) {
            d = find(device);
            if (d == null) {
                d = new OnDevice(device);
                devices.add(d);
            }
            return d;
        }
    }

    /** Runs a client's write (no FUA) on {@code device}, counted. */
    void write(BackingDevice device, DeviceOp write) throws IOException {
        OnDevice d = on(device);
        d.inFlight.incrementAndGet();
        try {
            write.run(device);
            d.done.incrementAndGet();
        } finally {
            d.inFlight.decrementAndGet();
        }
    }

    /** Flushes {@code device}, covering the writes that succeeded on it before. */
    void flush(BackingDevice device) throws IOException {
        OnDevice d = find(device);
        long seen = d == null ? 0 : d.done.get();
        device.flush();
        if (d != null) {
            d.covered.accumulateAndGet(seen, Math::max);
        }
    }

    /**
     * Flushes every device but {@code reached} (the one the flush reached) that holds writes no
     * flush covered: devices swapped out, or not yet let go.
     *
     * @param report whether a failure is the caller's to report (a client's flush), so the device
     *        is forgotten once it has been; otherwise the next client flush reports it
     * @throws BackingDeviceException naming a device whose writes may be lost
     */
    void flushOthers(BackingDevice reached, boolean report) throws BackingDeviceException {
        for (OnDevice d : devices) {
            if (d.device == reached) {
                continue;
            }
            if (!d.uncovered()) {
                if (d.gone && d.inFlight.get() == 0 && d.lost == null) {
                    devices.remove(d);
                }
                continue;
            }
            String why = d.lost;
            if (why == null) {
                long seen = d.done.get();
                try {
                    d.device.flush();
                    d.covered.accumulateAndGet(seen, Math::max);
                    continue;
                } catch (IOException | RuntimeException e) {
                    // its one report of lost writes is taken: remembered, not retried
                    why = "its flush failed: " + e.getMessage();
                    d.lost = why;
                }
            }
            if (report) {
                devices.remove(d);
            }
            throw new BackingDeviceException(lostMessage(d.device, why));
        }
    }

    /**
     * {@code device} went away (no longer bound): waits for the writes on their way to it (up
     * to {@code waitMillis}, unless it is not online), then flushes it if some that succeeded are
     * not covered.
     *
     * @return null when nothing was left uncovered; otherwise why its writes may be lost, which the
     *         next client flush reports
     */
    String departs(BackingDevice device, long waitMillis) {
        OnDevice d = find(device);
        if (d == null) {
            return null;
        }
        d.gone = true;
        boolean online = device.state() == BackingState.ONLINE;
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMillis);
        while (online && d.inFlight.get() > 0 && System.nanoTime() < deadline) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
        if (d.inFlight.get() == 0 && !d.uncovered()) {
            devices.remove(d);
            return null;
        }
        String why;
        if (!online) {
            why = "it is " + device.state().name().toLowerCase(java.util.Locale.ROOT) + ", so it was not flushed";
        } else if (d.inFlight.get() > 0) {
            why = d.inFlight.get() + " write(s) were still on their way to it after " + waitMillis + " ms";
        } else {
            long seen = d.done.get();
            try {
                device.flush();
                d.covered.accumulateAndGet(seen, Math::max);
                if (d.inFlight.get() == 0 && !d.uncovered()) {
                    devices.remove(d);
                }
                return null;
            } catch (IOException | RuntimeException e) {
                why = "its flush failed: " + e.getMessage();
            }
        }
        d.lost = why;
        return lostMessage(device, why);
    }

    private String lostMessage(BackingDevice device, String why) {
        return "cache " + cacheName + ": backing device " + device.description() + " (no longer the one bound) took"
                + " pass-through writes that no flush covered, and " + why + ": they may be lost. Check the data"
                + " written since the last flush that succeeded";
    }
}
