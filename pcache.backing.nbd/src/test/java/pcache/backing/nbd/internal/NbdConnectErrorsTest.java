package pcache.backing.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import pcache.backing.nbd.internal.NbdConnectException.Reason;

/** Every way of failing to connect gets its own clear error. */
class NbdConnectErrorsTest {

    @TempDir
    Path dir;

    private static NbdConnectException connectFails(String uri, Duration timeout) {
        return assertThrows(NbdConnectException.class, () -> NbdBackingDevice.connect(
                NbdSettings.of("x", uri).withConnectTimeout(timeout)).close());
    }

    @Test
    void unknownExport() throws Exception {
        try (Nbdkit server = Nbdkit.unix(dir, "--filter=exportname", "memory", "1M",
                "exportname-strict=true", "exportname=disk1")) {
            NbdConnectException e = connectFails(server.uri("disk2"), Duration.ofSeconds(5));
            assertEquals(Reason.UNKNOWN_EXPORT, e.reason(), e.getMessage());
            assertTrue(e.getMessage().contains("no export named 'disk2'")
                    && e.getMessage().contains("nbdinfo --list"), e.getMessage());
            NbdBackingDevice.connect(NbdSettings.of("x", server.uri("disk1"))).close();
        }
    }

    @Test
    void serverRequiringTls() throws Exception {
        Path psk = dir.resolve("keys.psk");
        Files.writeString(psk, "alice:0123456789abcdef0123456789abcdef\n");
        Files.setPosixFilePermissions(psk, PosixFilePermissions.fromString("rw-------"));
        try (Nbdkit server = Nbdkit.unix(dir, "--tls=require", "--tls-psk=" + psk, "memory",
                "1M")) {
            NbdConnectException e = connectFails(server.uri(), Duration.ofSeconds(5));
            assertEquals(Reason.TLS_REQUIRED, e.reason(), e.getMessage());
            assertTrue(e.getMessage().contains("requires TLS"), e.getMessage());
        }
    }

    @Test
    void oldstyleServer() throws Exception {
        try (Nbdkit server = Nbdkit.unix(dir, "-o", "memory", "1M")) {
            NbdConnectException e = connectFails(server.uri(), Duration.ofSeconds(5));
            assertEquals(Reason.PROTOCOL, e.reason(), e.getMessage());
            assertTrue(e.getMessage().contains("oldstyle"), e.getMessage());
        }
    }

