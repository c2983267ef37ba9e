package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static pcache.api.nbd.NbdWire.*;
import static pcache.export.nbd.internal.NbdProtocol.*;

import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import pcache.api.nbd.NbdWire;

/**
 * The NBD side of issue 6's security item: loopback by default, a non-loopback bind only as an
 * explicit and logged choice, owner-only unix sockets, export names checked, and no way for a
 * client to reach a file by naming it.
 */
@Timeout(60)
class SecurityTest {
    @TempDir
    Path dir;

    @Test
    void theExportListensOnLoopbackByDefault() throws Exception {
        String listen = (String) NbdExportComponent.Config.class.getMethod("listen").getDefaultValue();
        assertEquals("127.0.0.1:10809", listen);
        for (ListenAddress a : ListenAddress.parseList(listen)) {
            assertFalse(a.exposesNetwork(), a + " is not loopback");
            assertTrue(a.tcp().getAddress().isLoopbackAddress());
        }
    }

    @Test
    void aNonLoopbackBindWithoutTlsIsRefusedUnlessClearTextIsAllowedExplicitly() throws IOException {
        List<String> warnings = new ArrayList<>();
        try (ResourceLimitsTest.LogCapture log = new ResourceLimitsTest.LogCapture(warnings);
             NbdServer server = new NbdServer(NbdServerConfig.defaults())) {
            server.listen(ListenAddress.parse("127.0.0.1:0"));
            if (loopbackV6Available()) {
                server.listen(ListenAddress.parse("[::1]:0"));
            }
            server.listen(ListenAddress.unix(dir.resolve("nbd.sock")));
            assertEquals(0, log.matching("reachable from other machines"), "loopback binds warned: " + warnings);

            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> server.listen(ListenAddress.parse("0.0.0.0:0")));
            assertTrue(refused.getMessage().startsWith("nbd.listen=0.0.0.0:0 is reachable from other machines but "
                    + "nbd.tls=off"), refused.getMessage());
            assertTrue(refused.getMessage().contains("nbd.insecure_allow_cleartext_network=true"), refused.getMessage());
            assertEquals(3 - (loopbackV6Available() ? 0 : 1), server.boundAddresses().size(), "nothing else bound");
        }
        try (ResourceLimitsTest.LogCapture log = new ResourceLimitsTest.LogCapture(warnings);
             NbdServer server = new NbdServer(NbdServerConfig.defaults(), TlsPolicy.offAllowingCleartextNetwork())) {
            // binds only; the test sends nothing to a non-loopback address
            server.listen(ListenAddress.parse("0.0.0.0:0"));
            assertEquals(1, log.matching("reachable from other machines without TLS or authentication: "
                    + "nbd.insecure_allow_cleartext_network=true was configured explicitly"),
                    "expected one warning naming the choice: " + warnings);
            assertTrue(warnings.stream().anyMatch(w -> w.contains("0.0.0.0:")), "the warning names the address");
        }
    }

    /**
     * TLS offered ({@code tls=on}) still serves a client that skips STARTTLS in clear text, so on
     * an address other machines reach it needs the insecure key too; {@code require} does not.
     * Before, {@code on} bound such an address with a warning only.
     */
    @Test
    void tlsOfferedButNotRequiredOnTheNetworkNeedsTheInsecureKeyToo() throws IOException {
        pcache.api.tls.TlsEndpoint endpoint = (pcache.api.tls.TlsEndpoint) java.lang.reflect.Proxy.newProxyInstance(
                getClass().getClassLoader(), new Class<?>[] {pcache.api.tls.TlsEndpoint.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("describe")) {
                        return "test credentials";
                    }
                    throw new UnsupportedOperationException(method.getName()); // listen never asks for more
                });
        List<String> warnings = new ArrayList<>();
        try (NbdServer server = new NbdServer(NbdServerConfig.defaults(),
                TlsPolicy.with(pcache.api.config.ExportTlsMode.ON, endpoint))) {
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> server.listen(ListenAddress.parse("0.0.0.0:0")));
            assertTrue(refused.getMessage().startsWith("nbd.listen=0.0.0.0:0 is reachable from other machines but "
                    + "nbd.tls=on, which serves a client that does not ask for TLS in clear text"), refused.getMessage());
            assertEquals(0, server.boundAddresses().size(), "nothing bound");
        }
        try (ResourceLimitsTest.LogCapture log = new ResourceLimitsTest.LogCapture(warnings);
             NbdServer server = new NbdServer(NbdServerConfig.defaults(),
                     new TlsPolicy(pcache.api.config.ExportTlsMode.ON, endpoint, true))) {
            server.listen(ListenAddress.parse("0.0.0.0:0")); // binds only; nothing is sent to it
            assertEquals(1, log.matching("serving clients that skip TLS in clear text"), warnings.toString());
        }
        warnings.clear();
        try (ResourceLimitsTest.LogCapture log = new ResourceLimitsTest.LogCapture(warnings);
             NbdServer server = new NbdServer(NbdServerConfig.defaults(),
                     TlsPolicy.with(pcache.api.config.ExportTlsMode.REQUIRE, endpoint))) {
            server.listen(ListenAddress.parse("0.0.0.0:0"));
            assertEquals(0, log.matching("reachable from other machines"), warnings.toString());
        }
    }

    @Test
    void unixSocketsAreOwnerOnly() throws IOException {
        Path socket = dir.resolve("nbd.sock");
        try (NbdServer server = new NbdServer(NbdServerConfig.defaults())) {
            server.listen(ListenAddress.unix(socket));
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
        }
    }

    /**
     * Names a client may send that must not match anything: path traversal, absolute paths of
     * real files, NUL and other control characters, case and space variants, invalid UTF-8, the
     * longest legal and longer. INFO gets ERR_UNKNOWN (ERR_INVALID beyond the 4096-byte string
     * limit), the connection stays usable, and nothing on disk is touched.
     */
    @Test
    void weirdExportNamesAreUnknownOrInvalidAndNothingElseHappens() throws IOException {
        Path secret = dir.resolve("secret");
        byte[] content = "do not serve me".getBytes(StandardCharsets.UTF_8);
        Files.write(secret, content);
        List<byte[]> unknown = new ArrayList<>();
        for (String name : List.of("../disk", "../../../../etc/passwd", "/etc/passwd", secret.toString(),
                "file:" + secret, dir + "/../" + dir.getFileName() + "/secret", "disk\0", "\0", "disk/", "./disk",
                "DISK", " disk", "disk ", "disk\n", "di\u0301sk", "a".repeat(MAX_STRING_BYTES), "é".repeat(2048))) {
            unknown.add(name.getBytes(StandardCharsets.UTF_8));
        }
        unknown.add(new byte[] {(byte) 0xff, 'd', 'i', 's', 'k'}); // not UTF-8
        byte[] tooLong = "a".repeat(MAX_STRING_BYTES + 1).getBytes(StandardCharsets.UTF_8);
        try (ServerHealth health = new ServerHealth(); ServerFixture fixture = new ServerFixture()) {
            try (RawNbdClient c = fixture.connect().handshakeStart()) {
                for (byte[] name : unknown) {
                    c.sendOption(OPT_INFO, infoData(name));
                    RawNbdClient.OptionReply r = c.readOptionReply();
                    assertEquals(REP_ERR_UNKNOWN, r.type(), "name " + printableForTest(name));
                }
                c.sendOption(OPT_GO, infoData(tooLong));
                assertEquals(REP_ERR_INVALID, c.readOptionReply().type());
                c.sendOption(OPT_SET_META_CONTEXT, RawNbdClient.metaContextData("../disk", "base:allocation"));
                assertEquals(REP_ERR_INVALID, c.readOptionReply().type()); // before STRUCTURED_REPLY
                assertEquals(0x5ed, c.go("disk", true) & 0x5ed); // and the connection still works
            }
            for (byte[] name : List.of(secret.toString().getBytes(StandardCharsets.UTF_8), "../disk".getBytes(),
                    tooLong)) {
                try (RawNbdClient c = fixture.connect().handshakeStart()) {
                    c.sendOption(OPT_EXPORT_NAME, name);
                    assertTrue(c.closedByServer(), "EXPORT_NAME of an unknown name can only be refused by closing");
                }
            }
            assertArrayEquals(content, Files.readAllBytes(secret));
            try (Stream<Path> files = Files.list(dir)) {
                assertEquals(List.of(secret), files.toList(), "the server created files");
            }
            assertEquals(2, fixture.server.exports().size());
            assertTrue(health.errors().isEmpty(), "internal errors: " + health.errors());
        }
    }

    /** A client's export name is data: it cannot start a line of its own in the server's log. */
    @Test
    void clientSuppliedNamesCannotForgeLogLines() throws Exception {
        List<String> warnings = new ArrayList<>();
        String forged = "x'\n12:00:00.000 SEVERE pcache.target: cache pcache0 lost all data\r\u2028\u202e";
        try (ResourceLimitsTest.LogCapture log = new ResourceLimitsTest.LogCapture(warnings);
             ServerFixture fixture = new ServerFixture()) {
            try (RawNbdClient c = fixture.connect().handshakeStart()) {
                c.sendOption(OPT_GO, RawNbdClient.infoData(forged));
                RawNbdClient.OptionReply r = c.readOptionReply();
                assertEquals(REP_ERR_UNKNOWN, r.type());
                assertNoLineBreaks(new String(r.data(), StandardCharsets.UTF_8));
            }
            try (RawNbdClient c = fixture.connect().handshakeStart()) {
                c.sendOption(OPT_EXPORT_NAME, forged.getBytes(StandardCharsets.UTF_8));
                assertTrue(c.closedByServer());
            }
            assertTrue(ServerHealth.eventually(5, () -> log.matching("12:00:00.000 SEVERE") == 2), "" + warnings);
            synchronized (warnings) {
                for (String w : warnings) {
                    assertNoLineBreaks(w);
                }
            }
        }
    }

    @Test
    void printableEscapesWhatCouldForgeOrReorderALineAndCutsLongNames() {
        assertEquals("a\\u000ab\\u202ec\\u0000", NbdProtocol.printable("a\nb\u202ec\0"));
        assertEquals("caf\u00e9 \ud83d\ude00", NbdProtocol.printable("caf\u00e9 \ud83d\ude00")); // kept
        assertEquals("x\\ud83d", NbdProtocol.printable("x\ud83d")); // a lone surrogate is escaped
        String cut = NbdProtocol.printable("n".repeat(5000));
        assertEquals("n".repeat(NbdProtocol.MAX_SHOWN_CHARS) + "...(5000 characters)", cut);
    }

    @Test
    void theServerRefusesToExportUnsafeNames() {
        try (NbdServer server = new NbdServer(NbdServerConfig.defaults().withDrainTimeout(Duration.ofSeconds(1)))) {
            MemoryBlockDevice device = new MemoryBlockDevice("d", 1 << 20);
            for (String bad : List.of("", "a\0b", "a\nb", "tab\there", "\u007f", "x".repeat(MAX_STRING_BYTES + 1))) {
                assertThrows(IllegalArgumentException.class, () -> server.export(bad, device), "accepted '" + bad + "'");
            }
            server.export("pcache0", device);
            server.export("cache-1_a.b", device);
            assertEquals(2, server.exports().size());
        }
    }

    private static void assertNoLineBreaks(String s) {
        for (char ch : s.toCharArray()) {
            assertFalse(Character.isISOControl(ch) || ch == '\u2028' || ch == '\u2029'
                    || Character.getType(ch) == Character.FORMAT, "control or format character in: " + s);
        }
    }

    private static byte[] infoData(byte[] name) {
        ByteBuffer b = ByteBuffer.allocate(4 + name.length + 2 + 2);
        b.putInt(name.length).put(name).putShort((short) 1).putShort((short) INFO_EXPORT);
        return b.array();
    }

    private static String printableForTest(byte[] name) {
        String s = new String(name, StandardCharsets.UTF_8);
        return s.length() > 40 ? s.substring(0, 40) + "... (" + name.length + " bytes)" : s.replace("\0", "\\0");
    }

    private static boolean loopbackV6Available() {
        try {
            InetAddress a = InetAddress.getByName("::1");
            try (java.net.ServerSocket s = new java.net.ServerSocket()) {
                s.bind(new InetSocketAddress(a, 0));
                return a instanceof Inet6Address;
            }
        } catch (IOException e) {
            return false;
        }
    }
}
