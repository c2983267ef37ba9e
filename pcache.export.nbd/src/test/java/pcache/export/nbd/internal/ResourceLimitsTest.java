package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static pcache.api.nbd.NbdWire.*;
import static pcache.export.nbd.internal.NbdProtocol.*;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import pcache.api.nbd.NbdWire;

/**
 * Resource limits of the NBD side (issue 6): many connections, clients that never read their
 * replies, clients that stall in the handshake, floods of tiny requests. Each test asserts that
 * memory and threads stay bounded and that a well-behaved client is unaffected; none measures
 * speed. Heavier variants run with {@code -Dpcache.test.long=true}.
 */
@Timeout(180)
class ResourceLimitsTest {
    static final boolean LONG = Boolean.getBoolean("pcache.test.long");
    private static final int READ = NbdCommand.READ.type;
    private static final int WRITE = NbdCommand.WRITE.type;

    /** A second client doing a verified write and read on its own range of "disk". */
    private static void wellBehavedRoundTrip(RawNbdClient c, long offset, int round) throws IOException {
        byte[] pattern = new byte[4096];
        new Random(round).nextBytes(pattern);
        c.request(0, WRITE, 1, offset, pattern.length, pattern);
        assertEquals(0, c.errorOf(1));
        c.request(0, READ, 2, offset, pattern.length, null);
        RawNbdClient.Reply r = c.readReply(pattern.length);
        assertEquals(0, r.error());
        byte[] data = r.structured() ? java.util.Arrays.copyOfRange(r.payload(), 8, r.payload().length) : r.payload();
        assertArrayEquals(pattern, data);
    }

    @Test
    void aThousandConcurrentConnectionsAreServedAndOneMoreIsRefusedCleanly() throws Exception {
        int connections = LONG ? 4000 : 1000;
        NbdServerConfig config = NbdServerConfig.defaults().withMaxConnections(connections)
                .withDrainTimeout(Duration.ofSeconds(5));
        Set<Thread> threadsBefore = ServerHealth.connectionThreads();
        List<String> warnings = new ArrayList<>();
        try (ServerHealth health = new ServerHealth(); LogCapture refusals = new LogCapture(warnings);
             ServerFixture fixture = new ServerFixture(config)) {
            List<RawNbdClient> clients = new ArrayList<>();
            try {
                for (int i = 0; i < connections; i++) {
                    clients.add(fixture.open(i % 2 == 0 ? "disk" : "other", i % 3 == 0));
                }
                assertEquals(connections, fixture.server.connectionCount());
                // every connection serves a request while all are open: pipelined, then collected
                for (int i = 0; i < connections; i++) {
                    clients.get(i).request(0, READ, i, (i % 64) * 512L, 512, null);
                }
                for (int i = 0; i < connections; i++) {
                    RawNbdClient.Reply r = clients.get(i).readReply(512);
                    assertEquals(i, r.cookie());
                    assertEquals(0, r.error());
                }

                // one beyond the limit: closed right after accept, before the greeting, and logged
                try (RawNbdClient refused = fixture.connect()) {
                    assertTrue(refused.closedBeforeAnyByte(),
                            "connection beyond max_connections was not closed before the greeting");
                }
                assertTrue(ServerHealth.eventually(5, () -> refusals.matching("max_connections") == 1),
                        "refusal not logged once: " + warnings);
                assertEquals(connections, fixture.server.connectionCount());

                // a slot that frees up is usable again
                clients.remove(0).close();
                assertTrue(ServerHealth.eventually(10, () -> fixture.server.connectionCount() == connections - 1));
                try (RawNbdClient again = fixture.open("disk", true)) {
                    wellBehavedRoundTrip(again, 0, 1);
                }
            } finally {
                for (RawNbdClient c : clients) {
                    c.close();
                }
            }
            assertTrue(ServerHealth.eventually(30, () -> fixture.server.connectionCount() == 0),
                    "connections left: " + fixture.server.connectionCount());
            assertTrue(ServerHealth.eventually(30, () -> ServerHealth.connectionThreadsSince(threadsBefore) == 0),
                    "threads left: " + ServerHealth.connectionThreadsSince(threadsBefore));
            assertTrue(health.errors().isEmpty(), "internal errors: " + health.errors());
        }
    }

