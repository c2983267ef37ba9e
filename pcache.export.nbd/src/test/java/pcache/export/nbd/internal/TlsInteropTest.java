package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static pcache.api.nbd.NbdWire.*;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import pcache.api.config.ExportTlsMode;
import pcache.api.tls.TlsChannel;
import pcache.api.tls.TlsEndpoint;
import pcache.api.tls.TlsSettings;
import pcache.tls.internal.DefaultTlsProvider;

/**
 * Real TLS clients of the export over TCP loopback: nbdinfo and nbdcopy (libnbd, GnuTLS), qemu-io
 * and qemu-img (qemu, GnuTLS), with X.509 certificates and with pre-shared keys; and the refusals
 * (a client certificate from another CA, an unknown PSK identity, a clear-text client against a
 * server that requires TLS), each with the log line that names it while a TLS connection opened
 * before goes on working. Credentials are made by certtool at run time ({@link TestCredentials}).
 * pcache's own TLS client (pcache.tls, also the backing device's) holds the concurrent connection.
 */
@Timeout(60)
class TlsInteropTest {
    private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(30);
    private static final int COPY_BYTES = 4 << 20;
    /** Seed of the data nbdcopy copies; -Dpcache.test.seed=N replays one. */
    private static final long SEED = Long.getLong("pcache.test.seed", System.nanoTime());

    @TempDir
    static Path credentialsDir;
    private static TestCredentials credentials;

    @TempDir
    Path dir;

    private final DefaultTlsProvider provider = new DefaultTlsProvider();
    private final List<String> warnings = new ArrayList<>();
    private ExternalProcesses processes;
    private ResourceLimitsTest.LogCapture log;
    private ServerFixture fixture;

    @BeforeAll
    static void makeCredentials() throws Exception {
        ExternalProcesses p = new ExternalProcesses(credentialsDir);
        try {
            credentials = TestCredentials.generate(credentialsDir.resolve("tls"), p);
        } finally {
            p.destroyAll();
        }
    }

    @AfterEach
    void stop() throws InterruptedException {
        if (processes != null) {
            processes.destroyAll();
            processes = null;
        }
        if (fixture != null) {
            fixture.close();
            fixture = null;
        }
        if (log != null) {
            log.close();
            log = null;
        }
    }

    /** A server requiring TLS with {@code settings}. */
    private void start(TlsSettings settings) throws Exception {
        start(ExportTlsMode.REQUIRE, settings);
    }

    private void start(ExportTlsMode mode, TlsSettings settings) throws Exception {
        stop(); // a test may try both kinds of credentials
        processes = new ExternalProcesses(dir);
        log = new ResourceLimitsTest.LogCapture(warnings);
        TlsEndpoint endpoint = provider.server(settings);
        fixture = new ServerFixture(NbdServerConfig.defaults().withDrainTimeout(Duration.ofSeconds(5)),
                TlsPolicy.with(mode, endpoint));
    }

    private void startX509() throws Exception {
        start(TlsSettings.certificates(credentials.serverDir, true, null));
    }

    private void startPsk() throws Exception {
        start(TlsSettings.psk(credentials.pskFile, null));
    }

    private int port() {
        return fixture.address.getPort();
    }

    private String x509Uri(String export, Path clientDir) {
        return "nbds://127.0.0.1:" + port() + "/" + export + "?tls-certificates=" + clientDir;
    }

    private String pskUri(String user, String export, Path pskFile) {
        return "nbds://" + user + "@127.0.0.1:" + port() + "/" + export + "?tls-psk-file=" + pskFile;
    }

    /** qemu's --image-opts for the export over TLS credentials object tls0. */
    private String qemuImageOpts(String export) {
        return "driver=nbd,host=127.0.0.1,port=" + port() + ",export=" + export + ",tls-creds=tls0";
    }

    private static String qemuX509(Path clientDir) {
        return "tls-creds-x509,id=tls0,dir=" + clientDir + ",endpoint=client";
    }

    private static String qemuPsk(Path pskDir, String user) {
        return "tls-creds-psk,id=tls0,dir=" + pskDir + ",username=" + user + ",endpoint=client";
    }

    private static void assertSucceeded(ExternalProcesses.Result r) {
        assertEquals(0, r.exitCode(), r.all());
    }

