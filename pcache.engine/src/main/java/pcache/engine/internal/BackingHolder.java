package pcache.engine.internal;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import pcache.api.BackingState;
import pcache.api.BackingUnavailableException;
import pcache.api.DeviceClosedException;
import pcache.api.spi.BackingDevice;

/**
 * The backing device a cache currently uses, swappable at run time. Requests that need it wait
 * (bounded) while none is bound, so a swap that completes in time is invisible to clients.
 */
public final class BackingHolder {

    private volatile String cacheName;
    /** Written under the monitor; read without it by {@link #requestFailed} and {@link #requestWorked}. */
    private volatile BackingDevice current;
    /** The device offered last ({@link #set}), bound or refused; null after it went away. */
    private BackingDevice offered;
    /** What a device must pass to be bound: the open cache's identity check; none before one opens. */
    private Check check;
    private boolean closed;
    /** {@link #stopOpens()} was called. */
    private boolean opensStopped;
    /** Write-back's last attempt on the bound device failed ({@link #setFailing}). */
    private volatile boolean failing;
    /**
     * How long a client request's failure shows the device bound failing when no request works on
     * it after: write-back's success does not end it (an idle step does no I/O), and a cache that
     * serves everything from memory sends no request that could.
     */
    static final long REQUEST_FAILURE_SHOWN_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
    private final long requestFailureShownNanos;
    /** {@link System#nanoTime()} (never 0) of the last client request that failed on the bound device; 0: none since one worked. */
    private volatile long requestFailedAt;
    /**
     * Why no backing device the cache selects will be bound (every configured one failed to open),
     * or null; asked without the monitor (it reads Declarative Services' runtime) by an open that
     * waits and by {@link #describe()} while none is bound.
     */
    private volatile Supplier<String> failedDevices = () -> null;
    /** How often an open that waits for a device asks {@link #failedDevices}. */
    static final long FAILED_DEVICES_ASKED_NANOS = TimeUnit.MILLISECONDS.toNanos(200);

    /**
     * No device was bound in time ({@link #acquire}): nothing reached a device. Told apart from a
     * device's own {@link BackingUnavailableException} (an NBD request given up on, which may have
     * reached the server).
     */
    public static class NoneBound extends BackingUnavailableException {
        private static final long serialVersionUID = 1L;

        NoneBound(String message) {
            super(message);
        }
    }

    /**
     * An open stopped waiting: every configured backing device the cache selects failed to open
     * ({@link #failedDevices}), so none is coming until one of them is mended. A {@link NoneBound}:
     * the next device bound opens the cache again.
     */
    public static final class DevicesFailed extends NoneBound {
        private static final long serialVersionUID = 1L;
        private final String failed;

        DevicesFailed(String cacheName, String failed) {
            super(devicesFailed(cacheName, failed));
            this.failed = failed;
        }

        /** Which devices failed and why, as {@link #failedDevicesFrom}'s supplier said it. */
        public String failed() {
            return failed;
        }
    }

    /** One operation on a bound device ({@link #run}). */
    @FunctionalInterface
    public interface Op {
        void run(BackingDevice device) throws IOException;
    }

    /**
     * Runs {@code op} on the bound device, waiting up to {@code timeoutMillis} for one. An
     * operation cut off by a swap (the device closed under it) runs again on the device bound
     * next; one cut off with no other device bound, or after the time, fails, named as the
     * {@code what} of cache {@code cacheName}. A failure of the device's own is counted
     * ({@code countError}) and shown in {@link #state} until a request works on it again; the
     * caller's interrupt is neither.
     */
    public void run(String cacheName, long timeoutMillis, Runnable countError, String what, Op op)
            throws IOException {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        while (true) {
            BackingDevice dev = acquire(Math.max(1, (deadline - System.nanoTime()) / 1_000_000L));
            try {
                op.run(dev);
                requestWorked(dev);
                return;
            } catch (DeviceClosedException e) {
                if (peek() == dev || System.nanoTime() > deadline) {
                    countError.run();
                    throw new pcache.api.BackingDeviceException("cache " + cacheName + ": backing device "
                            + dev.description() + " closed during a " + what + ": " + e.getMessage(), e);
                }
            } catch (InterruptedIOException e) {
                throw e; // the caller's interrupt (a server shutting down), not the device's failure
            } catch (IOException e) {
                countError.run();
                requestFailed(dev);
                throw e;
            }
        }
    }

    /** Checks that a device may back the cache (the disk it belongs to, its size); throws why not. */
    @FunctionalInterface
    public interface Check {
        void check(BackingDevice device) throws IOException;
    }

