package pcache.tls.internal.x509;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import pcache.api.tls.TlsChannel;
import pcache.api.tls.TlsConfigurationException;
import pcache.api.tls.TlsHandshakeException;
import pcache.api.tls.TlsSettings;
import pcache.tls.internal.DefaultTlsProvider;
import pcache.tls.internal.LoopbackPair;
import pcache.tls.internal.TestPki;
import pcache.tls.internal.TestPki.Ca;
import pcache.tls.internal.TestPki.Entity;

/** pcache client against pcache server with certificates: what is accepted, what is refused and how it is said. */
class X509HandshakeTest {

    @TempDir
    static Path temp;

    static Ca ca;
    static Ca otherCa;
    static Path serverDir;
    static Path clientDir;
    static Path clientWithoutCertDir;
    static Path otherCaClientDir;
    static Path strangerClientDir;

    private final DefaultTlsProvider provider = new DefaultTlsProvider();

    @BeforeAll
    static void makeCertificates() throws Exception {
        ca = TestPki.ca("pcache test CA");
        otherCa = TestPki.ca("another CA");
        Entity server = TestPki.entity(ca, "pcache server", "localhost", "127.0.0.1", TestPki.keys("RSA", 2048));
        Entity client = TestPki.entity(ca, "pcache client", null, null, TestPki.ecKeys());
        Entity stranger = TestPki.entity(otherCa, "stranger", null, null, TestPki.ecKeys());
        serverDir = TestPki.serverDirectory(temp.resolve("server"), ca, server);
        clientDir = TestPki.clientDirectory(temp.resolve("client"), ca, client);
        clientWithoutCertDir = TestPki.clientDirectory(temp.resolve("client-nocert"), ca, null);
        otherCaClientDir = TestPki.clientDirectory(temp.resolve("client-otherca"), otherCa, null);
        strangerClientDir = TestPki.clientDirectory(temp.resolve("client-stranger"), ca, stranger);
    }

    private JsseEndpoint server(boolean verifyPeer, String protocol) throws TlsConfigurationException {
        return ((JsseEndpoint) provider.server(TlsSettings.certificates(serverDir, verifyPeer, null)))
                .restrictedTo(protocol);
    }

    private JsseEndpoint client(Path dir, boolean verifyPeer, String serverName) throws TlsConfigurationException {
        return (JsseEndpoint) provider.client(TlsSettings.certificates(dir, verifyPeer, serverName));
    }

    /**
     * A write that fails while the server still has records of its flight to send (the client reset
     * the connection after its ClientHello) ends the handshake with that failure. Before, the
     * server looked for the client's alert by unwrapping in a loop that read nothing while the
     * engine wanted to write: a thread spun for good, which the handshake's timeout (closing the
     * socket) could not stop, and the connection's slot was never freed.
     */
    @Test
    void aWriteThatFailsWithMoreOfTheServersFlightToSendEndsTheHandshake() throws Exception {
        try (LoopbackPair pair = LoopbackPair.sockets()) {
            java.nio.channels.ByteChannel failingWrites = new java.nio.channels.ByteChannel() {
                @Override
                public int read(ByteBuffer dst) throws java.io.IOException {
                    return pair.serverSocket.read(dst);
                }

                @Override
                public int write(ByteBuffer src) throws java.io.IOException {
                    throw new java.io.IOException("injected: Connection reset by peer");
                }

                @Override
                public boolean isOpen() {
                    return pair.serverSocket.isOpen();
                }

                @Override
                public void close() throws java.io.IOException {
                    pair.serverSocket.close();
                }
            };
            java.util.concurrent.ExecutorService threads = java.util.concurrent.Executors.newFixedThreadPool(2, r -> {
                Thread t = new Thread(r, "handshake");
                t.setDaemon(true); // on the code before, the server's thread never ends
                return t;
            });
            try {
                JsseEndpoint serverEndpoint = server(false, "TLSv1.3");
                JsseEndpoint clientEndpoint = client(clientWithoutCertDir, true, "localhost");
                java.util.concurrent.Future<TlsChannel> server = threads.submit(
                        () -> serverEndpoint.handshake(failingWrites, "client"));
                threads.submit(() -> clientEndpoint.handshake(pair.clientSocket, "server"));
                java.util.concurrent.ExecutionException failed = assertThrows(
                        java.util.concurrent.ExecutionException.class, () -> server.get(20, java.util.concurrent.TimeUnit.SECONDS),
                        "the server's handshake ends with the write's failure");
                assertTrue(String.valueOf(failed.getCause()).contains("injected: Connection reset by peer")
                        || hasSuppressed(failed.getCause(), "injected"), String.valueOf(failed.getCause()));
            } finally {
                pair.clientSocket.close();
                threads.shutdownNow();
            }
        }
    }

