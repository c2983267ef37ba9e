package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import pcache.api.BlockExtent;
import pcache.engine.internal.engine.CacheEngine;
import pcache.writeback.internal.OrderedWritebackPolicy;

/** {@code base:allocation} while write-back moves on under it. */
class BlockStatusRaceTest {

    private static final long LOGICAL = 64 * Harness.MIB;

    /**
     * A trim, then a write over its range, both acknowledged; a block-status question begins, and
     * while it waits for the backing device on an earlier stretch, write-back passes the trim on
     * and writes the write back. The write's range must not come out as a hole: qemu maps a hole
     * as not allocated. Before, the waiting trims were taken before the walk and laid over the
     * backing device's answer for the range, by then the write's.
     */
    @Test
    @Timeout(60)
    void aWriteAfterATrimIsNotReportedAsAHoleWhenWriteBackPassesBothDuringTheQuestion() throws Exception {
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(8), false);
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine e = Harness.open(Harness.config("race").withGcPercent(90), pmem, Harness.holder(backing),
                Harness.onlyWhenDraining(new OrderedWritebackPolicy()));
        long w = 4 * Harness.MIB + 65536; // in the second slice
        try {
            e.write(65536, Harness.pattern(65536, 4096, 1), false); // slice 0: a gap before it is asked first
            e.write(w, Harness.pattern(w, 65536, 2), false);
            e.trim(w, 65536);
            e.write(w, Harness.pattern(w, 65536, 3), false);
            e.flush();
            CountDownLatch asked = new CountDownLatch(1);
            CountDownLatch answer = new CountDownLatch(1);
            AtomicBoolean first = new AtomicBoolean(true);
            backing.onBlockStatus = () -> {
                if (first.getAndSet(false)) {
                    asked.countDown();
                    try {
                        answer.await(30, TimeUnit.SECONDS);
                    } catch (InterruptedException x) {
                        Thread.currentThread().interrupt();
                    }
                }
            };
            CompletableFuture<List<BlockExtent>> map = CompletableFuture.supplyAsync(() -> {
                try {
                    return e.blockStatus(0, 8 * Harness.MIB, 1024);
                } catch (java.io.IOException x) {
                    throw new java.io.UncheckedIOException(x);
                }
            });
            assertTrue(asked.await(30, TimeUnit.SECONDS), "the question reached the backing device");
            e.drain(null); // the trim passed on, the write written back (its key clean)
            assertEquals(0, e.statistics().dirtyBytes());
            answer.countDown();
            List<BlockExtent> extents = map.get(30, TimeUnit.SECONDS);
            for (BlockExtent x : extents) {
                if (x.offset() < w + 65536 && x.offset() + x.lengthBytes() > w) {
                    assertEquals(0, x.flags(), "written data reported as " + x + " in " + extents);
                }
            }
        } finally {
            backing.onBlockStatus = null;
            e.close();
        }
    }
}