    /**
     * A client pipelines 2 MiB READs and never reads a reply. The server may hold at most the
     * connection's in-flight budget (here 16 MiB) for it: its reader stops, TCP pushes back, the
     * client's writes stall. A second client on the same export is served meanwhile. When the
     * stuck client goes away, everything it held is released.
     */
    @Test
    void aClientThatNeverReadsItsRepliesIsHeldAtItsBudgetAndOthersAreUnaffected() throws Exception {
        long budget = 16 << 20;
        int readBytes = 2 << 20;
        NbdServerConfig config = NbdServerConfig.defaults().withMaxInflightBytesPerConnection(budget)
                .withDrainTimeout(Duration.ofSeconds(5));
        Set<Thread> threadsBefore = ServerHealth.connectionThreads();
        try (ServerHealth health = new ServerHealth(); ServerFixture fixture = new ServerFixture(config);
             RawNbdClient other = fixture.open("disk", true)) {
            long heapBefore = ServerHealth.heapAfterGc();
            int stuckClients = LONG ? 16 : 2;
            List<SocketChannel> stuck = new ArrayList<>();
            long maxInflight = 0;
            long maxHeapGrowth = 0;
            try {
                for (int s = 0; s < stuckClients; s++) {
                    SocketChannel c = openInTransmission(fixture.address, "disk");
                    stuck.add(c);
                    long sent = sendUntilStalled(c, readBytes, fixture.disk.sizeBytes());
                    assertTrue(sent > 0, "the stuck client sent nothing");
                }
                for (int round = 0; round < 20; round++) {
                    wellBehavedRoundTrip(other, (8 << 20) + round * 4096L, round);
                    maxInflight = Math.max(maxInflight, fixture.server.inflightBytes());
                }
                maxHeapGrowth = ServerHealth.heapAfterGc() - heapBefore;
                // each stuck connection holds its budget plus at most one request admitted alone
                long perConnection = budget;
                assertTrue(maxInflight <= stuckClients * perConnection + 4096,
                        "in flight " + maxInflight + " bytes for " + stuckClients + " stuck clients");
                assertTrue(fixture.server.inflightRequests() <= stuckClients
                        * NbdServerConfig.DEFAULT_MAX_INFLIGHT_REQUESTS + 1);
                // G1 keeps a 2 MiB array (plus header) in two 2 MiB humongous regions: twice its size
                assertTrue(maxHeapGrowth <= 2 * stuckClients * perConnection + (48L << 20),
                        "heap grew by " + maxHeapGrowth + " bytes for " + stuckClients + " stuck clients");
            } finally {
                for (SocketChannel c : stuck) {
                    c.close();
                }
            }
            assertTrue(ServerHealth.eventually(15, () -> fixture.server.connectionCount() == 1),
                    "stuck connections not released: " + fixture.server.connectionCount());
            assertTrue(ServerHealth.eventually(15, () -> fixture.server.inflightBytes() == 0));
            wellBehavedRoundTrip(other, 8 << 20, 99);
            other.close();
            assertTrue(ServerHealth.eventually(15, () -> ServerHealth.connectionThreadsSince(threadsBefore) == 0));
            assertTrue(health.errors().isEmpty(), "internal errors: " + health.errors());
            System.out.printf("non-reading clients: %d, max in flight %d KiB, heap growth %d KiB%n",
                    stuckClients, maxInflight >> 10, maxHeapGrowth >> 10);
        }
    }

    /**
     * Many clients that never read together hold at most the server-wide budget (not the
     * per-connection budget times the number of connections). Meanwhile a well-behaved client's
     * small I/O passes on the reserve; its large READ waits for budget and completes as soon as
     * the stuck clients are gone.
     */
    @Test
    void nonReadingClientsTogetherStayWithinTheServerWideBudget() throws Exception {
        long perConnection = 16 << 20;
        long total = 40 << 20;
        int readBytes = 2 << 20;
        NbdServerConfig config = NbdServerConfig.defaults().withMaxInflightBytesPerConnection(perConnection)
                .withMaxInflightBytesTotal(total).withDrainTimeout(Duration.ofSeconds(5));
        try (ServerHealth health = new ServerHealth(); ServerFixture fixture = new ServerFixture(config);
             RawNbdClient other = fixture.open("disk", false)) {
            int stuckClients = 6; // 96 MiB if only the per-connection budget applied
            List<SocketChannel> stuck = new ArrayList<>();
            try {
                for (int s = 0; s < stuckClients; s++) {
                    SocketChannel c = openInTransmission(fixture.address, "disk");
                    stuck.add(c);
                    sendUntilStalled(c, readBytes, fixture.disk.sizeBytes());
                }
                long inflight = fixture.server.inflightBytes();
                assertTrue(inflight <= total, "in flight " + inflight + " bytes, budget " + total);
                wellBehavedRoundTrip(other, 12 << 20, 1); // 4 KiB: passes on the reserve
                other.request(0, READ, 77, 0, readBytes, null); // 2 MiB: waits for budget
                Thread.sleep(300);
                assertTrue(fixture.server.inflightBytes() <= total + (1 << 20));
            } finally {
                for (SocketChannel c : stuck) {
                    c.close();
                }
            }
            RawNbdClient.Reply r = other.readReply(readBytes);
            assertEquals(77, r.cookie());
            assertEquals(0, r.error());
            assertTrue(ServerHealth.eventually(15, () -> fixture.server.inflightBytes() == 0));
            assertTrue(health.errors().isEmpty(), "internal errors: " + health.errors());
        }
    }

