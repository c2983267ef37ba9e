package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static pcache.api.nbd.NbdWire.CHUNK_OFFSET_DATA;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Out-of-order replies, per-connection backpressure, and many connections at once. */
@Timeout(30)
class ConcurrencyTest {
    private static final int READ = NbdCommand.READ.type;
    private static final int WRITE = NbdCommand.WRITE.type;

    static void await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition not reached within 10 s");
            }
            Thread.sleep(5);
        }
    }

    /** A hook that parks matching operations until {@link #release}; counts how many entered. */
    static final class Gate implements MemoryBlockDevice.Hook {
        final CountDownLatch open = new CountDownLatch(1);
        final AtomicInteger entered = new AtomicInteger();
        final AtomicInteger maxConcurrent = new AtomicInteger();
        private final AtomicInteger concurrent = new AtomicInteger();
        private final String operation;
        private final long offset;

        /** Parks {@code operation} at {@code offset}; offset -1 parks every offset. */
        Gate(String operation, long offset) {
            this.operation = operation;
            this.offset = offset;
        }

        @Override
        public void before(String op, long off, long length) throws IOException {
            if (!op.equals(operation) || (offset >= 0 && off != offset)) {
                return;
            }
            entered.incrementAndGet();
            maxConcurrent.accumulateAndGet(concurrent.incrementAndGet(), Math::max);
            try {
                if (!open.await(20, TimeUnit.SECONDS)) {
                    throw new IOException("gate never opened");
                }
            } catch (InterruptedException e) {
                throw new InterruptedIOException();
            } finally {
                concurrent.decrementAndGet();
            }
        }

        void release() {
            open.countDown();
        }
    }

    @Test
    void aSlowRequestDoesNotStallAFastOneOnTheSameConnection() throws Exception {
        try (ServerFixture fixture = new ServerFixture();
             RawNbdClient c = fixture.open("disk", true)) {
            Gate gate = new Gate("read", 0);
            fixture.disk.setHook(gate);
            c.request(0, READ, 1, 0, 4096, null);
            await(() -> gate.entered.get() == 1);
            c.request(0, WRITE, 2, 8192, 4096, new byte[4096]);
            RawNbdClient.Reply first = c.readReply(0);
            assertEquals(2, first.cookie(), "the write overtakes the parked read");
            assertEquals(0, first.error());
            gate.release();
            RawNbdClient.Reply second = c.readReply(0);
            assertEquals(1, second.cookie());
            assertEquals(CHUNK_OFFSET_DATA, second.type());
        }
    }

    /**
     * Requests stuck on the device (misses waiting for a backing device that is away) hold every
     * worker; another client's request queued behind them still gets a worker, added while they
     * wait. Before, the pool had a fixed size, and the other client waited until the stuck ones
     * ended (here 20 s; with a cache's default backing timeout, 30 s each).
     */
    @Test
    void requestsStuckOnTheDeviceDoNotHoldUpAnotherClient() throws Exception {
        try (ServerFixture fixture = new ServerFixture(NbdServerConfig.defaults().withWorkers(2)
                .withDrainTimeout(Duration.ofSeconds(5)));
             RawNbdClient stuck = fixture.open("disk", true);
             RawNbdClient other = fixture.open("disk", true)) {
            Gate gate = new Gate("read", 0);
            fixture.disk.setHook(gate);
            try {
                for (int i = 0; i < 6; i++) {
                    stuck.request(0, READ, i, 0, 4096, null);
                }
                await(() -> gate.entered.get() == 2); // both configured workers taken
                other.request(0, READ, 100, 8192, 4096, null);
                RawNbdClient.Reply reply = other.readReply(0); // within the client's 10 s read timeout
                assertEquals(100, reply.cookie());
                assertEquals(0, reply.error());
                await(() -> gate.entered.get() == 6); // the stuck ones got workers too
            } finally {
                gate.release();
            }
            for (int i = 0; i < 6; i++) {
                assertEquals(0, stuck.readReply(0).error());
            }
        }
    }

    @Test
    void theInflightRequestCapStopsReadingUntilRepliesDrain() throws Exception {
        NbdServerConfig config = NbdServerConfig.defaults().withWorkers(8).withMaxInflightRequestsPerConnection(4);
        assertBackpressure(config, 4096, 4);
    }

    @Test
    void theInflightByteCapStopsReadingUntilRepliesDrain() throws Exception {
        NbdServerConfig config = NbdServerConfig.defaults().withWorkers(8)
                .withMaxInflightBytesPerConnection(64 << 10);
        assertBackpressure(config, 16 << 10, 4);
    }

    private static void assertBackpressure(NbdServerConfig config, int writeBytes, int expectedInDevice)
            throws Exception {
        try (ServerFixture fixture = new ServerFixture(config);
             RawNbdClient c = fixture.open("disk", false)) {
            Gate gate = new Gate("write", -1);
            fixture.disk.setHook(gate);
            int requests = 20;
            for (int i = 0; i < requests; i++) {
                c.request(0, WRITE, i, (long) i * writeBytes, writeBytes, new byte[writeBytes]);
            }
            await(() -> gate.entered.get() == expectedInDevice);
            Thread.sleep(200); // give a broken limiter the chance to let more through
            assertEquals(expectedInDevice, gate.entered.get());
            gate.release();
            Set<Long> cookies = new HashSet<>();
            for (int i = 0; i < requests; i++) {
                RawNbdClient.Reply r = c.readReply(0);
                assertEquals(0, r.error());
                cookies.add(r.cookie());
            }
            assertEquals(requests, cookies.size());
            assertEquals(expectedInDevice, gate.maxConcurrent.get());
        }
    }

    @Test
    void manyConnectionsWithPipelinedRequests() throws Exception {
        int connections = 8;
        int perConnection = 64;
        try (ServerFixture fixture = new ServerFixture()) {
            ExecutorService clients = Executors.newFixedThreadPool(connections);
            try {
                List<Future<?>> results = new ArrayList<>();
                for (int n = 0; n < connections; n++) {
                    int id = n;
                    results.add(clients.submit(() -> {
                        exercise(fixture, id, perConnection);
                        return null;
                    }));
                }
                for (Future<?> f : results) {
                    f.get(20, TimeUnit.SECONDS);
                }
            } finally {
                clients.shutdownNow();
            }
            assertEquals((long) connections * perConnection * 2,
                    fixture.server.statistics("disk").orElseThrow().requests());
        }
    }

    /** Pipelines writes to its own 1 MiB region, then reads them all back, replies in any order. */
    private static void exercise(ServerFixture fixture, int id, int count) throws IOException {
        boolean structured = id % 2 == 0;
        long base = (long) id << 20;
        Random random = new Random(id);
        byte[][] blocks = new byte[count][4096];
        try (RawNbdClient c = fixture.open("disk", structured)) {
            for (int i = 0; i < count; i++) {
                random.nextBytes(blocks[i]);
                c.request(0, WRITE, i, base + i * 4096L, 4096, blocks[i]);
            }
            for (int i = 0; i < count; i++) {
                assertEquals(0, c.readReply(0).error());
            }
            for (int i = 0; i < count; i++) {
                c.request(0, READ, i, base + i * 4096L, 4096, null);
            }
            Set<Long> seen = new HashSet<>();
            for (int i = 0; i < count; i++) {
                RawNbdClient.Reply r = c.readReply(4096);
                assertEquals(0, r.error());
                assertTrue(seen.add(r.cookie()));
                byte[] data = r.payload();
                if (structured) {
                    ByteBuffer b = ByteBuffer.wrap(r.payload());
                    assertEquals(base + r.cookie() * 4096, b.getLong());
                    data = new byte[4096];
                    b.get(data);
                }
                assertArrayEquals(blocks[(int) r.cookie()], data);
            }
        }
    }
}
