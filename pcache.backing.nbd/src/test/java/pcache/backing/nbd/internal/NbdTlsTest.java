package pcache.backing.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static pcache.backing.nbd.internal.NbdProtocolCornerTest.waitUntil;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import pcache.api.BackingState;
import pcache.api.tls.TlsChannel;
import pcache.api.tls.TlsEndpoint;
import pcache.api.tls.TlsProvider;
import pcache.backing.nbd.internal.NbdConnectException.Reason;
import pcache.tls.internal.DefaultTlsProvider;

/**
 * The backing client over TLS against {@code nbdkit --tls=require}, with certificates and keys
 * made by the test: X.509 (the server verified by the client, and the client by the server)
 * and PSK, over TCP and a unix socket; data written through the device is in the server's
 * file; a wrong CA, a wrong host name, an unknown PSK identity, a wrong key and a server
 * without TLS are refused with their reason; a restarted server gets a new TLS handshake.
 */
class NbdTlsTest {

    private static final int SIZE = 4 << 20;
    /** Printed and replayable: {@code -Dpcache.test.seed=N}. */
    private static final long SEED = Long.getLong("pcache.test.seed", System.nanoTime());

    @TempDir
    static Path credentials;
    private static TestCredentials.X509 ca;
    private static TestCredentials.X509 otherCa;

    @TempDir
    Path dir;

    private final TlsProvider provider = new DefaultTlsProvider();
    private final List<AutoCloseable> resources = new ArrayList<>();

    @BeforeAll
    static void makeCredentials() throws IOException {
        Nbdkit.assumeInstalled();
        ca = TestCredentials.x509(credentials, "ca");
        otherCa = TestCredentials.x509(credentials, "other");
        System.out.println("NbdTlsTest seed " + SEED + " (replay with -Dpcache.test.seed=" + SEED
                + ")");
    }

    @AfterEach
    void cleanUp() throws Exception {
        for (int i = resources.size() - 1; i >= 0; i--) {
            resources.get(i).close();
        }
    }

    /** The provider's endpoint, counting handshakes and keeping the last channel's protocol. */
    private static final class Recording implements TlsEndpoint {
        final TlsEndpoint endpoint;
        final AtomicInteger handshakes = new AtomicInteger();
        volatile TlsChannel last;

        Recording(TlsEndpoint endpoint) {
            this.endpoint = endpoint;
        }

        @Override
        public TlsChannel handshake(ByteChannel transport, String peer) throws IOException {
            handshakes.incrementAndGet();
            TlsChannel channel = endpoint.handshake(transport, peer);
            last = channel;
            return channel;
        }

        @Override
        public String describe() {
            return endpoint.describe();
        }
    }

    private Path image() throws IOException {
        Path image = dir.resolve("disk.img");
        if (!Files.exists(image)) {
            try (FileChannel file = FileChannel.open(image, StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE)) {
                file.write(ByteBuffer.allocate(1), SIZE - 1);
            }
        }
        return image;
    }

    private Nbdkit tcp(String... tlsArgs) throws IOException {
        List<String> args = new ArrayList<>(List.of(tlsArgs));
        args.addAll(List.of("file", image().toString()));
        Nbdkit server = Nbdkit.tcp(dir, args.toArray(String[]::new));
        resources.add(server);
        return server;
    }

    private static String tlsUri(Nbdkit server, String query) {
        return server.uri().replace("nbd://", "nbds://") + "?" + query;
    }

    private Recording endpoint(NbdSettings settings) throws Exception {
        return new Recording(provider.client(settings.tls().settings(settings.uri())));
    }

    private NbdBackingDevice connect(NbdSettings settings, Recording tls) throws Exception {
        NbdBackingDevice device = NbdBackingDevice.connect(settings, tls);
        resources.add(device);
        return device;
    }

    private NbdConnectException refused(String uri) throws Exception {
        NbdSettings settings = NbdSettings.of("refused", uri)
                .withConnectTimeout(Duration.ofSeconds(5));
        Recording tls = endpoint(settings);
        return assertThrows(NbdConnectException.class,
                () -> NbdBackingDevice.connect(settings, tls).close());
    }

    /** Writes, flushes and reads back through the device; the bytes must be in the file. */
    private void writeReadFlush(NbdBackingDevice device) throws IOException {
        byte[] data = new byte[1 << 20];
        new Random(SEED).nextBytes(data);
        long offset = 512 * 1024;
        device.write(offset, ByteBuffer.wrap(data), false);
        device.flush();
        ByteBuffer back = ByteBuffer.allocate(data.length);
        device.read(offset, back);
        assertArrayEquals(data, back.array());
        byte[] file = Files.readAllBytes(image());
        assertArrayEquals(data, Arrays.copyOfRange(file, (int) offset, (int) offset + data.length),
                "the data is in the server's file");
    }

