package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static pcache.api.nbd.NbdWire.CMD_FLAG_FUA;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * WRITEs larger than the inline limit are received straight into the device's space
 * ({@code BlockDevice.tryWriteFrom}) when the device has that space free at once, whether or not
 * the payload has arrived yet; the others take the buffered way. Either way every byte lands where
 * it belongs, a device failing in the middle of taking a payload answers an error and leaves the
 * stream in step, and a client that stops sending in the middle of a placed payload is
 * disconnected after the payload stall timeout.
 */
@Timeout(30)
class DirectWritesTest {
    private static final int READ = NbdCommand.READ.type;
    private static final int WRITE = NbdCommand.WRITE.type;
    private static final long SEED = 0xD1EC7L;
    private static final int LARGE = 256 << 10;

    @TempDir
    Path dir;

    private static ServerFixture fixture() throws IOException {
        return new ServerFixture(NbdServerConfig.defaults().withDrainTimeout(Duration.ofSeconds(5)));
    }

    @Test
    void largeWritesArePlacedByTheDevice() throws Exception {
        try (ServerFixture fixture = fixture();
             RawNbdClient c = fixture.open("disk", false)) {
            byte[][] data = writeBurst(c, 8);
            assertEquals(8, fixture.disk.placed.get(), "every large write placed, seed " + SEED);
            assertEquals(2, fixture.disk.fuaWrites.get(), "FUA passed on");
            readBack(c, data);
            // (the READs' budget goes back once the reply writer is done, perhaps after the client has the bytes)
            assertTrue(ServerHealth.eventually(20, () -> fixture.server.inflightBytes() == 0),
                    "placed writes give their budget back");
        }
    }

    /** Over a unix socket too, though Java cannot ask it what has arrived: the read waits for the client. */
    @Test
    void largeWritesOverAUnixSocketArePlacedByTheDevice() throws Exception {
        try (ServerFixture fixture = fixture()) {
            Path socket = Files.createTempDirectory(dir, "u").resolve("s");
            fixture.server.listen(ListenAddress.unix(socket));
            try (RawNbdClient c = RawNbdClient.open(UnixDomainSocketAddress.of(socket), "disk", false)) {
                byte[][] data = writeBurst(c, 8);
                assertEquals(8, fixture.disk.placed.get(), "seed " + SEED);
                readBack(c, data);
            }
        }
    }

    @Test
    void whenTheDeviceDeclinesLargeWritesTakeTheBufferedWay() throws Exception {
        try (ServerFixture fixture = fixture();
             RawNbdClient c = fixture.open("disk", false)) {
            fixture.disk.placesWrites = false;
            byte[][] data = writeBurst(c, 8);
            assertEquals(0, fixture.disk.placed.get());
            assertEquals(8, fixture.disk.writes.get());
            readBack(c, data);
        }
    }

    /**
     * On a TLS connection over TCP the channel is asked to receive each large payload ahead;
     * where it says it has, the payload is placed by the device, otherwise it takes the buffered
     * way. Over a unix socket it is not asked, and the payload is placed as it comes.
     */
    @Test
    void tlsConnectionsPlaceLargeWritesTheirChannelReceivedAhead() throws Exception {
        FakeTls fake = new FakeTls();
        try (ServerFixture fixture = new ServerFixture(NbdServerConfig.defaults().withDrainTimeout(Duration.ofSeconds(5)),
                TlsPolicy.with(pcache.api.config.ExportTlsMode.REQUIRE, fake))) {
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

            // over a unix socket a TLS channel is not asked: placing each record as it comes
            // overlaps decryption with the client's sending (see ChannelInput.tlsReceivesAhead)
            Path socket = Files.createTempDirectory(dir, "u").resolve("s");
            fixture.server.listen(ListenAddress.unix(socket));
            try (RawNbdClient c = startTls(RawNbdClient.connect(UnixDomainSocketAddress.of(socket)))) {
                readBack(c, writeBurst(c, 8));
                assertEquals(16, fake.aheadAsked.get());
                assertEquals(16, fixture.disk.placed.get());
            }
        }
    }

