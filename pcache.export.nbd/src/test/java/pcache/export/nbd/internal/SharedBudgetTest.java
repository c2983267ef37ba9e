package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The server-wide in-flight budget and how per-connection limiters draw on it. */
@Timeout(20)
class SharedBudgetTest {

    @Test
    void connectionsTogetherStayWithinTheBudgetAndSmallRequestsOfIdleConnectionsStillPass() throws Exception {
        SharedBudget shared = new SharedBudget(8 << 20, 1 << 20);
        InflightLimiter a = new InflightLimiter(256, 64 << 20, shared);
        InflightLimiter b = new InflightLimiter(256, 64 << 20, shared);
        for (int i = 0; i < 4; i++) {
            assertTrue(a.acquire(2 << 20)); // a takes the whole budget
        }
        assertEquals(8 << 20, shared.bytesInFlight());
        assertTrue(b.acquire(4096), "an idle connection's small request passes on the reserve");
        CompletableFuture<Boolean> big = CompletableFuture.supplyAsync(() -> acquire(b, 2 << 20));
        CompletableFuture<Boolean> small = CompletableFuture.supplyAsync(() -> acquire(a, 4096));
        assertWaiting(big);
        assertWaiting(small); // a is not idle: no reserve for it
        a.release(2 << 20);
        assertTrue(small.get(5, TimeUnit.SECONDS));
        assertWaiting(big);
        a.release(2 << 20);
        assertTrue(big.get(5, TimeUnit.SECONDS));
        assertTrue(shared.bytesInFlight() <= (8 << 20) + (1 << 20));
    }

    /**
     * A client's next request often arrives before the reply writer has released the previous
     * one: the waiting reader must notice when its connection becomes idle (here by the release
     * of a payload-less request) and pass on the reserve.
     */
    @Test
    void aConnectionThatBecomesIdleWhileWaitingPassesOnTheReserve() throws Exception {
        SharedBudget shared = new SharedBudget(4 << 20, 1 << 20);
        InflightLimiter a = new InflightLimiter(256, 64 << 20, shared);
        InflightLimiter b = new InflightLimiter(256, 64 << 20, shared);
        assertTrue(a.acquire(4 << 20));
        assertTrue(b.acquire(0)); // e.g. a FLUSH still being answered
        CompletableFuture<Boolean> next = CompletableFuture.supplyAsync(() -> acquire(b, 4096));
        assertWaiting(next);
        b.release(0);
        assertTrue(next.get(5, TimeUnit.SECONDS));
    }

    @Test
    void closingAConnectionWakesItsReaderWaitingForTheSharedBudget() throws Exception {
        SharedBudget shared = new SharedBudget(4 << 20, 1 << 20);
        InflightLimiter a = new InflightLimiter(256, 64 << 20, shared);
        InflightLimiter b = new InflightLimiter(256, 64 << 20, shared);
        assertTrue(a.acquire(4 << 20));
        CompletableFuture<Boolean> waiting = CompletableFuture.supplyAsync(() -> acquire(b, 2 << 20));
        assertWaiting(waiting);
        b.close();
        assertFalse(waiting.get(5, TimeUnit.SECONDS));
        assertEquals(0, b.requestsInFlight());
        assertEquals(4 << 20, shared.bytesInFlight());
    }

    private static boolean acquire(InflightLimiter limiter, long bytes) {
        try {
            return limiter.acquire(bytes);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Gives a broken budget the chance to let the request through. */
    private static void assertWaiting(CompletableFuture<Boolean> f) throws Exception {
        try {
            f.get(200, TimeUnit.MILLISECONDS);
            throw new AssertionError("acquire did not wait: " + f.get());
        } catch (TimeoutException expected) {
            // still waiting, as it should
        }
    }
}