    @Test
    void x509OverTcpVerifiesTheServerAndCarriesData() throws Exception {
        Nbdkit server = tcp("--tls=require", "--tls-certificates=" + ca.server());
        NbdSettings settings = NbdSettings.of("x509", tlsUri(server, "tls-certificates="
                + ca.caOnly()));
        Recording tls = endpoint(settings);
        NbdBackingDevice device = connect(settings, tls);
        assertTrue(tls.last.protocol().startsWith("TLSv1."), tls.last.protocol());
        writeReadFlush(device);
        assertEquals(1, tls.handshakes.get());
    }

    @Test
    void x509OverAUnixSocketChecksTheNameGivenAsTlsHostname() throws Exception {
        Nbdkit server = Nbdkit.unix(dir, "--tls=require", "--tls-certificates=" + ca.server(),
                "file", image().toString());
        resources.add(server);
        NbdSettings settings = NbdSettings.of("x509-unix", server.uri().replace("nbd+unix:",
                "nbds+unix:") + "&tls-certificates=" + ca.caOnly() + "&tls-hostname=localhost");
        writeReadFlush(connect(settings, endpoint(settings)));
    }

    @Test
    void x509WithAClientCertificateTheServerVerifies() throws Exception {
        Nbdkit server = tcp("--tls=require", "--tls-certificates=" + ca.server(),
                "--tls-verify-peer");
        // the host is an address; the certificate's DNS name is checked through tls-hostname
        NbdSettings settings = NbdSettings.of("client-cert", tlsUri(server, "tls-certificates="
                + ca.client() + "&tls-hostname=localhost"));
        writeReadFlush(connect(settings, endpoint(settings)));

        NbdConnectException e = refused(tlsUri(server, "tls-certificates=" + ca.caOnly()));
        assertEquals(Reason.TLS_FAILED, e.reason(), e.getMessage());
        assertTrue(e.configurationProblem());
    }

    @Test
    void aServerCertificateFromAnotherCaOrForAnotherNameIsRefused() throws Exception {
        Nbdkit server = tcp("--tls=require", "--tls-certificates=" + ca.server());
        NbdConnectException e = refused(tlsUri(server, "tls-certificates=" + otherCa.caOnly()));
        assertEquals(Reason.TLS_FAILED, e.reason(), e.getMessage());
        assertTrue(e.getMessage().contains("nbds://127.0.0.1:") && e.getMessage().contains(
                "the TLS handshake failed"), e.getMessage());

        e = refused(tlsUri(server, "tls-certificates=" + ca.caOnly()
                + "&tls-hostname=nbd.example"));
        assertEquals(Reason.TLS_FAILED, e.reason(), e.getMessage());

        // without verification the other CA's client gets through (an explicit choice)
        NbdSettings unverified = NbdSettings.of("unverified", tlsUri(server, "tls-certificates="
                + otherCa.caOnly() + "&tls-verify-peer=false"));
        connect(unverified, endpoint(unverified)).read(0, ByteBuffer.allocate(512));
    }

    @Test
    void pskOverTcpAndOverAUnixSocket() throws Exception {
        Path keys = TestCredentials.psk(dir.resolve("keys.psk"), "bob", "alice");
        Nbdkit server = tcp("--tls=require", "--tls-psk=" + keys);
        NbdSettings settings = NbdSettings.of("psk", tlsUri(server, "tls-psk-file=" + keys)
                .replace("nbds://", "nbds://alice@"));
        Recording tls = endpoint(settings);
        writeReadFlush(connect(settings, tls));
        assertEquals("alice", settings.tls().username());

        Nbdkit unix = Nbdkit.unix(dir, "--tls=require", "--tls-psk=" + keys, "memory", "1M");
        resources.add(unix);
        NbdSettings overUnix = NbdSettings.of("psk-unix", unix.uri().replace("nbd+unix:",
                "nbds+unix:") + "&tls-psk-file=" + keys); // the file's first identity: bob
        NbdBackingDevice device = connect(overUnix, endpoint(overUnix));
        ByteBuffer sector = ByteBuffer.allocate(512).putLong(0, 0x0102030405060708L);
        device.write(0, sector, true);
        ByteBuffer back = ByteBuffer.allocate(512);
        device.read(0, back);
        assertEquals(0x0102030405060708L, back.getLong(0));
    }

