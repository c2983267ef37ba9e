package pcache.export.nbd.internal;

/**
 * The server-wide cap on payload bytes held by requests in flight, over all connections. Each
 * connection's {@link InflightLimiter} bounds that connection; this bounds their sum, which
 * would otherwise be max_connections times the per-connection budget (64 GiB with the defaults)
 * when many clients stop reading their replies.
 *
 * <p>When the budget is used up a connection's reader waits here (backpressure on that client)
 * until replies drain, except for a request of at most {@link #reserveBytes} on a connection
 * that has nothing else in flight: small I/O of well-behaved clients keeps flowing while others
 * hold the budget. So the bytes in flight never exceed {@code maxBytes} plus one reserve-sized
 * request per connection.
 */
final class SharedBudget {
    private final long maxBytes;
    private final long reserveBytes;
    private long bytes;

    SharedBudget(long maxBytes, long reserveBytes) {
        if (maxBytes < 1 || reserveBytes < 0) {
            throw new IllegalArgumentException("shared in-flight budget must be positive: " + maxBytes
                    + " bytes, reserve " + reserveBytes);
        }
        this.maxBytes = maxBytes;
        this.reserveBytes = reserveBytes;
    }

    /**
     * Takes {@code requestBytes}, waiting while the budget is used up (a request larger than
     * the whole budget is let in when nothing else is in flight, so it cannot wait forever).
     * Whether the caller is idle is checked again on every wake-up: its last reply may finish
     * while it waits (every release on any connection wakes the waiters).
     *
     * @param owner the calling connection's limiter: whether it has anything in flight, and
     *        once it is closed the wait is given up
     * @return false if {@code owner} was closed meanwhile
     */
    synchronized boolean acquire(long requestBytes, InflightLimiter owner) throws InterruptedException {
        return acquire(requestBytes, owner, 0);
    }

    /**
     * As {@link #acquire(long, InflightLimiter)} for a request that already holds {@code ownSlots}
     * of its connection's slots: the connection counts as idle when only those are in flight.
     */
    synchronized boolean acquire(long requestBytes, InflightLimiter owner, int ownSlots) throws InterruptedException {
        while (!owner.isClosed() && bytes > 0 && bytes + requestBytes > maxBytes
                && !(requestBytes <= reserveBytes && owner.requestsInFlightNow() == ownSlots)) {
            wait();
        }
        if (owner.isClosed()) {
            return false;
        }
        bytes += requestBytes;
        return true;
    }

    synchronized void release(long requestBytes) {
        bytes -= requestBytes;
        notifyAll();
    }

    /** Wakes waiters so they notice their connection closed. */
    synchronized void wakeAll() {
        notifyAll();
    }

    synchronized long bytesInFlight() {
        return bytes;
    }

    long maxBytes() {
        return maxBytes;
    }

    long reserveBytes() {
        return reserveBytes;
    }
}
