package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

import org.junit.jupiter.api.Test;

import pcache.api.CachePos;
import pcache.api.spi.CacheKey;
import pcache.api.spi.KeyIndex;
import pcache.api.spi.KeyIndexProvider;
import pcache.api.spi.KeyLog;
import pcache.api.spi.KeyLogContext;
import pcache.api.spi.KeyLoggedException;
import pcache.api.spi.Kset;
import pcache.engine.internal.engine.CacheEngine;
import pcache.keyindex.internal.StripedKeyIndexProvider;
import pcache.segment.internal.FifoSegmentAllocatorProvider;
import pcache.writeback.internal.OrderedWritebackPolicy;

/**
 * A FUA write whose key reached the log but whose wait for the ksets before it failed (an
 * interrupt, another kset's failure) fails, and keeps its key: the log holds it, so the index,
 * the segment's reference and the dirty count must too. Before, the write was rolled back as if
 * never logged: reads served the older version while write-back later wrote the newer one, and GC
 * gave the segment's reference back a second time when it passed the kset.
 */
class LoggedKeyTest {

    private static final long LOGICAL = 64 * Harness.MIB;

    @Test
    void aFuaWriteWhoseKeyIsLoggedButWhoseWaitFailsKeepsItsKey() throws Exception {
        AtomicBoolean failNextWait = new AtomicBoolean();
        KeyIndexProvider real = new StripedKeyIndexProvider();
        KeyIndexProvider hooked = new KeyIndexProvider() {
            @Override
            public String name() {
                return real.name();
            }

            @Override
            public KeyIndex createIndex(long logicalSizeBytes) {
                return real.createIndex(logicalSizeBytes);
            }

            @Override
            public KeyLog openLog(KeyLogContext context) {
                return new WaitFailing(real.openLog(context), failNextWait);
            }
        };
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(6), false);
        MemoryBacking disk = new MemoryBacking(LOGICAL, "disk", false);
        BackingHolder holder = Harness.holder(disk);
        CacheEngine e = CacheEngine.open(Harness.config("logged"), pmem, Harness.CRC, new FifoSegmentAllocatorProvider(),
                hooked, holder, () -> Harness.onlyWhenDraining(new OrderedWritebackPolicy()));
        try {
            e.write(0, Harness.pattern(0, 4096, 1), false);
            e.flush();
            failNextWait.set(true);
            assertThrows(KeyLoggedException.class, () -> e.write(0, Harness.pattern(0, 4096, 2), true));
            assertArrayEquals(Harness.pattern(0, 4096, 2).array(), Harness.read(e, 0, 4096),
                    "reads see what the log holds");
            assertEquals(8192, e.statistics().dirtyBytes(), "both versions count dirty until written back");
            e.drain(null);
            assertArrayEquals(Harness.pattern(0, 4096, 2).array(), disk.content(0, 4096));
            assertEquals(0, e.statistics().dirtyBytes());
        } finally {
            e.close();
        }
        CacheEngine reopened = CacheEngine.open(Harness.config("logged"), pmem.reopen(), Harness.CRC,
                new FifoSegmentAllocatorProvider(), real, holder, () -> null);
        try {
            assertArrayEquals(Harness.pattern(0, 4096, 2).array(), Harness.read(reopened, 0, 4096));
        } finally {
            reopened.close();
        }
    }

    /** A key log whose next forced append, once its kset is written, fails its wait. */
    private record WaitFailing(KeyLog log, AtomicBoolean failNextWait) implements KeyLog {
        @Override
        public void append(CacheKey key, boolean forceClose) throws IOException {
            log.append(key, forceClose);
            if (forceClose && failNextWait.getAndSet(false)) {
                throw new KeyLoggedException("injected: the wait for the ksets before it failed",
                        new java.io.InterruptedIOException("interrupted"));
            }
        }

        @Override
        public Kset read(CachePos position) throws IOException {
            return log.read(position);
        }

        @Override
        public void start(CachePos head) throws IOException {
            log.start(head);
        }

        @Override
        public CachePos head() {
            return log.head();
        }

        @Override
        public CachePos persistedHead() {
            return log.persistedHead();
        }

        @Override
        public void flush() throws IOException {
            log.flush();
        }

        @Override
        public CachePos flushToBarrier(Consumer<CachePos> atBarrier) throws IOException {
            return log.flushToBarrier(atBarrier);
        }

        @Override
        public int pendingKeys() {
            return log.pendingKeys();
        }

        @Override
        public boolean flushBarrierAfter(CachePos position) {
            return log.flushBarrierAfter(position);
        }

        @Override
        public void writtenBack(CachePos position) {
            log.writtenBack(position);
        }

        @Override
        public void close() {
            log.close();
        }
    }
}