    /** Told of every change of the device bound ({@link #onChange}). */
    private volatile Runnable changed = () -> { };

    public BackingHolder(String cacheName) {
        this(cacheName, REQUEST_FAILURE_SHOWN_NANOS);
    }

    /** A holder whose request failures show for {@code requestFailureShownNanos} (tests). */
    BackingHolder(String cacheName, long requestFailureShownNanos) {
        this.cacheName = cacheName;
        this.requestFailureShownNanos = requestFailureShownNanos;
    }

    /**
     * Runs {@code listener} whenever {@link #set} binds another device or {@link #remove} removes
     * the one bound, under this holder's lock: a caller that acquired the new device did so after
     * it ran. The last one installed counts (an engine opened again installs its own). A device
     * {@link #checkWith} unbinds or binds again (at an open) does not run it.
     */
    public void onChange(Runnable listener) {
        changed = java.util.Objects.requireNonNull(listener, "listener");
    }

    /** Names the cache in messages (set once its configuration is known). */
    public void rename(String name) {
        this.cacheName = name;
    }

    /**
     * Binds {@code device} (null to unbind) and wakes waiting requests, if it passes the check
     * installed ({@link #checkWith}); a device that fails it is not bound, and the device bound
     * before stays.
     *
     * @return why the device was refused, or null when it is bound
     */
    public synchronized String set(BackingDevice device) {
        offered = device;
        if (device != null && check != null) {
            try {
                check.check(device);
            } catch (IOException | RuntimeException e) {
                return String.valueOf(e.getMessage());
            }
        }
        if (current != device) {
            changed.run();
        }
        current = device;
        failing = false;
        requestFailedAt = 0;
        notifyAll();
        return null;
    }

    /** {@code device} went away: unbinds it if it is bound, and forgets it as offered. */
    public synchronized void remove(BackingDevice device) {
        if (offered == device) {
            offered = null;
        }
        if (current == device) {
            changed.run();
            current = null;
            failing = false;
            requestFailedAt = 0;
            notifyAll();
        }
    }

    /**
     * Installs the check every device must pass from now on (an opening cache's, before any of
     * its threads can use a device), and applies it to the device bound, or else to the one
     * offered last: so a device bound while the cache opened is checked before it is used, and
     * one refused by an earlier check (or by a cache since re-opened with {@code force_identity})
     * is offered again. A device bound that fails it is unbound.
     *
     * @return why the device was refused, or null
     */
    public synchronized String checkWith(Check newCheck) {
        check = newCheck;
        BackingDevice candidate = current != null ? current : offered;
        if (candidate == null) {
            return null;
        }
        current = null;
        return set(candidate);
    }

    /** The bound device or null, without waiting. */
    public synchronized BackingDevice peek() {
        return current;
    }

    /**
     * The cache is stopping: an open that waits for a device ({@link #acquireForOpen}), now or
     * later, gives up at once instead of after its timeout. Other acquisitions (write-back's, which
     * an open starts at its end) are not affected: they would fail and say so in the log.
     */
    public synchronized void stopOpens() {
        opensStopped = true;
        notifyAll();
    }

    /**
     * Says why no device the cache selects will be bound: {@code why} gives the reason, or null
     * while one may still be (see {@link #failedDevices}). An open that waits ends once it gives one.
     */
    public void failedDevicesFrom(Supplier<String> why) {
        this.failedDevices = why;
    }

    /** What a cache {@code cacheName} says when the backing devices it selects {@code failed} ({@link DevicesFailed}). */
    static String devicesFailed(String cacheName, String failed) {
        return "cache " + cacheName + " waits for a backing device that cannot open: " + failed + ". The cache opens"
                + " by itself once that backing device opens (when its configuration is updated, or pcache restarts)";
    }

    /** Wakes waiters for good; later acquisitions fail. */
    public synchronized void close() {
        closed = true;
        notifyAll();
    }

    /** Marks that write-back's recent I/O failed (for status), or that it works again. */
    public void setFailing(boolean failing) {
        this.failing = failing;
    }

    /**
     * A client request on {@code device} (a read miss, a pass-through or write-through request)
     * failed: while it is the device bound, status shows it failing until a request works on it
     * again, or for {@link #REQUEST_FAILURE_SHOWN_NANOS} after the last such failure, so a device
     * that fails only clients' requests is not shown healthy.
     */
    public void requestFailed(BackingDevice device) {
        if (device != null && device == current) {
            requestFailedAt = System.nanoTime() | 1;
        }
    }

