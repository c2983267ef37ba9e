package pcache.backing.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static pcache.backing.nbd.internal.NbdProtocolCornerTest.waitUntil;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import pcache.api.BackingState;
import pcache.api.nbd.NbdWire;
import pcache.api.tls.TlsChannel;
import pcache.api.tls.TlsEndpoint;
import pcache.api.tls.TlsHandshakeException;
import pcache.backing.nbd.internal.NbdConnectException.Reason;

/**
 * The client's side of NBD_OPT_STARTTLS, against {@link FakeNbdServer} and a stand-in TLS
 * endpoint that counts handshakes (the real TLS runs in {@code NbdTlsTest}): STARTTLS comes
 * first, a refusal ends the connection without another byte, every reconnect starts TLS again,
 * and the connect timeout covers the TLS handshake.
 */
class NbdStartTlsTest {

    @TempDir
    Path dir;

    private FakeNbdServer server;

    @AfterEach
    void stop() throws IOException {
        if (server != null) {
            server.close();
        }
    }

    /** A TLS endpoint whose handshake is scripted; counts its calls. */
    private static final class StandIn implements TlsEndpoint {
        final AtomicInteger handshakes = new AtomicInteger();
        private final Handshaker handshaker;

        interface Handshaker {
            TlsChannel run(ByteChannel transport) throws IOException;
        }

        StandIn(Handshaker handshaker) {
            this.handshaker = handshaker;
        }

        @Override
        public TlsChannel handshake(ByteChannel transport, String peer) throws IOException {
            handshakes.incrementAndGet();
            return handshaker.run(transport);
        }

        @Override
        public String describe() {
            return "stand-in credentials";
        }
    }

