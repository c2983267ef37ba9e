package pcache.backing.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

class RangeLockTest {

    private final RangeLock locks = new RangeLock();

    @Test
    void disjointRangesAreHeldTogether() throws Exception {
        try (RangeLock.Held a = locks.lock(0, 4096, 0);
                RangeLock.Held b = locks.lock(4096, 8192, 0)) {
            assertNotNull(a);
            assertNotNull(b);
            assertEquals(2, locks.heldCount());
        }
        assertEquals(0, locks.heldCount());
    }

    @Test
    void overlappingRangeWaitsUntilReleased() throws Exception {
        RangeLock.Held a = locks.lock(0, 8192, 0);
        assertNull(locks.lock(4096, 12288, TimeUnit.MILLISECONDS.toNanos(20)), "times out");
        CompletableFuture<RangeLock.Held> waiting = CompletableFuture.supplyAsync(() -> {
            try {
                return locks.lock(4096, 12288, Long.MAX_VALUE);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        Thread.sleep(20);
        assertEquals(false, waiting.isDone());
        a.close();
        waiting.get(5, TimeUnit.SECONDS).close();
        assertEquals(0, locks.heldCount());
    }
}
