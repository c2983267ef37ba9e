package pcache.engine.internal;

import java.io.InterruptedIOException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

import pcache.api.DeviceClosedException;

/**
 * Lets requests in, or holds them back while the cache changes its parts (pmem swap, entering
 * pass-through) and waits for those in flight. Entering costs one striped counter increment and a
 * volatile read: cheap enough for millions of requests per second.
 *
 * <p>Why it is correct: a request increments, then reads {@code held}; a quiescer writes
 * {@code held}, then sums the counter. Either the request sees {@code held} and backs out, or the
 * quiescer's sum sees the increment and waits for it.
 *
 * <p>A request that backs out does not decrement the striped counter: it counts itself in
 * {@link #retracted} instead. A striped sum is no snapshot, and a thread's increment and decrement
 * can land on different stripes (a contended update moves it to another), so the sum could take in
 * a backing-out request's decrement without its increment, and see 0 while another request is in
 * flight. The quiescer reads {@code retracted} before it sums: every retraction it counts followed
 * an increment made before the sum, which the sum therefore sees, so the difference never counts
 * fewer than are in flight.
 */
final class RequestGate {

    private final String name;
    private final LongAdder inFlight = new LongAdder();
    /** Entries of requests that backed out (see the class comment); only ever grows. */
    private final AtomicLong retracted = new AtomicLong();
    private final Object monitor = new Object();
    private volatile boolean held;
    private volatile boolean shut;

    RequestGate(String name) {
        this.name = name;
    }

    /** Enters; waits while the gate is held. */
    void enter() throws DeviceClosedException, InterruptedIOException {
        while (true) {
            inFlight.increment();
            if (!held) {
                if (shut) {
                    retract();
                    throw new DeviceClosedException("cache " + name + " is shut down");
                }
                return;
            }
            retract();
            synchronized (monitor) {
                while (held && !shut) {
                    try {
                        monitor.wait(100);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new InterruptedIOException("interrupted while cache " + name + " was changing");
                    }
                }
            }
            if (shut) {
                throw new DeviceClosedException("cache " + name + " is shut down");
            }
        }
    }

    /** Enters unless the gate is held (then false, without waiting). */
    boolean tryEnter() throws DeviceClosedException {
        inFlight.increment();
        if (shut) {
            retract();
            throw new DeviceClosedException("cache " + name + " is shut down");
        }
        if (held) {
            retract();
            return false;
        }
        return true;
    }

    /** Takes back the entry of a request that is not let in. */
    private void retract() {
        retracted.incrementAndGet();
        wakeHolder();
    }

    void exit() {
        inFlight.decrement();
        wakeHolder();
    }

    /** A request left: a hold waiting for those in flight looks again. */
    private void wakeHolder() {
        if (held) {
            synchronized (monitor) {
                monitor.notifyAll();
            }
        }
    }

    /**
     * Holds new requests and waits up to {@code timeoutMillis} for those in flight.
     *
     * @return true when none is in flight; false on timeout (the gate stays held: call release)
     */
    boolean hold(long timeoutMillis) throws InterruptedException {
        held = true;
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        synchronized (monitor) {
            while (inFlightNow() != 0) {
                long left = (deadline - System.nanoTime()) / 1_000_000L;
                if (left <= 0) {
                    return false;
                }
                monitor.wait(Math.min(left, 10));
            }
        }
        return true;
    }

    /** Lets requests in again. */
    void release() {
        held = false;
        synchronized (monitor) {
            monitor.notifyAll();
        }
    }

    /** Refuses every new request from now on (those waiting fail too). */
    /** True once {@link #shut()} was called: the gate refuses every request for good. */
    boolean isShut() {
        return shut;
    }

    void shut() {
        shut = true;
        synchronized (monitor) {
            monitor.notifyAll();
        }
    }

    /** Lets requests in again after {@link #shut()} (a cache brought back into service). */
    void reopen() {
        shut = false;
    }

    boolean isHeld() {
        return held;
    }

    long inFlight() {
        return inFlightNow();
    }

    /** Requests in flight, never fewer than there are (see the class comment): retractions read first. */
    private long inFlightNow() {
        long out = retracted.get();
        return inFlight.sum() - out;
    }
}
