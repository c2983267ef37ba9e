package pcache.backing.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;

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

    @Test
    void malformedUriIsRejectedBeforeConnecting() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> NbdSettings.of("dev", "nbd://host:99999/x", "", 1000, 1000, 10, 100));
        assertTrue(e.getMessage().startsWith("dev: invalid NBD URI 'nbd://host:99999/x'")
                && e.getMessage().contains(NbdUri.EXPECTED_FORMS), e.getMessage());
    }
}