    /**
     * Clients that connect and then say nothing, or stop in the middle of an option, hold a
     * connection slot until the handshake timeout and are then dropped; meanwhile the server
     * serves others, and a slot-exhausting crowd of them only delays newcomers until then.
     */
    @Test
    void clientsStalledInTheHandshakeAreDroppedAtTheTimeout() throws Exception {
        int stalled = 20;
        // the timeout leaves the crowd time to connect one by one on a loaded machine: all of them
        // must be connected at once before the first is dropped
        NbdServerConfig config = NbdServerConfig.defaults().withMaxConnections(stalled)
                .withHandshakeTimeout(Duration.ofSeconds(5)).withDrainTimeout(Duration.ofSeconds(2));
        Set<Thread> threadsBefore = ServerHealth.connectionThreads();
        try (ServerHealth health = new ServerHealth(); ServerFixture fixture = new ServerFixture(config)) {
            List<RawNbdClient> crowd = new ArrayList<>();
            long start = System.nanoTime();
            try {
                for (int i = 0; i < stalled; i++) {
                    RawNbdClient c = fixture.connect();
                    crowd.add(c);
                    switch (i % 4) {
                        case 0: // silent after connecting
                            break;
                        case 1: // reads the greeting, sends nothing
                            c.readGreeting();
                            break;
                        case 2: // flags, then half an option header
                            c.readGreeting();
                            c.sendClientFlags(CLIENT_FLAGS_KNOWN);
                            c.writeRaw(new byte[] {0x49, 0x48, 0x41, 0x56});
                            break;
                        default: // an option announcing 1000 bytes of data, 10 sent
                            c.readGreeting();
                            c.sendClientFlags(CLIENT_FLAGS_KNOWN);
                            c.sendOptionHeader(OPTION_MAGIC, OPT_GO, 1000);
                            c.writeRaw(new byte[10]);
                            break;
                    }
                }
                assertTrue(ServerHealth.eventually(5, () -> fixture.server.connectionCount() == stalled),
                        "connections: " + fixture.server.connectionCount() + " of " + stalled);
                // the slots are full: a newcomer is refused at once rather than queued
                try (RawNbdClient newcomer = fixture.connect()) {
                    assertTrue(newcomer.closedBeforeAnyByte(), "a newcomer was greeted (queued) instead of refused");
                }
                for (RawNbdClient c : crowd) {
                    assertTrue(c.closedByServer(), "a stalled client was not dropped");
                }
                long dropSeconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
                assertTrue(dropSeconds < 30, "stalled clients dropped only after " + dropSeconds + " s (timeout 5 s)");
            } finally {
                for (RawNbdClient c : crowd) {
                    c.close();
                }
            }
            assertTrue(ServerHealth.eventually(10, () -> fixture.server.connectionCount() == 0));
            try (RawNbdClient c = fixture.open("disk", true)) {
                wellBehavedRoundTrip(c, 0, 3);
            }
            assertTrue(ServerHealth.eventually(10, () -> ServerHealth.connectionThreadsSince(threadsBefore) == 0));
            assertTrue(health.errors().isEmpty(), "internal errors: " + health.errors());
        }
    }

