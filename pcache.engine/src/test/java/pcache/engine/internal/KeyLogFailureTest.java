package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import pcache.api.spi.PmemRegion;
import pcache.engine.internal.engine.CacheEngine;
import pcache.writeback.internal.OrderedWritebackPolicy;

/**
 * A write whose key cannot be logged fails, and must not take with it the data it was to replace:
 * the keys it displaced from the index are still the newest acknowledged data of its range.
 * (Found by {@link ConcurrentCrashTest}: a read returned the backing device's older content for a
 * sector whose acknowledged write was still in the cache, after a concurrent overwrite failed.)
 */
class KeyLogFailureTest {

    private static final long LOGICAL = 64 * Harness.MIB;

    /** A region whose n-th mutating operation from {@link #failAt} fails once with an I/O error. */
    private static final class FailingRegion implements PmemRegion {
        private final SimulatedPmem pmem;
        private int countdown;
        String failed;

        FailingRegion(SimulatedPmem pmem) {
            this.pmem = pmem;
        }

        synchronized void failAt(int n) {
            countdown = n;
        }

        /** Set: every flush and fence fails from now on, as a mapped device's do once a flush failed. */
        volatile boolean flushesRefused;

        private void refused() throws IOException {
            if (flushesRefused) {
                throw new IOException("injected: an earlier flush failed; the device takes no more flushes");
            }
        }

        private synchronized void mutation(String what) throws IOException {
            if (countdown > 0 && --countdown == 0) {
                failed = what;
                throw new IOException("injected pmem failure at a " + what);
            }
        }

        @Override
        public long sizeBytes() {
            return pmem.sizeBytes();
        }

        @Override
        public String description() {
            return pmem.description();
        }

        @Override
        public boolean isDirectAccess() {
            return true;
        }

        @Override
        public void read(long offset, ByteBuffer dst) throws IOException {
            pmem.read(offset, dst);
        }

        @Override
        public void read(long offset, byte[] dst, int dstOffset, int length) throws IOException {
            pmem.read(offset, dst, dstOffset, length);
        }

        @Override
        public long getLong(long offset) throws IOException {
            return pmem.getLong(offset);
        }

        @Override
        public ByteBuffer view(long offset, int length) throws IOException {
            return pmem.view(offset, length);
        }

        @Override
        public void write(long offset, ByteBuffer src) throws IOException {
            mutation("store");
            pmem.write(offset, src);
        }

        @Override
        public void write(long offset, byte[] src, int srcOffset, int length) throws IOException {
            mutation("store");
            pmem.write(offset, src, srcOffset, length);
        }

        @Override
        public void putLong(long offset, long value) throws IOException {
            mutation("store");
            pmem.putLong(offset, value);
        }

        @Override
        public void fill(long offset, long length, byte value) throws IOException {
            mutation("fill");
            pmem.fill(offset, length, value);
        }

        @Override
        public void flush(long offset, long length) throws IOException {
            refused();
            mutation("flush");
            pmem.flush(offset, length);
        }

        @Override
        public void fence() throws IOException {
            refused();
            mutation("fence");
            pmem.fence();
        }

        @Override
        public void close() throws IOException {
            pmem.close();
        }
    }

    @Test
    void aWriteWhoseKeyCannotBeLoggedLeavesTheDataItWasToReplace() throws Exception {
        FailingRegion region = new FailingRegion(new SimulatedPmem(Harness.deviceBytes(4), false));
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        // no timer, write-back or GC step in between: the operations counted below are the write's own
        CacheEngine e = Harness.open(Harness.config("t").withStreams(1).withKsetFlushDelayMillis(600_000)
                .withGcIntervalMillis(600_000), region, Harness.holder(backing), Harness.drainOnlyPolicy());
        try {
            long at = 8 * Harness.MIB;
            ByteBuffer acknowledged = Harness.pattern(at, 8192, 1);
            e.write(at, acknowledged.duplicate(), false);
            // the FUA overwrite: its data (store, flush, fence), then its kset: the store fails
            region.failAt(4);
            assertThrows(IOException.class, () -> e.write(at + 4096, Harness.pattern(at + 4096, 4096, 2), true));
            assertTrue("store".equals(region.failed), "the injected failure struck a " + region.failed);
            IOException next = assertThrows(IOException.class, () -> e.write(0, Harness.pattern(0, 4096, 3), false));
            assertTrue(next.getMessage().contains("key log failed"), "the kset write failed: " + next.getMessage());
            assertArrayEquals(acknowledged.array(), Harness.read(e, at, 8192),
                    "the acknowledged write's data must still be read, not the backing device's older content");
        } finally {
            e.abandon();
        }
    }

    /**
     * A full cache whose device then takes no more flushes: write-back cannot store dirty_tail and
     * GC has nothing to pass, so no space can be freed until the cache is opened again. The writer
     * waiting for space waited for good (its client saw no answer) while a write with room failed at
     * once; it now fails with the device's error.
     */
    @Test
    @Timeout(120)
    void aWriterWaitingForSpaceFailsOnceTheCacheDeviceTakesNoMoreFlushes() throws Exception {
        FailingRegion region = new FailingRegion(new SimulatedPmem(Harness.deviceBytes(5), false));
        MemoryBacking disk = new MemoryBacking(LOGICAL, "disk", false);
        BackingHolder holder = Harness.holder(disk);
        CacheEngine e = Harness.open(Harness.config("t"), region, holder, new OrderedWritebackPolicy());
        try {
            holder.set(null); // write-back waits: the cache fills
            int chunk = 64 * 1024;
            CompletableFuture<Void> filling = CompletableFuture.runAsync(() -> {
                try {
                    for (long off = 0; off < LOGICAL; off += chunk) {
                        e.write(off, Harness.pattern(off, chunk, 1), false);
                    }
                } catch (IOException x) {
                    throw new java.io.UncheckedIOException(x);
                }
            });
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (e.conditions(null).requestsWaitingForSpace() == 0) {
                assertFalse(filling.isDone(), "the writes finished in a cache smaller than them");
                assertTrue(System.nanoTime() < deadline, "no writer waited for space");
                Thread.sleep(10);
            }
            region.flushesRefused = true;
            holder.set(disk);
            ExecutionException failed = assertThrows(ExecutionException.class, () -> filling.get(60, TimeUnit.SECONDS));
            String message = String.valueOf(failed.getCause().getMessage());
            assertTrue(message.contains("has no free space, and its cache device takes no more flushes")
                    && message.contains("the device takes no more flushes"), message);
        } finally {
            e.abandon();
        }
    }
}