    /** A client request on {@code device} worked. */
    public void requestWorked(BackingDevice device) {
        if (requestFailedAt != 0 && device == current) { // written only on a change: no shared-line traffic per request
            requestFailedAt = 0;
        }
    }

    /** What status reports. */
    public synchronized BackingState state() {
        if (current == null) {
            return BackingState.UNAVAILABLE;
        }
        BackingState s = current.state();
        long failedAt = requestFailedAt;
        boolean requestsFail = failedAt != 0 && System.nanoTime() - failedAt < requestFailureShownNanos;
        if (s == BackingState.ONLINE && (failing || requestsFail)) {
            return BackingState.FAILING;
        }
        return s;
    }

    /**
     * A description for status output: the bound device's, else "none", followed by why none will
     * be bound ("none: backing device NAME cannot be opened: WHY") when every configured device the
     * cache selects failed to open.
     */
    public String describe() {
        BackingDevice bound = current;
        if (bound != null) {
            return bound.description();
        }
        String failed = failedDevices();
        return failed == null ? "none" : "none: " + failed;
    }

    /** {@link #failedDevices}'s answer; null when asking fails. Never under the monitor. */
    private String failedDevices() {
        try {
            return failedDevices.get();
        } catch (RuntimeException | LinkageError e) { // a runtime going away, or its package not wired
            return null;
        }
    }

    /**
     * The bound device, waiting up to {@code timeoutMillis} for one.
     *
     * @throws BackingUnavailableException when none is bound in time
     */
    public BackingDevice acquire(long timeoutMillis) throws IOException {
        try {
            return acquireUntil(System.nanoTime() + timeoutMillis * 1_000_000L, false, timeoutMillis, true);
        } catch (SliceOver e) {
            throw new AssertionError("only a slice that is not the last ends so", e);
        }
    }

    /**
     * {@link #acquire}, for the cache's open: it gives up at once, when none is bound, once the
     * cache is stopping ({@link #stopOpens()}), and once every configured backing device the cache
     * selects has failed to open ({@link #failedDevicesFrom}; asked every
     * {@link #FAILED_DEVICES_ASKED_NANOS}, the same answer twice in a row), with {@link DevicesFailed}.
     */
    public BackingDevice acquireForOpen(long timeoutMillis) throws IOException {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        String failedBefore = null;
        while (true) {
            long now = System.nanoTime();
            boolean last = deadline - now <= FAILED_DEVICES_ASKED_NANOS;
            try {
                return acquireUntil(last ? deadline : now + FAILED_DEVICES_ASKED_NANOS, true, timeoutMillis, last);
            } catch (SliceOver e) {
                String failed = failedDevices(); // outside the monitor: the runtime's locks are never taken under it
                // the same answer twice in a row: not a device met between its configuration's
                // arrival and another one's, or a failed configuration on its way out
                if (failed != null && failed.equals(failedBefore)) {
                    synchronized (this) {
                        if (current != null) {
                            return current;
                        }
                        if (closed || opensStopped) { // a stop while the runtime was asked: no failure
                            throw new DeviceClosedException("cache " + cacheName + " is shutting down");
                        }
                    }
                    throw new DevicesFailed(cacheName, failed);
                }
                failedBefore = failed;
            }
        }
    }

    /** An {@link #acquireUntil} slice that is not the last ended with no device bound. */
    private static final class SliceOver extends Exception {
        private static final long serialVersionUID = 1L;

        SliceOver() {
            super(null, null, false, false);
        }
    }

    /**
     * Waits until {@code deadline} for a device; when none is bound by then, fails with
     * {@link NoneBound} if this is the {@code last} slice of a wait of {@code timeoutMillis},
     * else with {@link SliceOver}.
     */
    private synchronized BackingDevice acquireUntil(long deadline, boolean open, long timeoutMillis, boolean last)
            throws IOException, SliceOver {
        while (current == null) {
            if (closed || (open && opensStopped)) {
                throw new DeviceClosedException("cache " + cacheName + " is shutting down");
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                if (!last) {
                    throw new SliceOver();
                }
                throw new NoneBound("cache " + cacheName + ": no backing device for "
                        + timeoutMillis + " ms (it was removed or is being swapped); the request needs it."
                        + " Bind a backing device (backing.target) or raise backing_timeout_ms");
            }
            try {
                wait(Math.max(1, left / 1_000_000L));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while waiting for the backing device of cache "
                        + cacheName);
            }
        }
        return current;
    }
}
