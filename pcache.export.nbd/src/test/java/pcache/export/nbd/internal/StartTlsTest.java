package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static pcache.api.nbd.NbdWire.*;
import static pcache.export.nbd.internal.NbdProtocol.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import pcache.api.config.ExportTlsMode;
import pcache.export.nbd.internal.RawNbdClient.OptionReply;

/**
 * NBD_OPT_STARTTLS and the TLS modes in option haggling, byte by byte with the raw client, over
 * a {@link FakeTls} endpoint (real TLS with real clients is TlsInteropTest's).
 */
@Timeout(30)
class StartTlsTest {
    private final FakeTls fake = new FakeTls();
    private final List<String> warnings = new ArrayList<>();
    private ServerFixture fixture;
    private ResourceLimitsTest.LogCapture log;

    private void start(ExportTlsMode mode) throws IOException {
        start(mode, NbdServerConfig.defaults().withDrainTimeout(Duration.ofSeconds(5)));
    }

    private void start(ExportTlsMode mode, NbdServerConfig config) throws IOException {
        log = new ResourceLimitsTest.LogCapture(warnings);
        fixture = new ServerFixture(config, mode == ExportTlsMode.OFF ? TlsPolicy.off() : TlsPolicy.with(mode, fake));
    }

    @AfterEach
    void stop() {
        if (fixture != null) {
            fixture.close();
        }
        if (log != null) {
            log.close();
        }
    }

    /** STARTTLS, its ACK and the fake handshake. */
    private static void startTls(RawNbdClient c) throws IOException {
        c.sendOption(OPT_STARTTLS, new byte[0]);
        OptionReply r = c.readOptionReply();
        assertEquals(OPT_STARTTLS, r.option());
        assertEquals(REP_ACK, r.type(), "STARTTLS acknowledged");
        c.writeRaw(FakeTls.HELLO);
        byte[] echo = new byte[FakeTls.HELLO.length];
        c.readInto(echo);
        assertArrayEquals(FakeTls.HELLO, echo);
    }

    /** A READ of 512 bytes at 0 answered with the disk's bytes. */
    private void assertReads(RawNbdClient c, boolean structured) throws IOException {
        c.request(0, NbdCommand.READ.type, 5, 0, 512, null);
        RawNbdClient.Reply r = c.readReply(512);
        assertEquals(5, r.cookie());
        assertEquals(0, r.error());
        byte[] data = structured ? Arrays.copyOfRange(r.payload(), 8, r.payload().length) : r.payload();
        assertArrayEquals(fixture.disk.snapshot(0, 512), data);
    }

    /** After a refused client, a client with TLS is still served. */
    private void assertTlsClientServed() throws IOException {
        try (RawNbdClient c = fixture.connect().handshakeStart()) {
            startTls(c);
            c.go("disk", true);
            assertReads(c, true);
        }
    }

    @Test
    void offRefusesStartTlsByPolicyAndServesInClearText() throws IOException {
        start(ExportTlsMode.OFF);
        try (RawNbdClient c = fixture.connect().handshakeStart()) {
            c.sendOption(OPT_STARTTLS, new byte[0]);
            OptionReply r = c.readOptionReply();
            assertEquals(REP_ERR_POLICY, r.type());
            c.go("disk", true);
            assertReads(c, true);
        }
        assertEquals(0, fake.handshakes.get());
    }

    @Test
    void requireRefusesEveryOptionButStartTlsAndAbortBeforeTls() throws IOException {
        start(ExportTlsMode.REQUIRE);
        try (RawNbdClient c = fixture.connect().handshakeStart()) {
            int[] options = {OPT_LIST, OPT_INFO, OPT_GO, OPT_STRUCTURED_REPLY, OPT_LIST_META_CONTEXT,
                OPT_SET_META_CONTEXT, OPT_EXTENDED_HEADERS, 0x7654321};
            for (int option : options) {
                byte[] data = option == OPT_INFO || option == OPT_GO ? RawNbdClient.infoData("disk", INFO_EXPORT)
                        : option == OPT_LIST_META_CONTEXT || option == OPT_SET_META_CONTEXT
                                ? RawNbdClient.metaContextData("disk", META_BASE_ALLOCATION) : new byte[0];
                c.sendOption(option, data);
                OptionReply r = c.readOptionReply();
                assertEquals(option, r.option());
                assertEquals(REP_ERR_TLS_REQD, r.type(), "option " + option + " before TLS");
                assertTrue(new String(r.data(), java.nio.charset.StandardCharsets.UTF_8).contains("requires TLS"));
            }
            c.sendOption(OPT_ABORT, new byte[0]);
            assertEquals(REP_ACK, c.readOptionReply().type());
        }
        assertEquals(0, fixture.disk.reads.get(), "nothing was read in clear text");
        assertEquals(1, log.matching("requires TLS"), "one warning per refused client: " + warnings);
        assertTlsClientServed();
    }

