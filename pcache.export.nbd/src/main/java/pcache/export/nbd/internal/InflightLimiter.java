package pcache.export.nbd.internal;

/**
 * Bounds one connection's memory: requests in flight and payload bytes they hold (WRITE payloads
 * read, READ buffers allocated). A request holds its share from the moment the reader accepts it
 * until its reply has been written (or dropped). When the budget is used up the reader waits
 * here, i.e. stops reading the socket, which is the backpressure TCP passes on to the client.
 * The bytes also count against the server's {@link SharedBudget}, if given.
 */
final class InflightLimiter {
    private final int maxRequests;
    private final long maxBytes;
    /** The server-wide budget this connection's bytes also count against, or null. */
    private final SharedBudget shared;
    /** Written under this object's lock; volatile so {@link SharedBudget} can read it without. */
    private volatile int requests;
    private long bytes;
    private volatile boolean closed;

    InflightLimiter(int maxRequests, long maxBytes) {
        this(maxRequests, maxBytes, null);
    }

    InflightLimiter(int maxRequests, long maxBytes, SharedBudget shared) {
        if (maxRequests < 1 || maxBytes < 1) {
            throw new IllegalArgumentException("in-flight limits must be positive: requests="
                    + maxRequests + ", bytes=" + maxBytes);
        }
        this.maxRequests = maxRequests;
        this.maxBytes = maxBytes;
        this.shared = shared;
    }

    /**
     * Takes one request slot and {@code requestBytes} of the byte budget, waiting for replies to
     * drain if needed. A request larger than the whole budget is let in alone (when nothing else
     * is in flight), so it cannot wait forever. Then takes the bytes from the server-wide
     * budget, if there is one (see {@link SharedBudget} for when that waits).
     *
     * @return false if the limiter was closed (the connection is going away)
     */
    boolean acquire(long requestBytes) throws InterruptedException {
        synchronized (this) {
            while (!closed && (requests >= maxRequests
                    || (requests > 0 && bytes + requestBytes > maxBytes))) {
                wait();
            }
            if (closed) {
                return false;
            }
        }
        // Only the connection's reader acquires, so the room found above stays (releases only add
        // to it); the slot is counted once the shared budget is taken too, so a reader waiting
        // for the shared budget does not count as in flight (awaitIdle does not wait for it).
        if (shared != null && requestBytes > 0 && !shared.acquire(requestBytes, this)) {
            return false;
        }
        synchronized (this) {
            requests++;
            bytes += requestBytes;
        }
        return true;
    }

    /**
     * Adds {@code extraBytes} to a request that already holds its slot (one first tried on the
     * reader's thread that goes to a worker after all), waiting as {@link #acquire} does; the
     * request's own slot does not count as another request in flight. On false the slot is
     * still held: {@link #release release(0)} it.
     *
     * @return false if the limiter was closed
     */
    boolean grow(long extraBytes) throws InterruptedException {
        synchronized (this) {
            while (!closed && requests > 1 && bytes + extraBytes > maxBytes) {
                wait();
            }
            if (closed) {
                return false;
            }
        }
        if (shared != null && extraBytes > 0 && !shared.acquire(extraBytes, this, 1)) {
            return false;
        }
        synchronized (this) {
            bytes += extraBytes;
        }
        return true;
    }

    /**
     * Gives back {@code extraBytes} of the bytes a request took while it keeps its slot (a WRITE
     * received straight into the device: once there, its reply holds no payload).
     */
    void shrink(long extraBytes) {
        giveBack(0, extraBytes);
    }

    /** Requests in flight, read without locking (may be stale by the time it is used). */
    int requestsInFlightNow() {
        return requests;
    }

    boolean isClosed() {
        return closed;
    }

    /** Gives back what one {@link #acquire} took. */
    void release(long requestBytes) {
        giveBack(1, requestBytes);
    }

    /** Gives back {@code slots} slots and {@code returned} bytes, here and to the shared budget. */
    private void giveBack(int slots, long returned) {
        synchronized (this) {
            requests -= slots;
            bytes -= returned;
            notifyAll();
        }
        if (shared != null && (slots > 0 || returned > 0)) {
            shared.release(returned); // also with 0 bytes for a slot: this connection may have become idle
        }
    }

    /** Wakes and refuses every waiting and future {@link #acquire}; releases still count. */
    void close() {
        synchronized (this) {
            closed = true;
            notifyAll();
        }
        if (shared != null) {
            shared.wakeAll();
        }
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