    /**
     * A client that sends option after option (LIST) and never reads the replies: the server
     * answers options synchronously, so it stops reading once the replies back up, holds no more
     * than the socket buffers, and drops the client at the handshake timeout.
     */
    @Test
    void aClientFloodingOptionsWithoutReadingIsDroppedAtTheHandshakeTimeout() throws Exception {
        NbdServerConfig config = NbdServerConfig.defaults().withHandshakeTimeout(Duration.ofSeconds(2))
                .withDrainTimeout(Duration.ofSeconds(2));
        try (ServerHealth health = new ServerHealth(); ServerFixture fixture = new ServerFixture(config)) {
            long heapBefore = ServerHealth.heapAfterGc();
            try (SocketChannel c = SocketChannel.open()) {
                c.setOption(java.net.StandardSocketOptions.SO_RCVBUF, 4096); // replies back up sooner
                c.connect(fixture.address);
                readFully(c, 18);
                c.write(ByteBuffer.allocate(4).putInt(CLIENT_FLAGS_KNOWN).flip());
                c.configureBlocking(false);
                ByteBuffer list = ByteBuffer.allocate(16);
                long sent = 0;
                boolean droppedWhileSending = false;
                long lastProgress = System.nanoTime();
                // the server has stopped reading once writes made no progress for 500 ms over at
                // least 100 tries: time alone could also be this thread not being scheduled
                int idleTries = 0;
                try {
                    while (idleTries < 100 || System.nanoTime() - lastProgress < TimeUnit.MILLISECONDS.toNanos(500)) {
                        list.clear();
                        list.putLong(OPTION_MAGIC).putInt(OPT_LIST).putInt(0).flip();
                        while (list.hasRemaining() && (idleTries < 100
                                || System.nanoTime() - lastProgress < TimeUnit.MILLISECONDS.toNanos(500))) {
                            if (c.write(list) > 0) {
                                lastProgress = System.nanoTime();
                                idleTries = 0;
                            } else {
                                idleTries++;
                                Thread.sleep(1);
                            }
                        }
                        sent++;
                    }
                } catch (IOException e) {
                    droppedWhileSending = true; // the timeout struck before the buffers filled up
                }
                assertTrue(sent > 100, "only " + sent + " options sent");
                long heapGrowth = ServerHealth.heapAfterGc() - heapBefore;
                assertTrue(heapGrowth < (16L << 20), "heap grew by " + heapGrowth + " bytes for " + sent + " options");
                // the server stopped reading; at the timeout it drops the connection
                assertTrue(ServerHealth.eventually(10, () -> fixture.server.connectionCount() == 0),
                        "option flooder not dropped");
                System.out.printf("option flood: %d LIST options sent (%s), heap +%d KiB%n", sent,
                        droppedWhileSending ? "dropped while sending" : "then the server stopped reading",
                        heapGrowth >> 10);
            }
            try (RawNbdClient c = fixture.open("disk", true)) {
                wellBehavedRoundTrip(c, 0, 5);
            }
            assertTrue(health.errors().isEmpty(), "internal errors: " + health.errors());
        }
    }