    @Test
    void anUnknownPskIdentityOrAWrongKeyIsRefused() throws Exception {
        Path keys = TestCredentials.psk(dir.resolve("keys.psk"), "alice");
        Nbdkit server = tcp("--tls=require", "--tls-psk=" + keys);

        Path mallory = TestCredentials.psk(dir.resolve("mallory.psk"), "mallory");
        NbdConnectException e = refused(tlsUri(server, "tls-psk-file=" + mallory));
        assertEquals(Reason.TLS_FAILED, e.reason(), e.getMessage());
        assertTrue(e.getMessage().contains("the TLS handshake failed")
                || e.getMessage().contains("during the TLS handshake"), e.getMessage());

        Path wrongKey = TestCredentials.psk(dir.resolve("wrong.psk"), "alice");
        e = refused(tlsUri(server, "tls-psk-file=" + wrongKey));
        assertEquals(Reason.TLS_FAILED, e.reason(), e.getMessage());
        assertTrue(server.isAlive());
    }

    @Test
    void credentialsThatCannotBeLoadedFailTheDeviceNamingTheFile() throws Exception {
        Path missing = dir.resolve("missing.psk");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> NbdBackingComponent.credentials(NbdSettings.of("creds",
                        "nbds://127.0.0.1/?tls-psk-file=" + missing), provider));
        assertTrue(e.getMessage().startsWith("creds: cannot load the TLS credentials for "
                + "nbds://127.0.0.1:10809/: ") && e.getMessage().contains(missing.toString()),
                e.getMessage());
        Path empty = Files.createDirectories(dir.resolve("no-ca"));
        e = assertThrows(IllegalArgumentException.class,
                () -> NbdBackingComponent.credentials(NbdSettings.of("creds",
                        "nbds://127.0.0.1/?tls-certificates=" + empty), provider));
        assertTrue(e.getMessage().contains(empty.toString()), e.getMessage());
    }

    @Test
    void aServerWithoutTlsIsRefusedBeforeAnyOtherOption() throws Exception {
        Nbdkit server = tcp("-v", "--tls=off");
        NbdSettings settings = NbdSettings.of("clear", tlsUri(server, "tls-certificates="
                + ca.caOnly()))
                .withConnectTimeout(Duration.ofSeconds(5));
        Recording tls = endpoint(settings);
        NbdConnectException e = assertThrows(NbdConnectException.class,
                () -> NbdBackingDevice.connect(settings, tls));
        assertEquals(Reason.TLS_UNAVAILABLE, e.reason(), e.getMessage());
        assertTrue(e.getMessage().contains(" does not offer TLS but the URI is nbds://: refusing "
                + "to send data in clear text"), e.getMessage());
        assertEquals(0, tls.handshakes.get());
        waitUntil(() -> server.log().contains("replying to NBD_OPT_STARTTLS"), "nbdkit's answer");
        String log = server.log();
        assertFalse(log.replace("replying to NBD_OPT_STARTTLS", "")
                .contains("replying to NBD_OPT_"),
                "nothing but STARTTLS reached the server:\n" + log);
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void aRestartedServerGetsANewTlsHandshakeAndRequestsResume(boolean psk) throws Exception {
        Path keys = TestCredentials.psk(dir.resolve("keys.psk"), "alice");
        Nbdkit server = psk ? tcp("--tls=require", "--tls-psk=" + keys)
                : tcp("--tls=require", "--tls-certificates=" + ca.server());
        NbdSettings settings = NbdSettings.of("restart", tlsUri(server, psk
                ? "tls-psk-file=" + keys : "tls-certificates=" + ca.caOnly()))
                .withIoTimeout(Duration.ofSeconds(20))
                .withBackoff(Duration.ofMillis(20), Duration.ofMillis(100));
        Recording tls = endpoint(settings);
        NbdBackingDevice device = connect(settings, tls);
        byte[] data = new byte[64 * 1024];
        new Random(SEED + 1).nextBytes(data);
        device.write(0, ByteBuffer.wrap(data), true);

        server.kill();
        waitUntil(() -> device.state() == BackingState.RECONNECTING, "RECONNECTING");
        server.restart();
        ByteBuffer back = ByteBuffer.allocate(data.length);
        device.read(0, back); // waits for the reconnect
        assertArrayEquals(data, back.array());
        waitUntil(() -> device.state() == BackingState.ONLINE, "ONLINE");
        assertEquals(1, device.reconnectCount());
        assertEquals(2, tls.handshakes.get(), "the reconnect negotiated TLS again");
        device.write(SIZE - 4096, ByteBuffer.allocate(4096), true);
    }
}
