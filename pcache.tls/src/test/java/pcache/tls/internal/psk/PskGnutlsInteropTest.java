package pcache.tls.internal.psk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import pcache.api.tls.TlsChannel;
import pcache.api.tls.TlsHandshakeException;
import pcache.api.tls.TlsSettings;
import pcache.testkit.ExternalTools;
import pcache.tls.internal.DefaultTlsProvider;
import pcache.tls.internal.Gnutls;
import pcache.tls.internal.PcacheEchoPeer;
import pcache.tls.internal.PcacheEchoPeer.OneShotServer;
import pcache.tls.internal.PcacheEchoPeer.Served;
import pcache.tls.internal.credentials.PskFile;

/**
 * Pre-shared keys against GnuTLS (qemu's, nbdkit's and libnbd's TLS stack) with a key file psktool
 * writes: TLS 1.3 (external PSK with (EC)DHE) and TLS 1.2 PSK suites, both directions.
 */
class PskGnutlsInteropTest {

    private static final String TLS13 = "NORMAL:+PSK:+ECDHE-PSK:+DHE-PSK";
    private static final String TLS12 = "NORMAL:-VERS-TLS1.3:+PSK:+ECDHE-PSK:+DHE-PSK";

    @TempDir
    static Path temp;
    static Path keys;
    static String aliceKey;

    private final DefaultTlsProvider provider = new DefaultTlsProvider();

    @BeforeAll
    static void makeKeys() throws Exception {
        Gnutls.require();
        ExternalTools.require("psktool");
        keys = temp.resolve("keys.psk");
        for (String identity : List.of("alice", "bob")) {
            Process psktool = new ProcessBuilder(ExternalTools.which("psktool"), "-u", identity, "-p", keys.toString())
                    .redirectErrorStream(true).redirectOutput(temp.resolve("psktool.log").toFile()).start();
            assertTrue(psktool.waitFor(10, TimeUnit.SECONDS));
            assertEquals(0, psktool.exitValue(), Files.readString(temp.resolve("psktool.log")));
        }
        aliceKey = java.util.HexFormat.of().formatHex(PskFile.read(keys).key("alice"));
    }

    @ParameterizedTest
    @CsvSource({TLS13 + ", TLSv1.3", TLS12 + ", TLSv1.2"})
    void pcacheClientAgainstGnutlsServ(String priority, String protocol) throws Exception {
        try (Gnutls.Server server = Gnutls.Server.echo(temp, "--priority", priority, "--pskpasswd", keys.toString());
             TlsChannel channel = PcacheEchoPeer.connect(provider.client(TlsSettings.psk(keys, "bob")), server.port)) {
            assertEquals(protocol, channel.protocol());
            assertEquals("bob", channel.peerIdentity());
            PcacheEchoPeer.write(channel, "hello gnutls\n");
            assertEquals("hello gnutls", PcacheEchoPeer.readLine(channel));
        }
    }

    @Test
    void pcacheClientWithWrongKeyIsRefusedByGnutlsServ() throws Exception {
        Path wrong = temp.resolve("wrong.psk");
        Files.writeString(wrong, "alice:" + PskHandshakeTest.randomKey() + "\n");
        pcache.tls.internal.TestPki.ownerOnly(wrong);
        try (Gnutls.Server server = Gnutls.Server.echo(temp, "--priority", TLS13, "--pskpasswd", keys.toString())) {
            TlsHandshakeException refused = assertThrows(TlsHandshakeException.class,
                    () -> PcacheEchoPeer.connect(provider.client(TlsSettings.psk(wrong, null)), server.port));
            assertTrue(refused.getMessage().contains("PSK identity 'alice'"), refused.getMessage());
        }
    }

    @ParameterizedTest
    @CsvSource({TLS13 + ", TLSv1.3", TLS12 + ", TLSv1.2"})
    void gnutlsCliAgainstPcacheServer(String priority, String protocol) throws Exception {
        try (OneShotServer server = new OneShotServer(provider.server(TlsSettings.psk(keys, null)))) {
            Gnutls.Result result = Gnutls.client(temp, server.port, "hello pcache", "--priority", priority,
                    "--pskusername", "alice", "--pskkey", aliceKey);
            Served served = server.served();
            assertNull(served.failure(), () -> String.valueOf(served.failure()) + "\n" + result.output());
            assertEquals("hello pcache", served.line());
            assertEquals(protocol, served.channel().protocol());
            if (protocol.equals("TLSv1.3")) {
                // the client's order among pcache's suites, which bind the key to SHA-256 (README)
                assertEquals("TLS_AES_128_GCM_SHA256", served.channel().cipherSuite());
            }
            assertEquals("alice", served.channel().peerIdentity());
            assertTrue(result.output().contains("pcache says hello pcache"), result.output());
            assertEquals(0, result.exitCode(), result.output());
        }
    }

    @ParameterizedTest
    @CsvSource({TLS13, TLS12})
    void pcacheServerRefusesUnknownIdentityFromGnutlsCli(String priority) throws Exception {
        try (OneShotServer server = new OneShotServer(provider.server(TlsSettings.psk(keys, null)))) {
            Gnutls.Result result = Gnutls.client(temp, server.port, "hello", "--priority", priority,
                    "--pskusername", "mallory", "--pskkey", aliceKey);
            Served served = server.served();
            TlsHandshakeException failure = assertInstanceOf(TlsHandshakeException.class, served.failure());
            assertTrue(failure.getMessage().matches("refusing client /127\\.0\\.0\\.1:\\d+: PSK identity 'mallory'"
                    + " is not in " + keys), failure.getMessage());
            assertNotEquals(0, result.exitCode(), result.output());
        }
    }
}
