package pcache.pmem.internal;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

import pcache.api.DeviceClosedException;

/**
 * Keeps a mapping alive while calls use it. Unmapping memory that another thread is still
 * copying from would crash the JVM, so {@link #close()} waits for the calls in flight; calls
 * that start afterwards fail with {@link DeviceClosedException}.
 *
 * <p>Entry increments a counter and then reads the closed flag; close sets the flag and then
 * reads the counter. Both are volatile accesses, so one of the two always sees the other. The
 * counter is striped ({@link LongAdder}): every pmem call enters and exits, from every thread, and
 * one shared counter would bounce its cache line between the cores on each of them.
 */
final class AccessGuard {

    private final String device;
    private final LongAdder inFlight = new LongAdder();
    private volatile boolean closed;

    AccessGuard(String device) {
        this.device = device;
    }

    /** Marks the start of a call; pair with {@link #exit()} in a finally block. */
    void enter() throws DeviceClosedException {
        inFlight.increment();
        if (closed) {
            inFlight.decrement();
            throw new DeviceClosedException(device + " is closed");
        }
    }

    void exit() {
        inFlight.decrement();
    }

    boolean isClosed() {
        return closed;
    }

    /**
     * Refuses new calls and waits until the running ones have left.
     *
     * @return false when the guard was already closed
     */
    synchronized boolean close() {
        if (closed) {
            return false;
        }
        closed = true;
        while (inFlight.sum() != 0) {
            LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(50));
        }
        return true;
    }
}
