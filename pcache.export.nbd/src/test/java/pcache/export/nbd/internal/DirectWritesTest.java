package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static pcache.api.nbd.NbdWire.CMD_FLAG_FUA;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * WRITEs larger than the inline limit whose payload has arrived are received straight into the
 * device's space ({@code BlockDevice.tryWriteFrom}); the others take the buffered way. Either
 * way every byte lands where it belongs, and a device failing in the middle of taking a payload
 * answers an error and leaves the stream in step.
 *
 * <p>Whether a payload "has arrived" is the socket's answer, which depends on timing; these tests
 * give the connection an answer of their own (everything has arrived, or nothing is known), so
 * the way a request takes is fixed. A read of a payload said to have arrived that has not then
 * simply waits for the client, which sends it.
 */
@Timeout(30)
class DirectWritesTest {
    private static final int READ = NbdCommand.READ.type;
    private static final int WRITE = NbdCommand.WRITE.type;
    private static final long SEED = 0xD1EC7L;
    private static final int LARGE = 256 << 10;

    @TempDir
    Path dir;

    private static ServerFixture fixture(ChannelInput.ReceivedBytes answer) throws IOException {
        ServerFixture fixture = new ServerFixture(NbdServerConfig.defaults().withDrainTimeout(Duration.ofSeconds(5)));
        fixture.server.receivedBytes = channel -> answer;
        return fixture;
    }

    @Test
    void largeWritesThatHaveArrivedArePlacedByTheDevice() throws Exception {
        try (ServerFixture fixture = fixture(() -> Integer.MAX_VALUE);
             RawNbdClient c = fixture.open("disk", false)) {
            byte[][] data = writeBurst(c, 8);
            assertEquals(8, fixture.disk.placed.get(), "every large write placed, seed " + SEED);
            assertEquals(2, fixture.disk.fuaWrites.get(), "FUA passed on");
            readBack(c, data);
        }
    }

    @Test
    void whenTheSocketCannotSayLargeWritesTakeTheBufferedWay() throws Exception {
        try (ServerFixture fixture = fixture(null);
             RawNbdClient c = fixture.open("disk", false)) {
            byte[][] data = writeBurst(c, 8);
            assertEquals(0, fixture.disk.placed.get());
            assertEquals(8, fixture.disk.writes.get());
            readBack(c, data);
        }
    }

    /**
     * On a TLS connection the channel is asked to receive each large payload ahead; where it
     * says it has, the payload is placed by the device, otherwise it takes the buffered way.
     */
    @Test
    void tlsConnectionsPlaceLargeWritesTheirChannelReceivedAhead() throws Exception {
        FakeTls fake = new FakeTls();
        try (ServerFixture fixture = new ServerFixture(NbdServerConfig.defaults().withDrainTimeout(Duration.ofSeconds(5)),
                TlsPolicy.with(pcache.api.config.ExportTlsMode.REQUIRE, fake))) {
            fixture.server.receivedBytes = channel -> () -> 0; // the clear-text socket's answer must not count
            try (RawNbdClient c = startTls(fixture.connect())) {
                fake.receivesAhead = true;
                byte[][] data = writeBurst(c, 8);
                assertEquals(8, fixture.disk.placed.get(), "every large write placed, seed " + SEED);
                assertEquals(8, fake.aheadAsked.get(), "the channel was asked for each payload");
                readBack(c, data);

                fake.receivesAhead = false;
                long writes = fixture.disk.writes.get();
                readBack(c, writeBurst(c, 8)); // the same data again, now through buffers
                assertEquals(8, fixture.disk.placed.get());
                assertEquals(writes + 8, fixture.disk.writes.get());
                assertEquals(16, fake.aheadAsked.get());
            }

            // over a unix socket a TLS channel is not asked: the buffered way overlaps decryption
            // with the client's sending (see ChannelInput.tlsReceivesAhead)
            Path socket = Files.createTempDirectory(dir, "u").resolve("s");
            fixture.server.listen(ListenAddress.unix(socket));
            try (RawNbdClient c = startTls(RawNbdClient.connect(UnixDomainSocketAddress.of(socket)))) {
                long writes = fixture.disk.writes.get();
                readBack(c, writeBurst(c, 8));
                assertEquals(16, fake.aheadAsked.get());
                assertEquals(8, fixture.disk.placed.get());
                assertEquals(writes + 8, fixture.disk.writes.get());
            }
        }
    }

    /** The handshake with STARTTLS (the fake TLS of {@link FakeTls}), attached to "disk". */
    private static RawNbdClient startTls(RawNbdClient c) throws IOException {
        c.handshakeStart();
        c.sendOption(pcache.api.nbd.NbdWire.OPT_STARTTLS, new byte[0]);
        assertEquals(pcache.api.nbd.NbdWire.REP_ACK, c.readOptionReply().type());
        c.writeRaw(FakeTls.HELLO);
        c.readInto(new byte[FakeTls.HELLO.length]);
        c.go("disk", false);
        return c;
    }