    /**
     * One client pipelines a flood of tiny requests (512-byte READs, FLUSHes and refused
     * misaligned READs) while reading replies on another thread: every one is answered, requests
     * in flight never exceed the per-connection cap, and a second client is served meanwhile.
     */
    @Test
    void aFloodOfTinyRequestsIsAnsweredWithBoundedRequestsInFlight() throws Exception {
        int requests = LONG ? 2_000_000 : 60_000;
        NbdServerConfig config = NbdServerConfig.defaults().withDrainTimeout(Duration.ofSeconds(5));
        try (ServerHealth health = new ServerHealth(); ServerFixture fixture = new ServerFixture(config);
             RawNbdClient flood = fixture.open("disk", false); RawNbdClient other = fixture.open("disk", true)) {
            long heapBefore = ServerHealth.heapAfterGc();
            AtomicLong answered = new AtomicLong();
            AtomicLong errors = new AtomicLong();
            Thread reader = new Thread(() -> {
                try {
                    for (int i = 0; i < requests; i++) {
                        RawNbdClient.Reply r = flood.readReply(0);
                        if (r.error() == 0 && r.cookie() % 3 == 0) {
                            flood.readInto(new byte[512]); // a successful READ's data
                        }
                        if (r.error() != 0) {
                            errors.incrementAndGet();
                        }
                        answered.incrementAndGet();
                    }
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            }, "flood-reader");
            reader.start();
            java.util.concurrent.atomic.AtomicInteger sampledMax = new java.util.concurrent.atomic.AtomicInteger();
            Thread sampler = new Thread(() -> {
                while (reader.isAlive()) {
                    sampledMax.accumulateAndGet(fixture.server.inflightRequests(), Math::max);
                    java.util.concurrent.locks.LockSupport.parkNanos(200_000);
                }
            }, "flood-sampler");
            sampler.setDaemon(true);
            sampler.start();
            int maxInflight = 0;
            for (int i = 0; i < requests; i++) {
                switch (i % 3) {
                    case 0:
                        flood.requestHeader(REQUEST_MAGIC, 0, READ, i, (i % 1024) * 512L, 512);
                        break;
                    case 1:
                        flood.requestHeader(REQUEST_MAGIC, 0, NbdCommand.FLUSH.type, i, 0, 0);
                        break;
                    default:
                        flood.requestHeader(REQUEST_MAGIC, 0, READ, i, 1, 512); // misaligned: EINVAL
                        break;
                }
                if (i % 4096 == 0) {
                    flood.writeRaw(new byte[0]);
                    maxInflight = Math.max(maxInflight, fixture.server.inflightRequests());
                    wellBehavedRoundTrip(other, 12 << 20, i);
                }
            }
            flood.writeRaw(new byte[0]);
            reader.join(TimeUnit.SECONDS.toMillis(120));
            assertFalse(reader.isAlive(), "replies missing: " + answered.get() + " of " + requests);
            sampler.join();
            maxInflight = Math.max(maxInflight, sampledMax.get());
            assertEquals(requests, answered.get());
            assertEquals(requests / 3, errors.get());
            // the sum over both connections: the flood's cap, plus the other client's WRITE whose
            // slot is released just after its reply went out, and the READ it already sent
            assertTrue(maxInflight <= NbdServerConfig.DEFAULT_MAX_INFLIGHT_REQUESTS + 2,
                    "requests in flight " + maxInflight);
            long heapGrowth = ServerHealth.heapAfterGc() - heapBefore;
            assertTrue(heapGrowth < (64L << 20), "heap grew by " + heapGrowth);
            assertTrue(health.errors().isEmpty(), "internal errors: " + health.errors());
            System.out.printf("tiny-request flood: %d requests answered, max %d in flight, heap +%d KiB%n",
                    answered.get(), maxInflight, heapGrowth >> 10);
        }
    }

    /**
     * A client pipelining requests the server must refuse gets an error for each, and the log gets
     * the first {@value FailureLog#IN_FULL} in full and one line for the rest when the connection
     * ends. Before, each refusal was a WARNING line of its own: a client could write hundreds of
     * thousands a second.
     */
    @Test
    void refusedRequestsOfAFloodAreLoggedWithinBounds() throws Exception {
        int requests = 1000;
        List<String> warnings = new ArrayList<>();
        try (LogCapture log = new LogCapture(warnings); ServerFixture fixture = new ServerFixture()) {
            try (RawNbdClient c = fixture.open("disk", false)) {
                for (int i = 0; i < requests; i++) {
                    c.request(0, 0x1234, i, 0, 0, null);
                    if (i % 100 == 99) {
                        for (int r = 0; r < 100; r++) {
                            assertEquals(22, c.readReply(0).error(), "EINVAL for an unknown command");
                        }
                    }
                }
            }
            assertTrue(ServerHealth.eventually(20, () -> log.matching("before the connection ended") == 1),
                    "the rest told when the connection ended: " + warnings.size() + " lines");
            long inFull = log.matching("unknown command type 4660") - log.matching("failed request(s)");
            long told = 0;
            synchronized (warnings) {
                for (String w : warnings) {
                    java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+) more failed request").matcher(w);
                    if (m.find()) {
                        told += Long.parseLong(m.group(1));
                    }
                }
            }
            assertEquals(FailureLog.IN_FULL, inFull, "the first ones in full");
            assertEquals(requests - FailureLog.IN_FULL, told, "every other one counted in a summary line");
            assertTrue(warnings.size() <= FailureLog.IN_FULL + 2, warnings.size() + " lines");
        }
    }