    @Test
    void requireClosesTheConnectionOnExportNameBeforeTls() throws IOException {
        start(ExportTlsMode.REQUIRE);
        try (RawNbdClient c = fixture.connect().handshakeStart()) {
            c.sendOption(OPT_EXPORT_NAME, "disk".getBytes(java.nio.charset.StandardCharsets.UTF_8));
            assertTrue(c.closedByServer(), "EXPORT_NAME in clear text closes the connection");
        }
        assertEquals(1, log.matching("NBD_OPT_EXPORT_NAME in clear text, but this server requires TLS"), warnings.toString());
        assertTlsClientServed();
    }

    @Test
    void requireServesEverythingThroughTheTlsChannelAfterStartTls() throws IOException {
        start(ExportTlsMode.REQUIRE);
        try (RawNbdClient c = fixture.connect().handshakeStart()) {
            startTls(c);
            long readBefore = fake.bytesRead.get();
            c.sendOption(OPT_LIST, new byte[0]);
            assertEquals(3, c.readOptionReplies().size());
            assertEquals(Handshake.transmissionFlags(true), c.go("disk", true));
            assertReads(c, true);
            byte[] payload = new byte[4096];
            Arrays.fill(payload, (byte) 0x5a);
            c.request(0, NbdCommand.WRITE.type, 6, 8192, payload.length, payload);
            assertEquals(0, c.errorOf(6));
            assertArrayEquals(payload, fixture.disk.snapshot(8192, payload.length));
            assertTrue(fake.bytesRead.get() - readBefore >= 4096 + 28 + 20, "options and requests came through TLS");
            assertTrue(fake.bytesWritten.get() >= 512, "replies went out through TLS");
            assertEquals(1, fixture.server.tlsConnectionCount());
        }
        assertTrue(warnings.isEmpty(), warnings.toString());
    }

    /**
     * A TLS client that goes away without NBD_CMD_DISC (killed: its socket just closes) has its
     * TLS channel closed, which gives back its buffers and its share of the receive-ahead budget at
     * once. Before, only the socket was closed, and the channel held them until the garbage
     * collector found it.
     */
    @Test
    void aTlsClientThatGoesAwayWithoutDiscHasItsTlsChannelClosed() throws Exception {
        start(ExportTlsMode.REQUIRE);
        try (RawNbdClient c = fixture.connect().handshakeStart()) {
            startTls(c);
            c.go("disk", true);
            assertReads(c, true);
        } // the socket closed, no DISC
        ConcurrencyTest.await(() -> fake.closes.get() == 1);
        assertTrue(warnings.isEmpty(), warnings.toString());
    }

    @Test
    void startTlsTwiceOrWithDataIsInvalid() throws IOException {
        start(ExportTlsMode.ON);
        try (RawNbdClient c = fixture.connect().handshakeStart()) {
            c.sendOption(OPT_STARTTLS, new byte[] {1, 2, 3, 4});
            assertEquals(REP_ERR_INVALID, c.readOptionReply().type(), "STARTTLS carries no data");
            startTls(c);
            c.sendOption(OPT_STARTTLS, new byte[0]);
            OptionReply again = c.readOptionReply();
            assertEquals(REP_ERR_INVALID, again.type(), "TLS is already on");
            c.go("disk", false);
            assertReads(c, false);
        }
        assertEquals(1, fake.handshakes.get());
    }

    @Test
    void onServesClearTextClientsToo() throws IOException {
        start(ExportTlsMode.ON);
        try (RawNbdClient c = fixture.connect().handshakeStart()) {
            c.go("disk", true);
            assertReads(c, true);
        }
        assertEquals(0, fake.handshakes.get());
        assertTlsClientServed();
    }