    @Test
    void peerThatIsNotAnNbdServer() throws Exception {
        try (ServerSocket listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Thread garbage = new Thread(() -> {
                try (Socket s = listener.accept(); OutputStream out = s.getOutputStream()) {
                    out.write("HTTP/1.1 400 Bad Request\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    Thread.sleep(200);
                } catch (IOException | InterruptedException e) {
                    // test over
                }
            });
            garbage.start();
            NbdConnectException e = connectFails("nbd://127.0.0.1:" + listener.getLocalPort()
                    + "/x", Duration.ofSeconds(5));
            assertEquals(Reason.NOT_NBD, e.reason(), e.getMessage());
            assertTrue(e.getMessage().contains("is not an NBD server")
                    && e.getMessage().contains("HTTP/1.1"), e.getMessage());
            garbage.join(5000);
        }
    }

    @Test
    void silentPeerTimesOut() throws Exception {
        try (ServerSocket listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            long began = System.nanoTime();
            NbdConnectException e = connectFails("nbd://127.0.0.1:" + listener.getLocalPort(),
                    Duration.ofMillis(300));
            long millis = (System.nanoTime() - began) / 1_000_000;
            assertEquals(Reason.TIMEOUT, e.reason(), e.getMessage());
            assertTrue(e.getMessage().contains("within 300 ms"), e.getMessage());
            assertTrue(millis < 5000, millis + " ms");
        }
    }

    @Test
    void nothingListening() throws Exception {
        NbdConnectException tcp = connectFails("nbd://127.0.0.1:" + Nbdkit.freePort() + "/",
                Duration.ofSeconds(5));
        assertEquals(Reason.UNREACHABLE, tcp.reason());
        assertTrue(tcp.getMessage().contains("Connection refused")
                && tcp.getMessage().contains("is the NBD server running?"), tcp.getMessage());

        NbdConnectException unix = connectFails("nbd+unix:///?socket=" + dir.resolve("none.sock"),
                Duration.ofSeconds(5));
        assertEquals(Reason.UNREACHABLE, unix.reason());
        assertTrue(unix.getMessage().contains("none.sock"), unix.getMessage());
    }

    /** Resolves one made-up name to the given loopback addresses, counting its lookups. */
    private static final class FakeNames implements HostResolver.Lookup {
        final AtomicInteger lookups = new AtomicInteger();
        final CountDownLatch answer = new CountDownLatch(1);
        final InetAddress[] addresses;

        FakeNames(boolean answerAtOnce, String... literals) throws UnknownHostException {
            addresses = new InetAddress[literals.length];
            for (int i = 0; i < literals.length; i++) {
                addresses[i] = InetAddress.getByName(literals[i]);
            }
            if (answerAtOnce) {
                answer.countDown();
            }
        }

        @Override
        public InetAddress[] addresses(String host) throws UnknownHostException {
            lookups.incrementAndGet();
            try {
                answer.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (!host.equals("disk.pcache-test.invalid")) {
                throw new UnknownHostException(host);
            }
            return addresses.clone();
        }
    }

    private static Connector.Link connect(String uri, Duration timeout, HostResolver resolver)
            throws NbdConnectException {
        ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor();
        try {
            return Connector.connect(NbdUri.parse(uri), null, timeout, watchdog, resolver);
        } finally {
            watchdog.shutdownNow();
        }
    }

    @Test
    void everyAddressOfTheHostIsTriedInTurn() throws Exception {
        // Linux refuses a connection to 127.0.0.2 when the server listens on 127.0.0.1 only
        try (Nbdkit server = Nbdkit.tcp(dir, "memory", "1M")) {
            String uri = server.uri().replace("127.0.0.1", "disk.pcache-test.invalid");
            FakeNames names = new FakeNames(true, "127.0.0.2", "127.0.0.1");
            Connector.Link link = connect(uri, Duration.ofSeconds(5), new HostResolver(names));
            assertEquals(1 << 20, link.export().sizeBytes());
            Connector.disconnect(link);

            FakeNames none = new FakeNames(true, "127.0.0.2", "127.0.0.3");
            NbdConnectException e = assertThrows(NbdConnectException.class,
                    () -> connect(uri, Duration.ofSeconds(5), new HostResolver(none)));
            assertEquals(Reason.UNREACHABLE, e.reason(), e.getMessage());
            assertTrue(e.getMessage().contains("cannot connect to any of its 2 addresses (127.0.0.2: ")
                    && e.getMessage().contains("; 127.0.0.3: ")
                    && e.getMessage().contains("is the NBD server running?"), e.getMessage());

            NbdConnectException unknown = assertThrows(NbdConnectException.class,
                    () -> connect(server.uri().replace("127.0.0.1", "other.pcache-test.invalid"),
                            Duration.ofSeconds(5), new HostResolver(names)));
            assertEquals(Reason.UNREACHABLE, unknown.reason(), unknown.getMessage());
            assertTrue(unknown.getMessage().contains("cannot resolve host 'other.pcache-test.invalid'"),
                    unknown.getMessage());
        }
    }

    @Test
    void aLookupThatHangsEndsWithTheConnectTimeoutAndIsShared() throws Exception {
        try (Nbdkit server = Nbdkit.tcp(dir, "memory", "1M")) {
            String uri = server.uri().replace("127.0.0.1", "disk.pcache-test.invalid");
            FakeNames names = new FakeNames(false, "127.0.0.1");
            HostResolver resolver = new HostResolver(names);
            for (int attempt = 0; attempt < 2; attempt++) {
                NbdConnectException e = assertThrows(NbdConnectException.class,
                        () -> connect(uri, Duration.ofMillis(300), resolver));
                assertEquals(Reason.TIMEOUT, e.reason(), e.getMessage());
                assertTrue(e.getMessage().contains("host 'disk.pcache-test.invalid' did not resolve "
                        + "within 300 ms"), e.getMessage());
            }
            assertEquals(1, names.lookups.get(), "the second attempt waits for the first lookup");
            names.answer.countDown(); // the name server answers at last
            Connector.Link link = connect(uri, Duration.ofSeconds(5), resolver);
            Connector.disconnect(link);
        }
    }

    @Test
    void malformedUriIsRejectedBeforeConnecting() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> NbdSettings.of("dev", "nbd://host:99999/x", "", 1000, 1000, 10, 100));
        assertTrue(e.getMessage().startsWith("dev: invalid NBD URI 'nbd://host:99999/x'")
                && e.getMessage().contains(NbdUri.EXPECTED_FORMS), e.getMessage());
    }
}