    /**
     * Closing a server whose clients stopped reading their replies takes about its drain timeout
     * and one second for all of them, not one second more per client: the writers are all told to
     * finish first, then given one second together. Before, each stuck connection held the close
     * for its own second (some 17 minutes with 1,024 of them).
     */
    @Test
    void closingWithManyClientsThatStoppedReadingTakesAboutTheDrainTimeout() throws Exception {
        int stuckClients = 10;
        NbdServerConfig config = NbdServerConfig.defaults().withMaxInflightBytesPerConnection(16 << 20)
                .withDrainTimeout(Duration.ofSeconds(1));
        List<SocketChannel> stuck = new ArrayList<>();
        try (ServerFixture fixture = new ServerFixture(config)) {
            for (int s = 0; s < stuckClients; s++) {
                SocketChannel c = openInTransmission(fixture.address, "disk");
                stuck.add(c);
                sendUntilStalled(c, 2 << 20, fixture.disk.sizeBytes());
            }
            long start = System.nanoTime();
            fixture.server.close();
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            // about 2 s (the drain timeout, then one second for every writer); one second per client
            // on top made it at least 11 s
            System.out.printf("closing with %d stuck clients took %d ms%n", stuckClients, millis);
            assertTrue(millis < 6_000, "closing took " + millis + " ms with " + stuckClients + " stuck clients");
        } finally {
            for (SocketChannel c : stuck) {
                c.close();
            }
        }
    }

    // ------------------------------------------------------------------ helpers

    /** A raw channel through GO on {@code export} (simple replies), ready for requests. */
    static SocketChannel openInTransmission(InetSocketAddress address, String export) throws IOException {
        SocketChannel c = SocketChannel.open(address);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ClientStream.Writer.toBytes(bytes).flags(CLIENT_FLAGS_KNOWN)
                .option(OPT_GO, RawNbdClient.infoData(export, INFO_BLOCK_SIZE));
        readFully(c, 18); // greeting
        c.write(ByteBuffer.wrap(bytes.toByteArray()));
        while (true) {
            ByteBuffer header = readFully(c, 20);
            header.getLong();
            header.getInt();
            int type = header.getInt();
            readFully(c, header.getInt());
            if (type == REP_ACK) {
                return c;
            }
            if (type < 0) {
                throw new IOException("GO refused: 0x" + Integer.toHexString(type));
            }
        }
    }

    private static ByteBuffer readFully(SocketChannel c, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            if (c.read(b) < 0) {
                throw new IOException("closed");
            }
        }
        return b.flip();
    }

    /**
     * Sends READ requests without reading replies until the socket takes nothing more for a
     * while: the server stopped reading (backpressure) and the kernel buffers are full.
     *
     * @return requests sent
     */
    static long sendUntilStalled(SocketChannel c, int readBytes, long deviceBytes) throws IOException,
            InterruptedException {
        c.configureBlocking(false);
        long sent = 0;
        long lastProgress = System.nanoTime();
        long limit = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        ByteBuffer request = ByteBuffer.allocate(28);
        while (System.nanoTime() - lastProgress < TimeUnit.MILLISECONDS.toNanos(500)) {
            if (System.nanoTime() > limit) {
                throw new AssertionError("the server kept reading requests it cannot answer: " + sent + " sent");
            }
            request.clear();
            request.putInt(REQUEST_MAGIC).putShort((short) 0).putShort((short) READ).putLong(sent)
                    .putLong((sent * readBytes) % (deviceBytes - readBytes + 1) / 512 * 512).putInt(readBytes).flip();
            while (request.hasRemaining()) {
                if (c.write(request) == 0) {
                    Thread.sleep(1);
                    if (System.nanoTime() - lastProgress >= TimeUnit.MILLISECONDS.toNanos(500)) {
                        return sent; // stalled in the middle of a request: the server stopped reading
                    }
                } else {
                    lastProgress = System.nanoTime();
                }
            }
            sent++;
        }
        return sent;
    }

    /** Captures the server's WARNING records (ServerHealth raises the level; this lowers it back). */
    static final class LogCapture implements AutoCloseable {
        private static final Logger SERVER_LOG = Logger.getLogger("pcache.export.nbd.internal");
        private final List<String> messages;
        private final Level saved = SERVER_LOG.getLevel();
        private final Handler handler = new Handler() {
            @Override
            public void publish(LogRecord record) {
                if (record.getLevel().intValue() >= Level.WARNING.intValue()) {
                    synchronized (messages) {
                        messages.add(record.getMessage());
                    }
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };

        LogCapture(List<String> messages) {
            this.messages = messages;
            SERVER_LOG.setLevel(Level.WARNING);
            SERVER_LOG.setUseParentHandlers(false);
            SERVER_LOG.addHandler(handler);
        }

        long matching(String text) {
            synchronized (messages) {
                return messages.stream().filter(m -> m != null && m.contains(text)).count();
            }
        }

        @Override
        public void close() {
            SERVER_LOG.removeHandler(handler);
            SERVER_LOG.setUseParentHandlers(true);
            SERVER_LOG.setLevel(saved);
        }
    }
}