    private static boolean hasSuppressed(Throwable t, String text) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (String.valueOf(c.getMessage()).contains(text)) {
                return true;
            }
            for (Throwable s : c.getSuppressed()) {
                if (hasSuppressed(s, text)) {
                    return true;
                }
            }
        }
        return false;
    }

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void serverCertificateOnly(String protocol) throws Exception {
        try (LoopbackPair pair = LoopbackPair.handshake(server(false, protocol),
                client(clientWithoutCertDir, true, "localhost"))) {
            assertNull(pair.serverFailure);
            assertNull(pair.clientFailure);
            assertEquals(protocol, pair.client.protocol());
            assertEquals(protocol, pair.server.protocol());
            assertTrue(pair.server.cipherSuite().endsWith("AES_128_GCM_SHA256"), pair.server.cipherSuite());
            assertEquals(pair.server.cipherSuite(), pair.client.cipherSuite());
            assertEquals("CN=pcache server", pair.client.peerIdentity());
            assertNull(pair.server.peerIdentity());
            exchange(pair.client, pair.server);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void clientCertificateVerified(String protocol) throws Exception {
        try (LoopbackPair pair = LoopbackPair.handshake(server(true, protocol), client(clientDir, true, "127.0.0.1"))) {
            assertNull(pair.serverFailure);
            assertNull(pair.clientFailure);
            assertEquals("CN=pcache client", pair.server.peerIdentity());
            exchange(pair.client, pair.server);
            exchange(pair.server, pair.client);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void clientWithoutCertificateIsRefused(String protocol) throws Exception {
        try (LoopbackPair pair = LoopbackPair.handshake(server(true, protocol),
                client(clientWithoutCertDir, true, null))) {
            TlsHandshakeException failure = assertInstanceOf(TlsHandshakeException.class, pair.serverFailure);
            assertTrue(failure.getMessage().matches("client /127\\.0\\.0\\.1:\\d+ presented no certificate;"
                    + " nbd.tls_verify_peer requires one signed by .*ca-cert.pem"), failure.getMessage());
            assertClientSeesRefusal(pair, "it requires a client certificate");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void clientCertificateFromAnotherCaIsRefused(String protocol) throws Exception {
        try (LoopbackPair pair = LoopbackPair.handshake(server(true, protocol), client(strangerClientDir, true, null))) {
            TlsHandshakeException failure = assertInstanceOf(TlsHandshakeException.class, pair.serverFailure);
            assertTrue(failure.getMessage().startsWith("refusing client /127.0.0.1:"), failure.getMessage());
            assertTrue(failure.getMessage().contains("its certificate (CN=stranger) is not signed by " + serverDir
                    .resolve("ca-cert.pem")), failure.getMessage());
            assertClientSeesRefusal(pair, "does not trust our client certificate");
        }
    }

    /**
     * A client certificate out of its validity period is refused as such, naming when it expired.
     * Before, the refusal said it was not signed by the CA, which sent the operator to the wrong file.
     */
    @Test
    void anExpiredClientCertificateIsRefusedAsExpired() throws Exception {
        Entity expired = expiredEntity(ca, "expired client");
        String refusal = serverRefusal(expired, "client-expired");
        assertTrue(refusal.contains("its certificate (CN=expired client) expired at "
                + expired.certificate().getNotAfter().toInstant() + ": renew it"), refusal);
        // signed by another CA as well: renewing it would not help, so that comes first
        Entity stranger = expiredEntity(otherCa, "expired stranger");
        String strangerRefusal = serverRefusal(stranger, "client-expired-stranger");
        assertTrue(strangerRefusal.contains("its certificate (CN=expired stranger) is not signed by "
                + serverDir.resolve("ca-cert.pem")), strangerRefusal);
        assertTrue(strangerRefusal.endsWith("; besides, it expired at "
                + stranger.certificate().getNotAfter().toInstant() + ": renew it"), strangerRefusal);
    }

    /**
     * A refused client's certificate names itself: its subject reaches the refusal (a WARNING line)
     * with control and format characters escaped, as export names and PSK identities are. Before,
     * a subject holding a line break wrote a second, forged log line.
     */
    @Test
    void aRefusedCertificatesSubjectCannotForgeALogLine() throws Exception {
        Entity forger = TestPki.entity(otherCa, "x\n2026-12-07 SEVERE cache lost\u202e", null, null, TestPki.ecKeys());
        String refusal = serverRefusal(forger, "client-forger");
        assertTrue(refusal.contains("is not signed by"), refusal);
        assertTrue(refusal.contains("\\u000a2026-12-07 SEVERE cache lost\\u202e"), refusal);
        assertTrue(refusal.chars().noneMatch(c -> c == '\n' || c == '\u202e'), refusal);
    }

    /** A certificate signed by {@code signer} that expired yesterday. */
    private static Entity expiredEntity(Ca signer, String commonName) {
        java.time.Instant now = java.time.Instant.now();
        return TestPki.entity(signer, commonName, null, null, TestPki.ecKeys(),
                now.minus(java.time.Duration.ofDays(30)), now.minus(java.time.Duration.ofDays(1)));
    }

    /** What a server that verifies clients says when a client presents {@code client}'s certificate. */
    private String serverRefusal(Entity client, String dirName) throws Exception {
        Path dir = TestPki.clientDirectory(temp.resolve(dirName), ca, client);
        try (LoopbackPair pair = LoopbackPair.handshake(server(true, "TLSv1.3"), client(dir, true, null))) {
            return assertInstanceOf(TlsHandshakeException.class, pair.serverFailure).getMessage();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void serverFromAnotherCaIsRefused(String protocol) throws Exception {
        try (LoopbackPair pair = LoopbackPair.handshake(server(false, protocol), client(otherCaClientDir, true, null))) {
            TlsHandshakeException failure = assertInstanceOf(TlsHandshakeException.class, pair.clientFailure);
            assertTrue(failure.getMessage().contains("the server's certificate (CN=pcache server) is not signed by "
                    + otherCaClientDir.resolve("ca-cert.pem")), failure.getMessage());
            assertInstanceOf(TlsHandshakeException.class, pair.serverFailure);
        }
    }

    @Test
    void serverNameMustMatch() throws Exception {
        try (LoopbackPair pair = LoopbackPair.handshake(server(false, "TLSv1.3"),
                client(clientWithoutCertDir, true, "nbd.example.org"))) {
            TlsHandshakeException failure = assertInstanceOf(TlsHandshakeException.class, pair.clientFailure);
            assertTrue(failure.getMessage().endsWith(
                    "the server's certificate is for 'localhost', '127.0.0.1', not 'nbd.example.org'"),
                    failure.getMessage());
        }
        try (LoopbackPair pair = LoopbackPair.handshake(server(false, "TLSv1.2"),
                client(clientWithoutCertDir, true, "127.0.0.2"))) {
            TlsHandshakeException failure = assertInstanceOf(TlsHandshakeException.class, pair.clientFailure);
            assertTrue(failure.getMessage().endsWith("not '127.0.0.2'"), failure.getMessage());
        }
    }

    @Test
    void clientThatDoesNotVerifyAcceptsAnyServer() throws Exception {
        try (LoopbackPair pair = LoopbackPair.handshake(server(false, "TLSv1.3"),
                client(otherCaClientDir, false, "nbd.example.org"))) {
            assertNull(pair.clientFailure);
            assertNull(pair.client.peerIdentity(), "an unverified server proved nothing");
            exchange(pair.server, pair.client);
        }
    }

    @Test
    void closeSendsCloseNotify() throws Exception {
        try (LoopbackPair pair = LoopbackPair.handshake(server(false, "TLSv1.3"),
                client(clientWithoutCertDir, true, null))) {
            pair.client.close();
            assertEquals(-1, pair.server.read(ByteBuffer.allocate(100)));
        }
    }

    @Test
    void configurationErrorsNameTheFile() throws Exception {
        Path empty = Files.createDirectories(temp.resolve("empty"));
        TlsConfigurationException noCa = assertThrows(TlsConfigurationException.class,
                () -> provider.server(TlsSettings.certificates(onlyServerFiles(), true, null)));
        assertTrue(noCa.getMessage().startsWith("nbd.tls_verify_peer=true needs "), noCa.getMessage());
        TlsConfigurationException missing = assertThrows(TlsConfigurationException.class,
                () -> provider.server(TlsSettings.certificates(empty, false, null)));
        assertEquals(empty.resolve("server-cert.pem") + " does not exist", missing.getMessage());
        TlsConfigurationException clientNoCa = assertThrows(TlsConfigurationException.class,
                () -> provider.client(TlsSettings.certificates(empty, true, null)));
        assertTrue(clientNoCa.getMessage().contains(empty.resolve("ca-cert.pem").toString()), clientNoCa.getMessage());
        assertNotNull(provider.client(TlsSettings.certificates(empty, false, null)), "no CA needed without verification");

        Path mismatched = Files.createDirectories(temp.resolve("mismatched"));
        Entity server = TestPki.entity(ca, "server", "localhost", null, TestPki.ecKeys());
        TestPki.writePem(mismatched.resolve("server-cert.pem"), server.certificate());
        TestPki.writePkcs8(mismatched.resolve("server-key.pem"), TestPki.ecKeys());
        TlsConfigurationException wrongKey = assertThrows(TlsConfigurationException.class,
                () -> provider.server(TlsSettings.certificates(mismatched, false, null)));
        assertTrue(wrongKey.getMessage().startsWith("the private key in " + mismatched.resolve("server-key.pem")
                + " does not belong to the certificate in " + mismatched.resolve("server-cert.pem")), wrongKey.getMessage());

        Path garbage = Files.createDirectories(temp.resolve("garbage"));
        Files.writeString(garbage.resolve("server-cert.pem"), "not a certificate\n");
        TlsConfigurationException notPem = assertThrows(TlsConfigurationException.class,
                () -> provider.server(TlsSettings.certificates(garbage, false, null)));
        assertTrue(notPem.getMessage().startsWith(garbage.resolve("server-cert.pem") + " holds no PEM certificate"),
                notPem.getMessage());
    }

    private static Path onlyServerFiles() throws Exception {
        Path dir = Files.createDirectories(temp.resolve("server-no-ca"));
        Files.copy(serverDir.resolve("server-cert.pem"), dir.resolve("server-cert.pem"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.copy(serverDir.resolve("server-key.pem"), dir.resolve("server-key.pem"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        return dir;
    }

    /**
     * The refused client either fails its own handshake with the server's alert (TLS 1.2, and TLS 1.3
     * when the alert arrives in time) or completes it (TLS 1.3 clients finish first) and then
     * finds the connection refused at its first read.
     */
    static void assertClientSeesRefusal(LoopbackPair pair, String words) {
        Throwable failure = pair.clientFailure;
        if (failure == null) {
            failure = assertThrows(java.io.IOException.class, () -> pair.client.read(ByteBuffer.allocate(10)));
        }
        assertTrue(String.valueOf(failure.getMessage()).contains(words), failure::toString);
    }

    static void exchange(TlsChannel from, TlsChannel to) throws Exception {
        byte[] message = "NBD over TLS".getBytes(StandardCharsets.US_ASCII);
        from.write(ByteBuffer.wrap(message));
        ByteBuffer received = ByteBuffer.allocate(message.length);
        while (received.hasRemaining()) {
            assertTrue(to.read(received) > 0);
        }
        assertEquals("NBD over TLS", new String(received.array(), StandardCharsets.US_ASCII));
    }
}