    /**
     * Bytes sent after STARTTLS before the server's ACK arrived in clear text; a man in the
     * middle could have put them there. They must not be read as if TLS had carried them.
     */
    @Test
    void bytesSentAfterStartTlsBeforeItsReplyDropTheConnection() throws IOException {
        start(ExportTlsMode.REQUIRE);
        try (RawNbdClient c = fixture.connect().handshakeStart()) {
            ByteBuffer b = ByteBuffer.allocate(16 + 16 + 4);
            b.putLong(OPTION_MAGIC).putInt(OPT_STARTTLS).putInt(0);
            b.putLong(OPTION_MAGIC).putInt(OPT_STRUCTURED_REPLY).putInt(0); // injected
            b.putInt(0x11223344);
            c.writeRaw(b.array());
            assertTrue(c.closedByServer(), "the server drops the connection without replying");
        }
        assertEquals(0, fake.handshakes.get(), "no TLS handshake was started");
        assertEquals(1, log.matching("after NBD_OPT_STARTTLS before the server's reply; dropping the connection "
                + "(clear-text injection)"), warnings.toString());
        assertTlsClientServed();
    }

    /** Structured replies negotiated in clear text do not survive STARTTLS: they could have been injected. */
    @Test
    void stateNegotiatedBeforeTlsIsForgotten() throws IOException {
        start(ExportTlsMode.ON);
        try (RawNbdClient c = fixture.connect().handshakeStart()) {
            c.sendOption(OPT_STRUCTURED_REPLY, new byte[0]);
            assertEquals(REP_ACK, c.readOptionReply().type());
            startTls(c);
            assertEquals(Handshake.transmissionFlags(false), c.go("disk", false), "no DF: structured replies are off");
            assertReads(c, false);
        }
    }

    @Test
    void aFailedTlsHandshakeIsOneWarningNamingThePeerAndTheReasonAndOthersGoOn() throws IOException {
        start(ExportTlsMode.REQUIRE);
        try (RawNbdClient good = fixture.connect().handshakeStart()) {
            startTls(good);
            good.go("disk", true);
            try (RawNbdClient bad = fixture.connect().handshakeStart()) {
                bad.sendOption(OPT_STARTTLS, new byte[0]);
                assertEquals(REP_ACK, bad.readOptionReply().type());
                bad.writeRaw(FakeTls.REFUSE);
                assertTrue(bad.closedByServer());
            }
            assertReads(good, true);
        }
        assertEquals(1, warnings.size(), warnings.toString());
        String w = warnings.get(0);
        assertTrue(w.contains("TLS handshake failed") && w.contains(FakeTls.REFUSAL) && w.contains("127.0.0.1:"), w);
    }

    @Test
    void theHandshakeTimeoutCoversTheTlsHandshake() throws IOException, InterruptedException {
        start(ExportTlsMode.REQUIRE, NbdServerConfig.defaults().withHandshakeTimeout(Duration.ofSeconds(3))
                .withDrainTimeout(Duration.ofSeconds(5)));
        // the timer runs from accept: 3 s leaves the greeting, the flags and the ACK time on a busy machine
        try (RawNbdClient c = fixture.connect().handshakeStart()) {
            c.sendOption(OPT_STARTTLS, new byte[0]);
            assertEquals(REP_ACK, c.readOptionReply().type());
            // and then nothing: the TLS handshake never starts
            assertTrue(c.closedByServer());
        }
        assertEquals(1, log.matching("handshake not finished within 3000 ms"), warnings.toString());
        assertFalse(warnings.stream().anyMatch(w -> w.contains("TLS handshake failed")), warnings.toString());
        // the server closes the socket before it forgets the connection
        assertTrue(ServerHealth.eventually(10, () -> fixture.server.connectionCount() == 0),
                "connections left: " + fixture.server.connectionCount());
    }

    /** A real clear-text client (libnbd's nbdinfo) against a server that requires TLS: refused, told why. */
    @Test
    void nbdinfoInClearTextIsToldThatTlsIsRequired(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        ExternalProcesses.assumeInstalled("nbdinfo");
        start(ExportTlsMode.REQUIRE);
        ExternalProcesses processes = new ExternalProcesses(dir);
        try {
            // libnbd prints the server's reason only in its debug output; it says "without TLS" anyway
            ExternalProcesses.Result r = processes.run(Duration.ofSeconds(30), java.util.Map.of("LIBNBD_DEBUG", "1"),
                    "nbdinfo", fixture.uri("disk"));
            assertTrue(r.exitCode() != 0, r.all());
            assertTrue(r.stdout().contains("without TLS"), r.all());
            assertTrue(r.stderr().contains("server error message: this server requires TLS: send NBD_OPT_STARTTLS first"),
                    r.all());
        } finally {
            processes.destroyAll();
        }
        assertEquals(0, fixture.disk.reads.get());
        assertEquals(1, log.matching("this server requires TLS: send NBD_OPT_STARTTLS first"), warnings.toString());
    }
}
