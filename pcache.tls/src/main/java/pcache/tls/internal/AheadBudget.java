package pcache.tls.internal;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Bytes all TLS channels of the process may hold for messages they receive ahead
 * ({@link pcache.api.tls.TlsChannel#receiveAhead}): the JSSE channel's grown read buffers, the
 * plaintext Bouncy Castle's protocol keeps while a channel waits for a message. Beyond it a
 * channel declines to receive ahead and its caller reads the usual way, so many connections
 * sending large messages at once cannot make the server hold more than this on their behalf.
 */
public final class AheadBudget {

    /** What all channels together may hold ahead. */
    public static final long MAX_BYTES = 256L << 20;

    private static final AtomicLong HELD = new AtomicLong();

    private AheadBudget() {
    }

    /** Takes {@code bytes} if that keeps the total within {@link #MAX_BYTES}; false (taking nothing) otherwise. */
    public static boolean tryTake(long bytes) {
        while (true) {
            long held = HELD.get();
            if (held + bytes > MAX_BYTES) {
                return false;
            }
            if (HELD.compareAndSet(held, held + bytes)) {
                return true;
            }
        }
    }

    /** Gives back bytes taken. */
    public static void give(long bytes) {
        HELD.addAndGet(-bytes);
    }

    /** Bytes held now (for tests). */
    public static long held() {
        return HELD.get();
    }
}