    /**
     * A client of pcache's own TLS implementation, attached to "disk" with structured replies:
     * the connection that must keep working while others are refused.
     */
    private RawNbdClient pcacheTlsClient(TlsSettings settings) throws IOException {
        TlsEndpoint endpoint;
        try {
            endpoint = provider.client(settings);
        } catch (pcache.api.tls.TlsConfigurationException e) {
            throw new IOException(e);
        }
        SocketChannel socket = SocketChannel.open(new InetSocketAddress("127.0.0.1", port()));
        try {
            RawNbdClient clear = new RawNbdClient(socket, socket).handshakeStart();
            clear.sendOption(OPT_STARTTLS, new byte[0]);
            assertEquals(REP_ACK, clear.readOptionReply().type());
            TlsChannel tls = endpoint.handshake(socket, "127.0.0.1:" + port());
            RawNbdClient c = new RawNbdClient(tls, tls);
            c.go("disk", true);
            return c;
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    private void assertReadsDisk(RawNbdClient c, long cookie) throws IOException {
        c.request(0, NbdCommand.READ.type, cookie, 0, 4096, null);
        RawNbdClient.Reply r = c.readReply(4096);
        assertEquals(cookie, r.cookie());
        assertEquals(0, r.error());
        assertArrayEquals(fixture.disk.snapshot(0, 4096), Arrays.copyOfRange(r.payload(), 8, r.payload().length));
    }

    /** The warnings that mention the TLS handshake failing, for a refused client. */
    private List<String> tlsFailures() {
        synchronized (warnings) {
            return warnings.stream().filter(w -> w.contains("TLS handshake failed")).toList();
        }
    }

    /** Waits (bounded) for the server to log a refusal: it may log just after the client gave up. */
    private List<String> awaitTlsFailures(int count) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (tlsFailures().size() < count && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        return tlsFailures();
    }

    // ---------------------------------------------------------------- clients that succeed

    @Test
    void nbdinfoWithCertificatesAndWithPsk() throws Exception {
        ExternalProcesses.assumeInstalled("nbdinfo");
        startX509();
        ExternalProcesses.Result r = processes.run(TOOL_TIMEOUT, "nbdinfo", x509Uri("disk", credentials.clientDir));
        assertSucceeded(r);
        assertTrue(r.stdout().contains("with TLS"), r.all());
        assertTrue(r.stdout().contains("export-size: " + ServerFixture.DISK_BYTES), r.all());

        startPsk();
        r = processes.run(TOOL_TIMEOUT, "nbdinfo", pskUri("alice", "disk", credentials.pskFile));
        assertSucceeded(r);
        assertTrue(r.stdout().contains("with TLS"), r.all());
        // TLS over a unix socket too
        Path socket = dir.resolve("nbd.sock");
        fixture.server.listen(ListenAddress.unix(socket));
        r = processes.run(TOOL_TIMEOUT, "nbdinfo", "nbds+unix://alice@/disk?socket=" + socket + "&tls-psk-file="
                + credentials.pskFile);
        assertSucceeded(r);
        assertTrue(r.stdout().contains("with TLS"), r.all());
        assertTrue(warnings.isEmpty(), warnings.toString());
    }

    /** nbdsh as README shows it: libnbd's shell must allow the URI's local files itself. */
    @Test
    void nbdshWithCertificatesAndWithPsk() throws Exception {
        ExternalProcesses.assumeInstalled("nbdsh");
        startX509();
        nbdshSizeAndTls(x509Uri("disk", credentials.clientDir));
        startPsk();
        nbdshSizeAndTls(pskUri("alice", "disk", credentials.pskFile));
        assertTrue(warnings.isEmpty(), warnings.toString());
    }

    private void nbdshSizeAndTls(String uri) throws Exception {
        ExternalProcesses.Result r = processes.run(TOOL_TIMEOUT, "nbdsh", "-c", "h.set_uri_allow_local_file(True)",
                "-c", "h.connect_uri('" + uri + "')", "-c", "print(h.get_size(), h.get_tls_negotiated())",
                "-c", "h.shutdown()");
        assertSucceeded(r);
        assertEquals(ServerFixture.DISK_BYTES + " True", r.stdout().trim(), r.all());
    }

    @Test
    void nbdcopyCopiesInAndOutOverTls() throws Exception {
        ExternalProcesses.assumeInstalled("nbdcopy");
        System.out.println("TlsInteropTest seed " + SEED + " (replay: -Dpcache.test.seed=" + SEED + ")");
        Path in = dir.resolve("in.bin");
        byte[] data = new byte[COPY_BYTES];
        new Random(SEED).nextBytes(data);
        Files.write(in, data);
        startX509();
        copyInAndOut(in, x509Uri("copy", credentials.clientDir));
        startPsk();
        copyInAndOut(in, pskUri("alice", "copy", credentials.pskFile));
    }

    /** nbdcopy {@code in} onto a fresh export "copy" at {@code uri} and back out; both must match. */
    private void copyInAndOut(Path in, String uri) throws Exception {
        MemoryBlockDevice copy = new MemoryBlockDevice("copy", COPY_BYTES);
        fixture.server.export("copy", copy);
        Path out = dir.resolve("out.bin");
        Files.deleteIfExists(out);
        assertSucceeded(processes.run(TOOL_TIMEOUT, "nbdcopy", "--flush", in.toString(), uri));
        assertArrayEquals(Files.readAllBytes(in), copy.snapshot(0, COPY_BYTES), "the export holds the file");
        assertTrue(copy.flushes.get() >= 1);
        // nbdcopy writes 256 KiB requests: above the inline limit, each payload is received ahead
        // by the TLS channel and placed by the device (GnuTLS does not pad its records)
        assertTrue(copy.placed.get() > 0, "large writes placed: " + copy.placed.get() + " of " + copy.writes.get()
                + " writes");
        assertSucceeded(processes.run(TOOL_TIMEOUT, "nbdcopy", uri, out.toString()));
        assertEquals(-1, Files.mismatch(in, out), "the file came back byte for byte");
    }

    @Test
    void qemuIoAndQemuImgWithCertificates() throws Exception {
        ExternalProcesses.assumeInstalled("qemu-io", "qemu-img");
        startX509();
        assertSucceeded(processes.run(TOOL_TIMEOUT, "qemu-io", "--object", qemuX509(credentials.clientDir),
                "--image-opts", qemuImageOpts("disk"), "-c", "write -P 0xab 0 1M", "-c", "read -P 0xab 0 1M"));
        byte[] expected = new byte[1 << 20];
        Arrays.fill(expected, (byte) 0xab);
        assertArrayEquals(expected, fixture.disk.snapshot(0, 1 << 20));

        Path image = dir.resolve("image.raw");
        byte[] content = new byte[2 << 20];
        new Random(SEED).nextBytes(content);
        Files.write(image, content);
        assertSucceeded(processes.run(TOOL_TIMEOUT, "qemu-img", "convert", "-n", "--object",
                qemuX509(credentials.clientDir), "-f", "raw", image.toString(), "--target-image-opts",
                qemuImageOpts("disk")));
        assertArrayEquals(content, fixture.disk.snapshot(0, content.length));
        ExternalProcesses.Result info = processes.run(TOOL_TIMEOUT, "qemu-img", "info", "--object",
                qemuX509(credentials.clientDir), "--image-opts", qemuImageOpts("disk"));
        assertSucceeded(info);
        assertTrue(info.stdout().contains(ServerFixture.DISK_BYTES + " bytes"), info.all());
    }

    @Test
    void qemuIoAndQemuImgWithPsk() throws Exception {
        ExternalProcesses.assumeInstalled("qemu-io", "qemu-img");
        startPsk();
        assertSucceeded(processes.run(TOOL_TIMEOUT, "qemu-io", "--object", qemuPsk(credentials.pskDir, "alice"),
                "--image-opts", qemuImageOpts("disk"), "-c", "write -P 0xcd 1M 64k", "-c", "read -P 0xcd 1M 64k"));
        ExternalProcesses.Result info = processes.run(TOOL_TIMEOUT, "qemu-img", "info", "--object",
                qemuPsk(credentials.pskDir, "alice"), "--image-opts", qemuImageOpts("disk"));
        assertSucceeded(info);
        assertTrue(info.stdout().contains(ServerFixture.DISK_BYTES + " bytes"), info.all());
    }

    /** GnuTLS limited to TLS 1.2 (qemu's priority string): the server speaks both versions. */
    @Test
    void tls12ForCertificatesAndPsk() throws Exception {
        ExternalProcesses.assumeInstalled("qemu-io");
        startX509();
        assertSucceeded(processes.run(TOOL_TIMEOUT, "qemu-io", "--object", qemuX509(credentials.clientDir)
                + ",priority=NORMAL:-VERS-TLS1.3", "--image-opts", qemuImageOpts("disk"), "-c", "read 0 64k"));
        startPsk();
        assertSucceeded(processes.run(TOOL_TIMEOUT, "qemu-io", "--object", qemuPsk(credentials.pskDir, "alice")
                + ",priority=NORMAL:-VERS-TLS1.3:+ECDHE-PSK:+DHE-PSK:+PSK", "--image-opts", qemuImageOpts("disk"),
                "-c", "read 0 64k"));
        assertTrue(warnings.isEmpty(), warnings.toString());
    }

    /** {@code nbd.tls = on}: libnbd with TLS gets it, libnbd without is served in clear text. */
    @Test
    void onServesTlsAndClearTextClients() throws Exception {
        ExternalProcesses.assumeInstalled("nbdinfo");
        start(ExportTlsMode.ON, TlsSettings.certificates(credentials.serverDir, true, null));
        ExternalProcesses.Result tls = processes.run(TOOL_TIMEOUT, "nbdinfo", x509Uri("disk", credentials.clientDir));
        assertSucceeded(tls);
        assertTrue(tls.stdout().contains("with TLS"), tls.all());
        ExternalProcesses.Result clear = processes.run(TOOL_TIMEOUT, "nbdinfo", "nbd://127.0.0.1:" + port() + "/disk");
        assertSucceeded(clear);
        assertTrue(clear.stdout().contains("without TLS"), clear.all());
        assertTrue(warnings.isEmpty(), warnings.toString());
    }

    // ---------------------------------------------------------------- refusals

    @Test
    void aClientCertificateFromAnotherCaIsRefusedWhileOthersGoOn() throws Exception {
        ExternalProcesses.assumeInstalled("nbdinfo");
        startX509();
        try (RawNbdClient good = pcacheTlsClient(TlsSettings.certificates(credentials.clientDir, true, "127.0.0.1"))) {
            ExternalProcesses.Result r = processes.run(TOOL_TIMEOUT, "nbdinfo",
                    x509Uri("disk", credentials.strangerDir));
            assertNotEquals(0, r.exitCode(), r.all());
            List<String> failures = awaitTlsFailures(1);
            System.out.println("TlsInteropTest: logged " + warnings);
            assertEquals(1, failures.size(), warnings.toString());
            assertTrue(failures.get(0).contains("127.0.0.1:") && failures.get(0).toLowerCase(Locale.ROOT)
                    .contains("certificate"), failures.get(0));
            assertReadsDisk(good, 1);
        }
    }

    @Test
    void anUnknownPskIdentityIsRefusedWhileOthersGoOn() throws Exception {
        ExternalProcesses.assumeInstalled("nbdinfo");
        startPsk();
        try (RawNbdClient good = pcacheTlsClient(TlsSettings.psk(credentials.pskFile, "alice"))) {
            ExternalProcesses.Result r = processes.run(TOOL_TIMEOUT, "nbdinfo",
                    pskUri("mallory", "disk", credentials.unknownPskFile));
            assertNotEquals(0, r.exitCode(), r.all());
            List<String> failures = awaitTlsFailures(1);
            System.out.println("TlsInteropTest: logged " + warnings);
            assertEquals(1, failures.size(), warnings.toString());
            assertTrue(failures.get(0).contains("127.0.0.1:") && failures.get(0).contains("mallory"), failures.get(0));
            assertReadsDisk(good, 2);
        }
    }

    @Test
    void aClearTextClientIsRefusedWhenTlsIsRequiredWhileOthersGoOn() throws Exception {
        ExternalProcesses.assumeInstalled("nbdinfo");
        startX509();
        try (RawNbdClient good = pcacheTlsClient(TlsSettings.certificates(credentials.clientDir, true, "127.0.0.1"))) {
            long readsBefore = fixture.disk.reads.get();
            ExternalProcesses.Result r = processes.run(TOOL_TIMEOUT, java.util.Map.of("LIBNBD_DEBUG", "1"), "nbdinfo",
                    "nbd://127.0.0.1:" + port() + "/disk");
            assertEquals(readsBefore, fixture.disk.reads.get(), "nothing was read in clear text");
            assertNotEquals(0, r.exitCode(), r.all());
            assertTrue(r.stdout().contains("without TLS"), r.all());
            assertTrue(r.stderr().contains("server error message: this server requires TLS"), r.all());
            assertEquals(1, log.matching("this server requires TLS: send NBD_OPT_STARTTLS first"), warnings.toString());
            assertReadsDisk(good, 3);
        }
    }
}
