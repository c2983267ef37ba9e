package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Socket-level fuzz of a running {@link NbdServer}: mutated client streams (from the same seeds
 * as the Jazzer targets) on many concurrent TCP and unix-socket connections, some read to the
 * end, some dropped abruptly. Throughout, a bystander client on its own export checks that it is
 * unaffected; at the end the server must have no connection, no per-connection thread and no
 * internal error left, bounded heap and direct memory, and still serve new clients.
 *
 * <p>CI runs {@value #DEFAULT_INPUTS} inputs; the long run is
 * {@code -Dpcache.fuzz.socket.inputs=1000000} (see docs/RELIABILITY.md).
 */
class SocketFuzzTest {
    static final int DEFAULT_INPUTS = 1500;
    static final int INPUTS = Integer.getInteger("pcache.fuzz.socket.inputs", DEFAULT_INPUTS);
    static final long SEED = Long.getLong("pcache.fuzz.socket.seed", 6_2026L);
    static final int PARALLEL = 8;
    /** A server that got our EOF must close its side within this. */
    static final long CLOSE_WITHIN_MILLIS = 10_000;

    @TempDir
    Path dir;

    @Test
    void mutatedStreamsOnManyConnectionsNeverHurtTheServerOrOtherClients() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120) + TimeUnit.MILLISECONDS.toNanos(20L * INPUTS);
        MemoryBlockDevice disk = new MemoryBlockDevice("disk", SessionDriver.DISK_BYTES);
        MemoryBlockDevice other = new MemoryBlockDevice("other", SessionDriver.OTHER_BYTES);
        MemoryBlockDevice guarded = new MemoryBlockDevice("bystander", 1 << 20);
        NbdServerConfig config = NbdServerConfig.defaults().withMaxConnections(4 * PARALLEL + 8)
                .withDrainTimeout(Duration.ofSeconds(2)).withHandshakeTimeout(Duration.ofSeconds(5)).withWorkers(4);
        Set<Thread> threadsBefore = ServerHealth.connectionThreads();
        try (ServerHealth health = new ServerHealth(); NbdServer server = new NbdServer(config)) {
            server.export("disk", disk);
            server.export("other", other);
            server.export("bystander", guarded);
            SocketAddress tcp = server.listen(ListenAddress.parse("127.0.0.1:0"));
            SocketAddress unix = server.listen(ListenAddress.unix(dir.resolve("nbd.sock")));
            long heapBefore = ServerHealth.heapAfterGc();
            long directBefore = ServerHealth.directMemory();

            List<byte[]> pool = new ArrayList<>(SeedCorpus.handshakeSeeds().values());
            pool.addAll(SeedCorpus.committedInputs("handshake"));
            AtomicLong served = new AtomicLong();
            AtomicLong bytesBack = new AtomicLong();
            ExecutorService clients = Executors.newFixedThreadPool(PARALLEL);
            try (RawNbdClient bystander = RawNbdClient.open(tcp, "bystander", true)) {
                List<Future<?>> running = new ArrayList<>();
                for (int p = 0; p < PARALLEL; p++) {
                    int lane = p;
                    running.add(clients.submit(() -> {
                        Random random = new Random(SEED * 31 + lane);
                        Mutator mutator = new Mutator(random, pool, 32 << 10);
                        for (int i = lane; i < INPUTS; i += PARALLEL) {
                            byte[] input = mutator.next();
                            SocketAddress to = random.nextBoolean() ? tcp : unix;
                            boolean abrupt = random.nextInt(4) == 0;
                            try {
                                bytesBack.addAndGet(exchange(to, input, abrupt));
                            } catch (IOException | AssertionError e) {
                                throw new AssertionError("input #" + i + " (lane " + lane + ", seed " + SEED
                                        + ", abrupt " + abrupt + "): " + e.getMessage() + "\ninput: "
                                        + java.util.HexFormat.of().formatHex(input), e);
                            }
                            served.incrementAndGet();
                        }
                        return null;
                    }));
                }
                int round = 0;
                long nextReport = INPUTS / 20;
                long started = System.nanoTime();
                while (served.get() < INPUTS && !allDone(running)) {
                    if (INPUTS >= 100_000 && served.get() >= nextReport) { // progress of long runs
                        long seconds = Math.max(1, TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started));
                        System.out.printf("socket fuzz: %d inputs in %d s, %d connections open, heap %d MiB%n",
                                served.get(), seconds, server.connectionCount(),
                                java.lang.management.ManagementFactory.getMemoryMXBean().getHeapMemoryUsage()
                                        .getUsed() >> 20);
                        nextReport += INPUTS / 20;
                    }
                    assertTrue(System.nanoTime() < deadline, "socket fuzz ran out of time after " + served + " inputs");
                    bystanderRoundTrip(bystander, round++);
                    assertTrue(health.errors().isEmpty(), "internal errors: " + health.errors());
                    Thread.sleep(20);
                }
                for (Future<?> f : running) {
                    f.get();
                }
                bystanderRoundTrip(bystander, round);
            } finally {
                clients.shutdownNow();
            }
            assertEquals(INPUTS, served.get());
            assertTrue(ServerHealth.eventually(15, () -> server.connectionCount() == 0),
                    "connections left open: " + server.connectionCount());
            assertTrue(ServerHealth.eventually(15, () -> ServerHealth.connectionThreadsSince(threadsBefore) == 0),
                    "per-connection threads left: " + ServerHealth.connectionThreadsSince(threadsBefore));
            assertTrue(health.errors().isEmpty(), "internal errors: " + health.errors());
            long heapGrowth = ServerHealth.heapAfterGc() - heapBefore;
            long directGrowth = ServerHealth.directMemory() - directBefore;
            // BufferPool keeps at most 8 MiB per size class (9 classes); nothing else may stay
            assertTrue(heapGrowth < (64L << 20), "heap grew by " + heapGrowth + " bytes");
            assertTrue(directGrowth <= 9L * BufferPool.RETAINED_BYTES_PER_CLASS + (8L << 20),
                    "direct memory grew by " + directGrowth + " bytes");
            try (RawNbdClient fresh = RawNbdClient.open(tcp, "disk", false)) {
                fresh.request(0, NbdCommand.READ.type, 1, 0, 512, null);
                assertEquals(0, fresh.readReply(512).error());
            }
            System.out.printf("socket fuzz: %d inputs on %d lanes, %d bytes answered, heap +%d KiB, direct +%d KiB%n",
                    served.get(), PARALLEL, bytesBack.get(), heapGrowth >> 10, directGrowth >> 10);
        }
    }

    private static boolean allDone(List<Future<?>> futures) {
        return futures.stream().allMatch(Future::isDone);
    }

    /** The bystander writes a pattern to its own export and reads it back. */
    private static void bystanderRoundTrip(RawNbdClient c, int round) throws IOException {
        byte[] pattern = new byte[4096];
        new Random(round).nextBytes(pattern);
        long offset = (round % 256) * 4096L;
        c.request(0, NbdCommand.WRITE.type, 2L * round, offset, pattern.length, pattern);
        assertEquals(0, c.errorOf(2L * round));
        c.request(0, NbdCommand.READ.type, 2L * round + 1, offset, pattern.length, null);
        RawNbdClient.Reply r = c.readReply(0);
        assertEquals(2L * round + 1, r.cookie());
        assertEquals(0, r.error());
        assertArrayEquals(pattern, java.util.Arrays.copyOfRange(r.payload(), 8, r.payload().length));
    }

    /**
     * Sends {@code input} and, unless {@code abrupt}, half-closes and reads until the server
     * closes: a server that got EOF must close within {@link #CLOSE_WITHIN_MILLIS}. Abrupt
     * clients close right after sending (or after a second if the server does not take it).
     * Non-blocking, so a server that stops reading (backpressure) cannot deadlock the client.
     *
     * @return bytes the server sent
     */
    static long exchange(SocketAddress address, byte[] input, boolean abrupt) throws IOException {
        try (SocketChannel channel = SocketChannel.open(address); Selector selector = Selector.open()) {
            if (address instanceof InetSocketAddress) {
                channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
            }
            channel.configureBlocking(false);
            ByteBuffer out = ByteBuffer.wrap(input);
            ByteBuffer in = ByteBuffer.allocate(64 << 10);
            long received = 0;
            boolean halfClosed = false;
            long start = System.nanoTime();
            SelectionKey key = channel.register(selector, SelectionKey.OP_READ | SelectionKey.OP_WRITE);
            while (true) {
                long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                if (abrupt && (!out.hasRemaining() || waited > 1000)) {
                    return received; // close without reading the rest (and maybe without sending all)
                }
                if (waited > CLOSE_WITHIN_MILLIS + 1000L * input.length / 4096) {
                    throw new AssertionError("server neither answered nor closed within " + waited + " ms; sent "
                            + out.position() + "/" + input.length + " bytes, received " + received);
                }
                if (!out.hasRemaining() && !halfClosed) {
                    try {
                        channel.shutdownOutput();
                    } catch (IOException e) {
                        // already reset by the server; reading tells the rest
                    }
                    halfClosed = true;
                    key.interestOps(SelectionKey.OP_READ);
                }
                selector.select(100);
                selector.selectedKeys().clear();
                if (key.isValid() && key.isWritable() && out.hasRemaining()) {
                    try {
                        channel.write(out);
                    } catch (IOException e) {
                        out.position(out.limit()); // the server closed on us: fine, now read what it said
                    }
                }
                in.clear();
                int n;
                try {
                    n = channel.read(in);
                } catch (IOException e) {
                    return received; // reset by the server: a hard disconnect is an allowed answer
                }
                if (n < 0) {
                    return received;
                }
                received += n;
            }
        }
    }
}
