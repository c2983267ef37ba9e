package pcache.backing.nbd.internal;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * When a caller's request must be done by: {@code io_timeout_ms} from when the caller's call
 * began, shared by all the NBD requests it becomes. A zero timeout waits forever.
 */
record Deadline(long startNanos, long timeoutNanos) {

    /** A deadline {@code timeout} from now. */
    static Deadline after(Duration timeout) {
        return new Deadline(System.nanoTime(), timeout.toNanos());
    }

    boolean unbounded() {
        return timeoutNanos == 0;
    }

    long remainingNanos() {
        return startNanos + timeoutNanos - System.nanoTime();
    }

    long remainingNanosOrMax() {
        return unbounded() ? Long.MAX_VALUE : Math.max(0, remainingNanos());
    }

    long elapsedMillis() {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
    }
}
