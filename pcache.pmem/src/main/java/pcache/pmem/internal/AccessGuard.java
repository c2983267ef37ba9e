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
 *
 * <p>A call turned back by a closed guard does not decrement the striped counter: it counts
 * itself in {@link #retracted}. A striped sum is no snapshot, and a thread's increment and
 * decrement can land on different stripes (a contended update moves it to another), so the sum
 * could take in a turned-back call's decrement without its increment, and see 0 while a call still
 * copies from the mapping (the JVM would crash when it is unmapped). Close reads {@code retracted}
 * before it sums: every retraction it counts followed an increment made before the sum, which the
 * sum therefore sees, so the difference never counts fewer calls than are in flight.
 */
final class AccessGuard {

    private final String device;
    private final LongAdder inFlight = new LongAdder();
    /** Entries of calls turned back (see the class comment); only ever grows. */
    private final java.util.concurrent.atomic.AtomicLong retracted = new java.util.concurrent.atomic.AtomicLong();
    private volatile boolean closed;

    AccessGuard(String device) {
        this.device = device;
    }

    /** Marks the start of a call; pair with {@link #exit()} in a finally block. */
    void enter() throws DeviceClosedException {
        inFlight.increment();
        if (closed) {
            retracted.incrementAndGet();
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
        while (inFlightNow() != 0) {
            LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(50));
        }
        return true;
    }

    /** Calls in flight, never fewer than there are (see the class comment): retractions read first. */
    private long inFlightNow() {
        long out = retracted.get();
        return inFlight.sum() - out;
    }
}