    /**
     * A client that stops sending while its TLS channel receives a large WRITE's payload ahead
     * (over TCP, before any of it is placed) is disconnected once it has sent less than 64 KiB
     * within the payload stall timeout, as one whose payload goes into a buffer: meanwhile it holds
     * the request's bytes of the in-flight budget and of the channels' budget for receiving ahead.
     * Before, nothing watched that wait, and such a client held both for good. Another client is
     * served on; the write is not done.
     */
    @Test
    void aClientStalledWhileItsTlsChannelReceivesAheadIsDisconnected() throws Exception {
        FakeTls fake = new FakeTls();
        fake.receivesAhead = true;
        fake.receivesAheadByReading = true;
        assertCutOffInsideAPayload(c -> c, TlsPolicy.with(pcache.api.config.ExportTlsMode.REQUIRE, fake),
                fixture -> startTls(fixture.connect()), (stalled, log) -> {
                    stalled.writeRaw(new byte[4096]);
                    assertTrue(ServerHealth.eventually(20, () -> log.matching("in the middle of a WRITE's payload ("
                            + LARGE + " bytes at offset 0, ") >= 1 && log.matching("received ahead by TLS") >= 1),
                            "the stall is logged");
                });
    }

    /**
     * A payload received ahead by TLS may take, in all, the payload stall timeout once per 64 KiB
     * and once more: TLS records without data count as the socket's bytes, so the watch's progress
     * cannot end such a wait alone. A timeout meant as never does not overflow into a negative
     * bound, which would disconnect every client at once.
     */
    @Test
    void aPayloadReceivedAheadIsBoundedInAllAndTheBoundDoesNotOverflow() {
        assertEquals(Duration.ofSeconds(10).toNanos() * 129,
                NbdConnection.allowedAheadNanos(Duration.ofSeconds(10), 8 << 20), "8 MiB: 128 times 64 KiB, and once more");
        assertEquals(Duration.ofSeconds(10).toNanos() * 2, NbdConnection.allowedAheadNanos(Duration.ofSeconds(10), 1));
        assertEquals(Long.MAX_VALUE, NbdConnection.allowedAheadNanos(Duration.ofSeconds(Integer.MAX_VALUE), 8 << 20));
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
        try (ServerFixture fixture = fixture();
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

    /**
     * A client that stops sending in the middle of a payload being received straight into the
     * device, and stays connected, is disconnected once it has sent less than 64 KiB within the
     * payload stall timeout (here nothing): the device's space (and a cache's request gate) are
     * not held for as long as it likes. The write is not done; another client is served before,
     * during and after.
     */
    @Test
    void aClientStalledInsideADirectPayloadIsDisconnected() throws Exception {
        assertCutOffInsideAPayload((stalled, log) -> {
            // zeros over the first half, then nothing; the first 4 KiB go out with the header, so the
            // server has read part of the payload with it (where the payload begins must count them)
            stalled.writeRaw(new byte[4096]);
            stalled.writeRaw(new byte[LARGE / 2 - 4096]);
            assertTrue(ServerHealth.eventually(20, () -> log.matching(" ms (timeout 1000 ms) in the middle of a "
                    + "WRITE's payload (" + LARGE + " bytes at offset 0, " + LARGE / 2 + " still to come), less than "
                    + "the 64 KiB") >= 1), "the stall is logged");
        });
    }

    /** What a misbehaving client does after its WRITE's header, and the checks of its warning. */
    private interface InsideAPayload {
        void run(RawNbdClient client, ResourceLimitsTest.LogCapture log) throws Exception;
    }

    /**
     * Another client writes, then {@code misbehave} runs on a second client that sent the header of
     * a large WRITE; the second is disconnected with one warning, nothing stays in flight, its write
     * is not done, and the first is served on.
     */
    private static void assertCutOffInsideAPayload(InsideAPayload misbehave) throws Exception {
        assertCutOffInsideAPayload(c -> c, misbehave);
    }

    private static void assertCutOffInsideAPayload(java.util.function.UnaryOperator<NbdServerConfig> configured,
            InsideAPayload misbehave) throws Exception {
        assertCutOffInsideAPayload(configured, TlsPolicy.off(), fixture -> fixture.open("disk", false), misbehave);
    }

    /** How a test's clients reach the export: in clear text, or after STARTTLS. */
    private interface Opener {
        RawNbdClient open(ServerFixture fixture) throws IOException;
    }

    private static void assertCutOffInsideAPayload(java.util.function.UnaryOperator<NbdServerConfig> configured,
            TlsPolicy tls, Opener opener, InsideAPayload misbehave) throws Exception {
        List<String> warnings = new ArrayList<>();
        try (ResourceLimitsTest.LogCapture log = new ResourceLimitsTest.LogCapture(warnings);
             ServerFixture fixture = new ServerFixture(configured.apply(NbdServerConfig.defaults()
                     .withDrainTimeout(Duration.ofSeconds(120))
                     // long enough that a loaded machine never stalls the server's own reading that long
                     .withPayloadStallTimeout(Duration.ofMillis(1000))), tls)) {
            try (RawNbdClient other = opener.open(fixture);
                 RawNbdClient client = opener.open(fixture)) {
                byte[] before = new byte[LARGE];
                new Random(SEED).nextBytes(before);
                other.request(0, WRITE, 1, 0, LARGE, before);
                assertEquals(0, other.readReply(0).error());

                client.requestHeader(pcache.api.nbd.NbdWire.REQUEST_MAGIC, 0, WRITE, 7, 0, LARGE);
                misbehave.run(client, log);
                assertTrue(client.closedByServer(), "the client is disconnected: " + warnings);
                assertTrue(ServerHealth.eventually(20, () -> fixture.server.inflightRequests() == 0
                        && fixture.server.inflightBytes() == 0 && fixture.server.connectionCount() == 1),
                        "nothing left in flight");
                assertEquals(0, log.matching("internal error"));
                assertEquals(1, log.matching("in the middle of a WRITE's payload"), "warned once: " + warnings);

                other.request(0, READ, 2, 0, LARGE, null);
                RawNbdClient.Reply r = other.readReply(LARGE);
                assertEquals(0, r.error(), "the other client is served on");
                assertArrayEquals(before, r.payload(), "the cut-off write was not done, seed " + SEED);
            }
        }
    }

    /**
     * The same for a payload read into a buffer (large writes not received into the device: here
     * none is, {@code inline_max_bytes = 0}): the buffer and the request's bytes of the server-wide
     * budget are not held for as long as the client likes. Before, nothing ended the read: some 32
     * such clients held the whole budget, and every other client's large requests waited.
     */
    @Test
    void aClientStalledInsideABufferedPayloadIsDisconnected() throws Exception {
        assertCutOffInsideAPayload(c -> c.withInlineMaxBytes(0), (stalled, log) -> {
            stalled.writeRaw(new byte[4096]);
            assertTrue(ServerHealth.eventually(20, () -> log.matching("in the middle of a WRITE's payload (" + LARGE
                    + " bytes at offset 0, " + (LARGE - 4096) + " still to come), less than the 64 KiB it must send in"
                    + " that time; the payload holds a buffer and its bytes of the server's in-flight budget") >= 1),
                    "the stall is logged");
        });
    }

    /**
     * A client that trickles a direct payload, a little now and then, far less than 64 KiB per
     * payload stall timeout, is disconnected like one that stopped: otherwise it could hold the
     * device's space and request gate for as long as it likes. The write is not done; another
     * client is served on.
     */
    @Test
    void aClientTricklingADirectPayloadIsDisconnected() throws Exception {
        assertCutOffInsideAPayload((trickling, log) -> {
            int sent = 0;
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            try {
                // 1 KiB every 50 ms: at most 20 KiB per 1000 ms, and never the whole payload
                while (sent < LARGE / 2 && log.matching("in the middle of a WRITE's payload") == 0
                        && System.nanoTime() < deadline) {
                    trickling.writeRaw(new byte[1024]);
                    sent += 1024;
                    Thread.sleep(50);
                }
            } catch (IOException closed) {
                // the server closed the connection while the client sent
            }
            int total = sent;
            assertTrue(ServerHealth.eventually(20, () -> log.matching("less than the 64 KiB it must send in that "
                    + "time") >= 1), "the trickle is logged after " + total + " bytes");
            assertTrue(total < LARGE / 2, "disconnected before half the payload came, after " + total + " bytes");
        });
    }

    /**
     * A client that sends a direct payload slowly, for longer than the stall timeout in all, but
     * ten times the 64 KiB per timeout it must send, is not taken for a stalled one: its write is
     * done.
     */
    @Test
    void aSlowClientThatKeepsSendingIsNotCutOff() throws Exception {
        List<String> warnings = new ArrayList<>();
        int size = 1 << 20;
        try (ResourceLimitsTest.LogCapture log = new ResourceLimitsTest.LogCapture(warnings);
             ServerFixture fixture = new ServerFixture(NbdServerConfig.defaults().withDrainTimeout(Duration.ofSeconds(5))
                     .withPayloadStallTimeout(Duration.ofSeconds(2)))) {
            try (RawNbdClient c = fixture.open("disk", false)) {
                byte[] data = new byte[size];
                new Random(SEED).nextBytes(data);
                c.requestHeader(pcache.api.nbd.NbdWire.REQUEST_MAGIC, 0, WRITE, 1, 0, size);
                int pieces = 64;
                long start = System.nanoTime();
                for (int i = 0; i < pieces; i++) {
                    c.writeRaw(java.util.Arrays.copyOfRange(data, i * size / pieces, (i + 1) * size / pieces));
                    Thread.sleep(50); // 16 KiB per 50 ms: 640 KiB per timeout; over 3 s in all, beyond it
                }
                assertTrue(System.nanoTime() - start > Duration.ofSeconds(2).toNanos(), "sent for longer than the timeout");
                assertEquals(0, c.readReply(0).error(), "the slow write is done");
                assertEquals(1, fixture.disk.placed.get());
                c.request(0, READ, 2, 0, size, null);
                assertArrayEquals(data, c.readReply(size).payload(), "seed " + SEED);
            }
            assertEquals(0, log.matching("in the middle of a WRITE's payload"), warnings.toString());
        }
    }

    /**
     * Once the whole payload has arrived, the time the device takes to finish the write is not
     * the client's: a client that sent it all and waits is not disconnected, however long that is.
     */
    @Test
    void theDevicesOwnTimeAfterThePayloadIsNotTheClients() throws Exception {
        List<String> warnings = new ArrayList<>();
        try (ResourceLimitsTest.LogCapture log = new ResourceLimitsTest.LogCapture(warnings);
             ServerFixture fixture = new ServerFixture(NbdServerConfig.defaults().withDrainTimeout(Duration.ofSeconds(10))
                     // long enough that a loaded machine never stalls the server's own reading that long
                     .withPayloadStallTimeout(Duration.ofMillis(1000)))) {
            fixture.disk.placingWorkMillis = 4000; // the device works 4 timeouts after the payload is in
            try (RawNbdClient c = fixture.open("disk", false)) {
                byte[] data = new byte[LARGE];
                new Random(SEED).nextBytes(data);
                c.request(0, WRITE, 1, 0, LARGE, data);
                assertEquals(0, c.readReply(0).error(), "the write is done");
                assertEquals(1, fixture.disk.placed.get());
                fixture.disk.placingWorkMillis = 0;
                c.request(0, READ, 2, 0, LARGE, null);
                assertArrayEquals(data, c.readReply(LARGE).payload(), "seed " + SEED);
            }
            assertEquals(0, log.matching("in the middle of a WRITE's payload"), warnings.toString());
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
