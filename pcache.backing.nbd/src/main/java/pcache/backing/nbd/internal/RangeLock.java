package pcache.backing.nbd.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Exclusive locks on byte ranges. Writes to a server whose minimum block is larger than 512
 * bytes take the whole blocks they touch, so a read-modify-write of a block never runs
 * concurrently with another write to the same block and cannot put back bytes another writer
 * has just written. Non-overlapping ranges proceed in parallel.
 */
final class RangeLock {

    /** A held range; closing it releases the range. */
    final class Held implements AutoCloseable {
        private final long start;
        private final long end;

        private Held(long start, long end) {
            this.start = start;
            this.end = end;
        }

        @Override
        public void close() {
            synchronized (RangeLock.this) {
                held.remove(this);
                RangeLock.this.notifyAll();
            }
        }
    }

    private final List<Held> held = new ArrayList<>();

    /**
     * Takes {@code [start, end)}, waiting while an overlapping range is held.
     *
     * @param timeoutNanos how long to wait at most; {@code Long.MAX_VALUE} waits forever
     * @return the held range, or null if the time ran out
     */
    synchronized Held lock(long start, long end, long timeoutNanos) throws InterruptedException {
        long deadline = System.nanoTime() + timeoutNanos;
        while (overlapsHeld(start, end)) {
            if (timeoutNanos == Long.MAX_VALUE) {
                wait();
            } else {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return null;
                }
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
        }
        Held range = new Held(start, end);
        held.add(range);
        return range;
    }

    private boolean overlapsHeld(long start, long end) {
        for (Held h : held) {
            if (h.start < end && start < h.end) {
                return true;
            }
        }
        return false;
    }

    /** Number of ranges held right now (for tests). */
    synchronized int heldCount() {
        return held.size();
    }
}
