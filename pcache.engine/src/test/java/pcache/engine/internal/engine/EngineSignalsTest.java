package pcache.engine.internal.engine;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class EngineSignalsTest {

    /**
     * A wake-up that comes while GC passes (after it looked, before it waits) is not lost: GC
     * looks again at once. Before, it waited on the monitor alone and slept through its interval
     * (5 s by default), with a writer waiting for space meanwhile.
     */
    @Test
    @Timeout(60)
    void aWakeUpDuringAPassEndsTheWaitAfterIt() throws Exception {
        EngineSignals signals = new EngineSignals("c");
        long seen = signals.gcWakeups();
        signals.wakeGc(); // during the pass
        long start = System.nanoTime();
        signals.awaitGc(seen, TimeUnit.SECONDS.toMillis(20));
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(10), "GC slept through the wake-up");

        seen = signals.gcWakeups();
        Thread waker = new Thread(() -> {
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                return;
            }
            signals.wakeGc(); // while GC waits
        });
        waker.start();
        start = System.nanoTime();
        signals.awaitGc(seen, TimeUnit.SECONDS.toMillis(20));
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(10), "GC slept through the wake-up");
        waker.join();
    }
}
