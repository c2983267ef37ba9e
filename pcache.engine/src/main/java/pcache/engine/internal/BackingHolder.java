package pcache.engine.internal;

import java.io.IOException;
import java.io.InterruptedIOException;

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
    private BackingDevice current;
    private boolean closed;
    private volatile boolean failing;

    public BackingHolder(String cacheName) {
        this.cacheName = cacheName;
    }

    /** Names the cache in messages (set once its configuration is known). */
    public void rename(String name) {
        this.cacheName = name;
    }

    /** Binds {@code device} (null to unbind) and wakes waiting requests. */
    public synchronized void set(BackingDevice device) {
        current = device;
        failing = false;
        notifyAll();
    }

    /** The bound device or null, without waiting. */
    public synchronized BackingDevice peek() {
        return current;
    }

    /** Wakes waiters for good; later acquisitions fail. */
    public synchronized void close() {
        closed = true;
        notifyAll();
    }

    /** Marks that recent I/O failed (for status), or that it works again. */
    public void setFailing(boolean failing) {
        this.failing = failing;
    }

    /** What status reports. */
    public synchronized BackingState state() {
        if (current == null) {
            return BackingState.UNAVAILABLE;
        }
        BackingState s = current.state();
        if (s == BackingState.ONLINE && failing) {
            return BackingState.FAILING;
        }
        return s;
    }

    /** A description for status output. */
    public synchronized String describe() {
        return current == null ? "none" : current.description();
    }

    /**
     * The bound device, waiting up to {@code timeoutMillis} for one.
     *
     * @throws BackingUnavailableException when none is bound in time
     */
    public synchronized BackingDevice acquire(long timeoutMillis) throws IOException {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        while (current == null) {
            if (closed) {
                throw new DeviceClosedException("cache " + cacheName + " is shutting down");
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new BackingUnavailableException("cache " + cacheName + ": no backing device for "
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
