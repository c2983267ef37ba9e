package pcache.export.nbd.internal;

/**
 * Bounds one connection's memory: requests in flight and payload bytes they hold (WRITE payloads
 * read, READ buffers allocated). A request holds its share from the moment the reader accepts it
 * until its reply has been written (or dropped). When the budget is used up the reader waits
 * here, i.e. stops reading the socket, which is the backpressure TCP passes on to the client.
 */
final class InflightLimiter {
    private final int maxRequests;
    private final long maxBytes;
    private int requests;
    private long bytes;
    private boolean closed;

    InflightLimiter(int maxRequests, long maxBytes) {
        if (maxRequests < 1 || maxBytes < 1) {
            throw new IllegalArgumentException("in-flight limits must be positive: requests="
                    + maxRequests + ", bytes=" + maxBytes);
        }
        this.maxRequests = maxRequests;
        this.maxBytes = maxBytes;
    }

    /**
     * Takes one request slot and {@code requestBytes} of the byte budget, waiting for replies to
     * drain if needed. A request larger than the whole budget is let in alone (when nothing else
     * is in flight), so it cannot wait forever.
     *
     * @return false if the limiter was closed (the connection is going away)
     */
    synchronized boolean acquire(long requestBytes) throws InterruptedException {
        while (!closed && (requests >= maxRequests
                || (requests > 0 && bytes + requestBytes > maxBytes))) {
            wait();
        }
        if (closed) {
            return false;
        }
        requests++;
        bytes += requestBytes;
        return true;
    }

    /** Gives back what one {@link #acquire} took. */
    synchronized void release(long requestBytes) {
        requests--;
        bytes -= requestBytes;
        notifyAll();
    }

    /** Wakes and refuses every waiting and future {@link #acquire}; releases still count. */
    synchronized void close() {
        closed = true;
        notifyAll();
    }

    /** Waits until no request is in flight or the timeout passes; true when idle. */
    synchronized boolean awaitIdle(long timeoutNanos) throws InterruptedException {
        long deadline = System.nanoTime() + timeoutNanos;
        while (requests > 0) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            wait(Math.max(1, left / 1_000_000));
        }
        return true;
    }

    synchronized int requestsInFlight() {
        return requests;
    }

    synchronized long bytesInFlight() {
        return bytes;
    }
}
