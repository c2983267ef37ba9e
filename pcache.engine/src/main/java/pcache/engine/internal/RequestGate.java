package pcache.engine.internal;

import java.io.InterruptedIOException;
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
 */
final class RequestGate {

    private final String name;
    private final LongAdder inFlight = new LongAdder();
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
                    inFlight.decrement();
                    throw new DeviceClosedException("cache " + name + " is shut down");
                }
                return;
            }
            exit();
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
            inFlight.decrement();
            throw new DeviceClosedException("cache " + name + " is shut down");
        }
        if (held) {
            exit();
            return false;
        }
        return true;
    }

    void exit() {
        inFlight.decrement();
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
            while (inFlight.sum() != 0) {
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

    boolean isHeld() {
        return held;
    }

    long inFlight() {
        return inFlight.sum();
    }
}