    /** "TLS" that passes bytes through unchanged, so that the fake server can go on in clear. */
    private static TlsChannel passThrough(ByteChannel transport) {
        return new TlsChannel() {
            @Override
            public int read(ByteBuffer dst) throws IOException {
                return transport.read(dst);
            }

            @Override
            public int write(ByteBuffer src) throws IOException {
                return transport.write(src);
            }

            @Override
            public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
                long n = 0;
                for (int i = offset; i < offset + length; i++) {
                    n += transport.write(srcs[i]);
                }
                return n;
            }

            @Override
            public long write(ByteBuffer[] srcs) throws IOException {
                return write(srcs, 0, srcs.length);
            }

            @Override
            public boolean isOpen() {
                return transport.isOpen();
            }

            @Override
            public void close() throws IOException {
                transport.close();
            }

            @Override
            public String protocol() {
                return "stand-in";
            }

            @Override
            public String cipherSuite() {
                return "none";
            }

            @Override
            public String peerIdentity() {
                return null;
            }
        };
    }

    private NbdSettings tlsSettings(Duration connectTimeout) {
        return NbdSettings.of("tls", "nbds+unix:///?socket=" + dir.resolve("fake.sock")
                + "&tls-psk-file=/unused.psk").withConnectTimeout(connectTimeout)
                .withBackoff(Duration.ofMillis(10), Duration.ofMillis(50));
    }

    @ParameterizedTest
    @ValueSource(ints = {NbdWire.REP_ERR_UNSUP, NbdWire.REP_ERR_POLICY})
    void aRefusedStartTlsEndsTheConnectionWithoutAnotherByte(int refusal) throws Exception {
        server = FakeNbdServer.standard(dir, 1 << 20);
        server.startTlsReply = refusal;
        StandIn tls = new StandIn(transport -> {
            throw new AssertionError("no TLS handshake after a refused STARTTLS");
        });
        NbdConnectException e = assertThrows(NbdConnectException.class,
                () -> NbdBackingDevice.connect(tlsSettings(Duration.ofSeconds(5)), tls));
        assertEquals(Reason.TLS_UNAVAILABLE, e.reason(), e.getMessage());
        assertTrue(e.getMessage().contains("nbds+unix:///?socket=") && e.getMessage().contains(
                " does not offer TLS but the URI is nbds://: refusing to send data in clear "
                        + "text (the server answered NBD_OPT_STARTTLS with "
                        + NbdWire.replyName(refusal)), e.getMessage());
        assertTrue(e.configurationProblem());
        waitUntil(() -> server.endedConnections() == 1, "the client closed the connection");
        assertEquals(List.of(NbdWire.OPT_STARTTLS), server.options, "nothing after STARTTLS");
        assertEquals(List.of(), server.received);
        assertEquals(0, tls.handshakes.get());
    }

    @Test
    void startTlsComesFirstAndEveryReconnectStartsTlsAgain() throws Exception {
        server = FakeNbdServer.standard(dir, 1 << 20);
        server.startTlsReply = NbdWire.REP_ACK;
        StandIn tls = new StandIn(NbdStartTlsTest::passThrough);
        try (NbdBackingDevice device = NbdBackingDevice.connect(tlsSettings(Duration.ofSeconds(5)),
                tls)) {
            assertEquals(List.of(NbdWire.OPT_STARTTLS, NbdWire.OPT_STRUCTURED_REPLY,
                    NbdWire.OPT_SET_META_CONTEXT, NbdWire.OPT_GO), server.options);
            assertEquals(1, tls.handshakes.get());
            byte[] data = new byte[4096];
            java.util.Arrays.fill(data, (byte) 0x5a);
            device.write(8192, ByteBuffer.wrap(data), true);

            server.dropAll();
            ByteBuffer back = ByteBuffer.allocate(4096);
            device.read(8192, back); // waits for the reconnect
            assertArrayEquals(data, back.array());
            assertEquals(BackingState.ONLINE, device.state());
            assertEquals(1, device.reconnectCount());
            assertEquals(2, tls.handshakes.get(), "the reconnect ran the TLS handshake again");
            assertEquals(List.of(NbdWire.OPT_STARTTLS, NbdWire.OPT_STRUCTURED_REPLY,
                    NbdWire.OPT_SET_META_CONTEXT, NbdWire.OPT_GO, NbdWire.OPT_STARTTLS,
                    NbdWire.OPT_STRUCTURED_REPLY, NbdWire.OPT_SET_META_CONTEXT, NbdWire.OPT_GO),
                    server.options);
        }
    }

    @Test
    void theConnectTimeoutCoversTheTlsHandshake() throws Exception {
        server = FakeNbdServer.standard(dir, 1 << 20);
        server.startTlsReply = NbdWire.REP_ACK; // then the server sends nothing more
        StandIn tls = new StandIn(transport -> {
            transport.read(ByteBuffer.allocate(1)); // waits for a server hello that never comes
            throw new AssertionError("the watchdog closes the transport first");
        });
        long began = System.nanoTime();
        NbdConnectException e = assertThrows(NbdConnectException.class,
                () -> NbdBackingDevice.connect(tlsSettings(Duration.ofSeconds(3)), tls));
        long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began);
        assertEquals(Reason.TIMEOUT, e.reason(), e.getMessage());
        assertTrue(e.getMessage().contains("within 3000 ms (connect_timeout_ms)")
                && e.getMessage().contains("or does not answer the TLS handshake"), e.getMessage());
        assertTrue(waited >= 2900 && waited < 30_000, "waited " + waited + " ms");
        assertEquals(1, tls.handshakes.get());
    }

    @Test
    void aFailedTlsHandshakeIsAConfigurationProblemNamingWhy() throws Exception {
        server = FakeNbdServer.standard(dir, 1 << 20);
        server.startTlsReply = NbdWire.REP_ACK;
        StandIn tls = new StandIn(transport -> {
            throw new TlsHandshakeException("the server does not know the PSK identity 'alice'");
        });
        NbdConnectException e = assertThrows(NbdConnectException.class,
                () -> NbdBackingDevice.connect(tlsSettings(Duration.ofSeconds(5)), tls));
        assertEquals(Reason.TLS_FAILED, e.reason(), e.getMessage());
        assertTrue(e.getMessage().contains(": the TLS handshake failed: the server does not know "
                + "the PSK identity 'alice' (this client uses stand-in credentials)"),
                e.getMessage());
        assertTrue(e.configurationProblem());
        waitUntil(() -> server.endedConnections() == 1, "the client closed the connection");
        assertEquals(List.of(NbdWire.OPT_STARTTLS), server.options);
    }

    @Test
    void aServerEndingTheConnectionRightAfterTheTlsHandshakeRefusedTheCredentials()
            throws Exception {
        server = FakeNbdServer.standard(dir, 1 << 20);
        server.startTlsReply = NbdWire.REP_ACK;
        server.dropAfterStartTls = true;
        StandIn tls = new StandIn(NbdStartTlsTest::passThrough);
        NbdConnectException e = assertThrows(NbdConnectException.class,
                () -> NbdBackingDevice.connect(tlsSettings(Duration.ofSeconds(5)), tls));
        assertEquals(Reason.TLS_FAILED, e.reason(), e.getMessage());
        assertTrue(e.getMessage().contains(" closed the connection right after the TLS handshake, "
                + "before answering NBD_OPT_STRUCTURED_REPLY: it did not accept this client's TLS "
                + "credentials"), e.getMessage());
    }

    /** Collects the records of one java.util.logging logger while open. */
    private static final class LogRecords extends Handler implements AutoCloseable {
        final List<LogRecord> records = new CopyOnWriteArrayList<>();
        private final Logger logger;

        LogRecords(Class<?> source) {
            logger = Logger.getLogger(source.getName());
            logger.addHandler(this);
        }

        @Override
        public void publish(LogRecord record) {
            records.add(record);
        }

        long count(Level level) {
            return records.stream().filter(r -> r.getLevel().equals(level)).count();
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
            logger.removeHandler(this);
        }
    }

    @Test
    void aRefusedCredentialIsLoggedOnceWhileTheDeviceKeepsTrying() throws Exception {
        server = FakeNbdServer.standard(dir, 1 << 20);
        server.startTlsReply = NbdWire.REP_ACK;
        StandIn tls = new StandIn(transport -> {
            throw new TlsHandshakeException("the server does not know the PSK identity 'alice'");
        });
        List<NbdBackingDevice> connected = new CopyOnWriteArrayList<>();
        try (LogRecords log = new LogRecords(ConnectLoop.class)) {
            ConnectLoop loop = new ConnectLoop(tlsSettings(Duration.ofSeconds(5)), tls,
                    connected::add);
            loop.start();
            try {
                waitUntil(() -> tls.handshakes.get() >= 8, "eight attempts");
            } finally {
                loop.close();
            }
            assertEquals(List.of(), connected);
            assertEquals(1, log.count(Level.SEVERE), "one error for a refusal that repeats");
            assertTrue(log.records.stream().filter(r -> r.getLevel().equals(Level.SEVERE))
                    .allMatch(r -> r.getMessage().contains("the TLS handshake failed")),
                    log.records.toString());
            assertEquals(0, log.count(Level.WARNING));
        }
    }

    @Test
    void aReconnectRefusedByTlsIsLoggedOnceAndRetriedUntilItSucceeds() throws Exception {
        server = FakeNbdServer.standard(dir, 1 << 20);
        server.startTlsReply = NbdWire.REP_ACK;
        AtomicInteger refusals = new AtomicInteger(6); // the second to seventh handshakes fail
        StandIn tls = new StandIn(transport -> {
            if (refusals.get() > 0 && server.connections() > 1) {
                refusals.decrementAndGet();
                throw new TlsHandshakeException("the server's certificate is not signed by "
                        + "ca-cert.pem");
            }
            return passThrough(transport);
        });
        try (LogRecords log = new LogRecords(NbdBackingDevice.class);
                NbdBackingDevice device = NbdBackingDevice.connect(
                        tlsSettings(Duration.ofSeconds(5)), tls)) {
            server.dropAll();
            device.read(0, ByteBuffer.allocate(512)); // waits until a reconnect succeeds
            assertEquals(8, tls.handshakes.get());
            assertEquals(1, device.reconnectCount());
            List<LogRecord> refused = log.records.stream().filter(r -> r.getMessage()
                    .contains("reconnect attempt failed")).toList();
            assertEquals(1, refused.stream().filter(r -> r.getLevel().equals(Level.SEVERE))
                    .count(), refused.toString());
            assertTrue(refused.stream().filter(r -> !r.getLevel().equals(Level.SEVERE))
                    .allMatch(r -> r.getLevel().intValue() < Level.INFO.intValue()),
                    "repeats are debug records");
        }
    }

    @Test
    void credentialsMustMatchTheUri() {
        StandIn tls = new StandIn(NbdStartTlsTest::passThrough);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> NbdBackingDevice.connect(NbdSettings.of("c", "nbd://127.0.0.1/x"), tls));
        assertTrue(e.getMessage().contains("TLS credentials for the clear-text nbd://"),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> NbdBackingDevice.connect(tlsSettings(Duration.ofSeconds(1)), null));
        assertTrue(e.getMessage().contains("needs TLS credentials"), e.getMessage());
    }

    @Test
    void anOldstyleServerIsRefusedForTls() throws Exception {
        try (Nbdkit nbdkit = Nbdkit.unix(dir, "-o", "memory", "1M")) {
            StandIn tls = new StandIn(transport -> {
                throw new AssertionError("no TLS handshake with an oldstyle server");
            });
            NbdSettings settings = NbdSettings.of("old", nbdkit.uri().replace("nbd+unix:",
                    "nbds+unix:") + "&tls-psk-file=/unused.psk");
            NbdConnectException e = assertThrows(NbdConnectException.class,
                    () -> NbdBackingDevice.connect(settings, tls));
            assertEquals(Reason.TLS_UNAVAILABLE, e.reason(), e.getMessage());
            assertTrue(e.getMessage().contains("does not offer TLS but the URI is nbds://: "
                    + "refusing to send data in clear text (the server uses the oldstyle"),
                    e.getMessage());
        }
    }
}