    @Test
    void aDeviceFailingWhileTakingThePayloadAnswersAnErrorAndTheStreamStaysInStep() throws Exception {
        try (ServerFixture fixture = fixture(() -> Integer.MAX_VALUE);
             RawNbdClient c = fixture.open("disk", false)) {
            byte[] before = new byte[LARGE];
            new Random(SEED).nextBytes(before);
            c.request(0, WRITE, 1, 0, LARGE, before);
            assertEquals(0, c.readReply(0).error());

            fixture.disk.placingFailure = new IOException("medium failed after half the payload");
            c.request(0, WRITE, 2, 0, LARGE, new byte[LARGE]);
            RawNbdClient.Reply failed = c.readReply(0);
            assertEquals(2, failed.cookie());
            assertNotEquals(0, failed.error(), "the failure is answered");

            fixture.disk.placingFailure = null;
            fixture.disk.atOnceFailure = new IOException("refused before taking anything");
            c.request(0, WRITE, 3, LARGE, LARGE, new byte[LARGE]);
            RawNbdClient.Reply refused = c.readReply(0);
            assertEquals(3, refused.cookie());
            assertNotEquals(0, refused.error());
            fixture.disk.atOnceFailure = null;

            fixture.disk.declinesAfterHalf = true; // breaks the contract: declines after taking bytes
            c.request(0, WRITE, 5, LARGE, LARGE, new byte[LARGE]);
            RawNbdClient.Reply declined = c.readReply(0);
            assertEquals(5, declined.cookie());
            assertNotEquals(0, declined.error(), "a write the device may have half taken is not acknowledged");
            fixture.disk.declinesAfterHalf = false;

            c.request(0, READ, 4, 0, LARGE, null); // answered in step: the payloads were skipped
            RawNbdClient.Reply r = c.readReply(LARGE);
            assertEquals(4, r.cookie());
            assertEquals(0, r.error());
            assertArrayEquals(before, r.payload(), "the failed write's device kept the old bytes");
        }
    }

    /**
     * A client that leaves inside a payload being received straight into the device: the request
     * holds nothing afterwards (a slot left behind would hold up the connection's clean-up for the
     * whole drain timeout, here longer than the test may run).
     */
    @Test
    void aClientGoneInsideADirectPayloadLeavesNothingInFlight() throws Exception {
        try (ServerFixture fixture = new ServerFixture(NbdServerConfig.defaults().withDrainTimeout(Duration.ofSeconds(120)))) {
            fixture.server.receivedBytes = channel -> () -> Integer.MAX_VALUE;
            try (RawNbdClient c = fixture.open("disk", false)) {
                c.requestHeader(pcache.api.nbd.NbdWire.REQUEST_MAGIC, 0, WRITE, 1, 0, LARGE);
                c.writeRaw(new byte[LARGE / 2]);
            }
            assertTrue(ServerHealth.eventually(20, () -> fixture.server.inflightRequests() == 0
                    && fixture.server.inflightBytes() == 0), "nothing left in flight");
            try (RawNbdClient c = fixture.open("disk", false)) {
                c.request(0, READ, 2, 0, 4096, null);
                assertEquals(0, c.readReply(4096).error(), "the server serves on");
            }
        }
    }

    @Test
    void aTcpSocketSaysWhatHasArrivedAUnixSocketCannot() throws Exception {
        try (ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel client = SocketChannel.open(listener.getLocalAddress());
             SocketChannel server = listener.accept()) {
            ChannelInput.ReceivedBytes received = NbdConnection.receivedBytes(server);
            assertNotNull(received);
            assertEquals(0, received.count());
            client.write(ByteBuffer.allocate(1000));
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (received.count() < 1000 && System.nanoTime() < deadline) {
                Thread.onSpinWait(); // loopback delivers at once; bounded all the same
            }
            assertEquals(1000, received.count());
            ChannelInput in = new ChannelInput(server, received);
            assertTrue(in.arrived(1000));
            assertTrue(!in.arrived(1001));
        }
        Path path = Files.createTempDirectory(dir, "u").resolve("s");
        try (ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX)
                .bind(UnixDomainSocketAddress.of(path));
             SocketChannel client = SocketChannel.open(listener.getLocalAddress());
             SocketChannel server = listener.accept()) {
            assertNull(NbdConnection.receivedBytes(server), "Java cannot ask a unix socket");
            client.write(ByteBuffer.allocate(10));
            assertTrue(!new ChannelInput(server, null).arrived(10), "unknown: not known to have arrived");
        }
    }

    /** {@code count} large writes, every fourth with FUA, all answered; returns their data. */
    private static byte[][] writeBurst(RawNbdClient c, int count) throws IOException {
        Random random = new Random(SEED);
        byte[][] data = new byte[count][LARGE];
        for (int i = 0; i < count; i++) {
            random.nextBytes(data[i]);
            c.request(i % 4 == 3 ? CMD_FLAG_FUA : 0, WRITE, i, (long) i * LARGE, LARGE, data[i]);
        }
        Set<Long> answered = new HashSet<>();
        for (int i = 0; i < count; i++) {
            RawNbdClient.Reply r = c.readReply(0);
            assertEquals(0, r.error(), "request " + r.cookie() + ", seed " + SEED);
            assertTrue(answered.add(r.cookie()));
        }
        return data;
    }

    private static void readBack(RawNbdClient c, byte[][] data) throws IOException {
        for (int i = 0; i < data.length; i++) {
            c.request(0, READ, 100 + i, (long) i * LARGE, LARGE, null);
            RawNbdClient.Reply r = c.readReply(LARGE);
            assertEquals(0, r.error());
            assertArrayEquals(data[(int) r.cookie() - 100], r.payload(), "block " + (r.cookie() - 100) + ", seed " + SEED);
        }
    }
}
