package pcache.tls.internal.x509;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import pcache.api.tls.TlsChannel;
import pcache.api.tls.TlsHandshakeException;
import pcache.api.tls.TlsSettings;
import pcache.tls.internal.DefaultTlsProvider;
import pcache.tls.internal.Gnutls;
import pcache.tls.internal.PcacheEchoPeer;
import pcache.tls.internal.PcacheEchoPeer.OneShotServer;
import pcache.tls.internal.PcacheEchoPeer.Served;

/**
 * X.509 against GnuTLS (qemu's, nbdkit's and libnbd's TLS stack), with certificates certtool
 * makes: pcache's client against gnutls-serv, gnutls-cli against pcache's server.
 */
class X509GnutlsInteropTest {

    private static final String TLS12 = "NORMAL:-VERS-TLS1.3";

    @TempDir
    static Path temp;
    static Path certificates;

    private final DefaultTlsProvider provider = new DefaultTlsProvider();

    @BeforeAll
    static void makeCertificates() throws Exception {
        Gnutls.require();
        certificates = Gnutls.certificates(temp.resolve("pki"), "nbd client");
    }

    @ParameterizedTest
    @CsvSource({"NORMAL, TLSv1.3", TLS12 + ", TLSv1.2"})
    void pcacheClientWithCertificateAgainstGnutlsServ(String priority, String protocol) throws Exception {
        try (Gnutls.Server server = Gnutls.Server.echo(certificates, "--priority", priority,
                "--x509cafile", "ca-cert.pem", "--x509certfile", "server-cert.pem", "--x509keyfile", "server-key.pem",
                "--require-client-cert", "--verify-client-cert");
             TlsChannel channel = PcacheEchoPeer.connect(
                     provider.client(TlsSettings.certificates(certificates, true, "127.0.0.1")), server.port)) {
            assertEquals(protocol, channel.protocol());
            // gnutls-serv follows the client's order, and pcache's client puts AES-128-GCM first
            assertTrue(channel.cipherSuite().endsWith("AES_128_GCM_SHA256"), channel.cipherSuite());
            assertEquals("CN=localhost", channel.peerIdentity());
            PcacheEchoPeer.write(channel, "hello gnutls\n");
            assertEquals("hello gnutls", PcacheEchoPeer.readLine(channel));
        }
    }

    @Test
    void pcacheClientRefusesGnutlsServWithForeignCertificate() throws Exception {
        Path other = Gnutls.certificates(temp.resolve("other"), "other");
        try (Gnutls.Server server = Gnutls.Server.echo(other, "--x509certfile", "server-cert.pem",
                "--x509keyfile", "server-key.pem", "--disable-client-cert")) {
            TlsHandshakeException refused = assertThrows(TlsHandshakeException.class, () -> PcacheEchoPeer.connect(
                    provider.client(TlsSettings.certificates(certificates, true, "localhost")), server.port));
            assertTrue(refused.getMessage().contains("the server's certificate (CN=localhost) is not signed by "
                    + certificates.resolve("ca-cert.pem")), refused.getMessage());
        }
    }

    @ParameterizedTest
    @CsvSource({"NORMAL, TLSv1.3", TLS12 + ", TLSv1.2"})
    void gnutlsCliWithCertificateAgainstPcacheServer(String priority, String protocol) throws Exception {
        try (OneShotServer server = new OneShotServer(provider.server(TlsSettings.certificates(certificates, true,
                null)))) {
            Gnutls.Result result = Gnutls.client(certificates, server.port, "hello pcache", "--priority", priority,
                    "--x509cafile", "ca-cert.pem", "--x509certfile", "client-cert.pem", "--x509keyfile",
                    "client-key.pem");
            Served served = server.served();
            assertNull(served.failure(), () -> String.valueOf(served.failure()));
            assertEquals("hello pcache", served.line());
            assertEquals(protocol, served.channel().protocol());
            // GnuTLS's NORMAL lists AES-256-GCM first; the server's order decides (SuiteOrder)
            assertTrue(served.channel().cipherSuite().endsWith("AES_128_GCM_SHA256"), served.channel().cipherSuite());
            assertEquals("CN=nbd client", served.channel().peerIdentity());
            assertTrue(result.output().contains("pcache says hello pcache"), result.output());
            assertTrue(result.output().contains("The certificate is trusted"), result.output());
            assertEquals(0, result.exitCode(), result.output());
        }
    }

    /**
     * A TLS 1.2 client that starts a new handshake on an established connection (gnutls-cli
     * --rehandshake) is refused: each renegotiation costs the server a signature, and a client
     * certificate presented in one would not be checked again. Before, JSSE's default accepted it.
     */
    @Test
    void pcacheServerRefusesATls12Renegotiation() throws Exception {
        try (OneShotServer server = new OneShotServer(provider.server(TlsSettings.certificates(certificates, true,
                null)))) {
            Gnutls.Result result = Gnutls.client(certificates, server.port, "hello pcache", "--rehandshake",
                    "--priority", TLS12, "--x509cafile", "ca-cert.pem", "--x509certfile", "client-cert.pem",
                    "--x509keyfile", "client-key.pem");
            Served served = server.served();
            assertTrue(served.failure() != null && String.valueOf(served.failure().getMessage())
                    .contains("renegotiation refused"), String.valueOf(served.failure()));
            assertTrue(result.output().contains("ReHandshake has failed"), result.output());
            assertTrue(!result.output().contains("pcache says"), result.output());
        }
    }

    @Test
    void pcacheServerRefusesGnutlsCliWithoutCertificate() throws Exception {
        try (OneShotServer server = new OneShotServer(provider.server(TlsSettings.certificates(certificates, true,
                null)))) {
            Gnutls.Result result = Gnutls.client(certificates, server.port, "hello", "--x509cafile", "ca-cert.pem");
            Served served = server.served();
            TlsHandshakeException failure = assertInstanceOf(TlsHandshakeException.class, served.failure());
            assertTrue(failure.getMessage().matches("client /127\\.0\\.0\\.1:\\d+ presented no certificate;"
                    + " nbd.tls_verify_peer requires one signed by .*/ca-cert.pem"), failure.getMessage());
            assertTrue(!result.output().contains("pcache says"), result.output());
            assertNotEquals(0, result.exitCode(), result.output());
        }
    }
}
