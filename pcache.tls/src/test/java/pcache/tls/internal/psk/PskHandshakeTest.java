package pcache.tls.internal.psk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;

import org.bouncycastle.tls.ProtocolVersion;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import pcache.api.tls.TlsChannel;
import pcache.api.tls.TlsConfigurationException;
import pcache.api.tls.TlsHandshakeException;
import pcache.api.tls.TlsSettings;
import pcache.tls.internal.ConcurrentTraffic;
import pcache.tls.internal.DefaultTlsProvider;
import pcache.tls.internal.LoopbackPair;

/** pcache client against pcache server with pre-shared keys, TLS 1.3 and 1.2. */
class PskHandshakeTest {

    @TempDir
    Path temp;

    private final DefaultTlsProvider provider = new DefaultTlsProvider();

    static String randomKey() {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        return HexFormat.of().formatHex(key);
    }

    private Path file(String name, String content) throws Exception {
        Path file = temp.resolve(name);
        Files.writeString(file, content);
        pcache.tls.internal.TestPki.ownerOnly(file);
        return file;
    }

    private static ProtocolVersion version(String protocol) {
        return protocol.equals("TLSv1.3") ? ProtocolVersion.TLSv13 : ProtocolVersion.TLSv12;
    }

    private PskEndpoint server(Path keys, String protocol) throws Exception {
        return ((PskEndpoint) provider.server(TlsSettings.psk(keys, null))).restrictedTo(version(protocol));
    }

    /**
     * A PSK channel holds small buffers until its handshake has completed, and those sized for bulk
     * data only after it: a client that stops after STARTTLS, unauthenticated, holds 32 KiB of them,
     * not 0.8 MiB. Before, 1,024 such connections held about 0.8 GiB until their handshake timeout.
     */
    @Test
    void aChannelHoldsBulkBuffersOnlyOnceItsHandshakeHasCompleted() throws Exception {
        java.nio.channels.ByteChannel silent = new java.nio.channels.ByteChannel() {
            @Override
            public int read(ByteBuffer dst) {
                return -1;
            }

            @Override
            public int write(ByteBuffer src) {
                return 0;
            }

            @Override
            public boolean isOpen() {
                return true;
            }

            @Override
            public void close() {
            }
        };
        BcTlsChannel unauthenticated = new BcTlsChannel(silent, new org.bouncycastle.tls.TlsServerProtocol(),
                () -> null, e -> e);
        assertTrue(unauthenticated.bufferBytes() <= 2 * BcTlsChannel.HANDSHAKE_CHUNK, unauthenticated.bufferBytes()
                + " bytes before the handshake");
        String key = randomKey();
        Path keys = file("bulk.psk", "alice:" + key + "\n");
        try (LoopbackPair pair = LoopbackPair.handshake(server(keys, "TLSv1.3"),
                provider.client(TlsSettings.psk(keys, null)))) {
            assertNull(pair.serverFailure);
            for (TlsChannel connected : new TlsChannel[] {pair.server, pair.client}) {
                assertTrue(((BcTlsChannel) connected).bufferBytes() >= BcTlsChannel.NET_CHUNK + BcTlsChannel.PLAIN_CHUNK,
                        "bulk buffers once connected");
            }
            exchange(pair.client, pair.server);
            exchange(pair.server, pair.client);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void knownIdentity(String protocol) throws Exception {
        String aliceKey = randomKey();
        Path serverKeys = file("server.psk", "bob:" + randomKey() + "\nalice:" + aliceKey + "\n");
        Path clientKeys = file("client.psk", "alice:" + aliceKey + "\n");
        try (LoopbackPair pair = LoopbackPair.handshake(server(serverKeys, protocol),
                provider.client(TlsSettings.psk(clientKeys, null)))) {
            assertNull(pair.serverFailure);
            assertNull(pair.clientFailure);
            assertEquals(protocol, pair.server.protocol());
            assertEquals(protocol, pair.client.protocol());
            assertEquals("alice", pair.server.peerIdentity());
            assertEquals("alice", pair.client.peerIdentity());
            assertTrue(pair.client.cipherSuite().contains(protocol.equals("TLSv1.3") ? "TLS_AES_" : "ECDHE_PSK"),
                    pair.client.cipherSuite());
            exchange(pair.client, pair.server);
            exchange(pair.server, pair.client);
            pair.client.close();
            assertEquals(-1, pair.server.read(ByteBuffer.allocate(10)), "close_notify ends the server's stream");
        }
    }

    /**
     * One server endpoint serves every connection with the keys it read from its file, so a
     * handshake must leave them as they were. Bouncy Castle's TLS 1.2 PSK key exchange fills the
     * key it is given with zeros once it has derived its secrets; before, it was given the file's
     * own array: after one TLS 1.2 handshake naming a known identity (the key was not needed),
     * the right key was refused and a key of zeros was let in.
     */
    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void aHandshakeLeavesTheServersKeysAsTheyWere(String protocol) throws Exception {
        String key = randomKey();
        Path serverKeys = file("server.psk", "alice:" + key + "\n");
        Path zeroKeys = file("zero.psk", "alice:" + "00".repeat(32) + "\n");
        PskEndpoint server = server(serverKeys, protocol);
        try (LoopbackPair first = LoopbackPair.handshake(server, provider.client(TlsSettings.psk(serverKeys, null)))) {
            assertNull(first.serverFailure);
            assertNull(first.clientFailure);
        }
        try (LoopbackPair wrong = LoopbackPair.handshake(server, provider.client(TlsSettings.psk(zeroKeys, null)))) {
            assertInstanceOf(TlsHandshakeException.class, wrong.serverFailure,
                    "a client with a key of zeros was let in after one handshake");
        }
        try (LoopbackPair again = LoopbackPair.handshake(server, provider.client(TlsSettings.psk(serverKeys, null)))) {
            assertNull(again.serverFailure, "the right key was refused after one handshake");
            assertNull(again.clientFailure);
            exchange(again.client, again.server);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void unknownIdentityIsRefused(String protocol) throws Exception {
        Path serverKeys = file("server.psk", "alice:" + randomKey() + "\n");
        Path clientKeys = file("client.psk", "alice:" + randomKey() + "\nmallory:" + randomKey() + "\n");
        try (LoopbackPair pair = LoopbackPair.handshake(server(serverKeys, protocol),
                provider.client(TlsSettings.psk(clientKeys, "mallory")))) {
            TlsHandshakeException server = assertInstanceOf(TlsHandshakeException.class, pair.serverFailure);
            assertTrue(server.getMessage().matches("refusing client /127\\.0\\.0\\.1:\\d+: PSK identity 'mallory'"
                    + " is not in " + serverKeys), server.getMessage());
            TlsHandshakeException client = assertInstanceOf(TlsHandshakeException.class, pair.clientFailure);
            assertTrue(client.getMessage().contains("'mallory'"), client.getMessage());
        }
    }

    /**
     * An unknown identity is the client's, unauthenticated: the server's refusal shows its control
     * and format characters escaped, so it cannot forge or reorder a log line. Before, it was
     * shown as sent.
     */
    @Test
    void anUnknownIdentityIsShownEscaped() throws Exception {
        String sneaky = "mal\u001b[2Jl\u202eory";
        Path serverKeys = file("server.psk", "alice:" + randomKey() + "\n");
        Path clientKeys = file("client.psk", sneaky + ":" + randomKey() + "\n");
        try (LoopbackPair pair = LoopbackPair.handshake(server(serverKeys, "TLSv1.3"),
                provider.client(TlsSettings.psk(clientKeys, sneaky)))) {
            TlsHandshakeException server = assertInstanceOf(TlsHandshakeException.class, pair.serverFailure);
            assertTrue(server.getMessage().contains("PSK identity 'mal\\u001b[2Jl\\u202eory' is not in"),
                    server.getMessage());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void wrongKeyIsRefused(String protocol) throws Exception {
        Path serverKeys = file("server.psk", "alice:" + randomKey() + "\n");
        Path clientKeys = file("client.psk", "alice:" + randomKey() + "\n");
        try (LoopbackPair pair = LoopbackPair.handshake(server(serverKeys, protocol),
                provider.client(TlsSettings.psk(clientKeys, null)))) {
            TlsHandshakeException server = assertInstanceOf(TlsHandshakeException.class, pair.serverFailure);
            assertTrue(server.getMessage().contains("its key for PSK identity 'alice' differs from the one in "
                    + serverKeys), server.getMessage());
            TlsHandshakeException client = assertInstanceOf(TlsHandshakeException.class, pair.clientFailure);
            assertTrue(client.getMessage().contains("refused PSK identity 'alice', or has another key for it than "
                    + clientKeys), client.getMessage());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void bothDirectionsAtOnce(String protocol) throws Exception {
        String key = randomKey();
        Path keys = file("keys.psk", "alice:" + key + "\n");
        try (LoopbackPair pair = LoopbackPair.handshake(server(keys, protocol),
                provider.client(TlsSettings.psk(keys, "alice")))) {
            assertNull(pair.serverFailure);
            assertNull(pair.clientFailure);
            ConcurrentTraffic.run(pair.client, pair.server, 32L << 20, ConcurrentTraffic.seed());
        }
    }

    @Test
    void malformedFilesAreRefusedWithFileAndLine() throws Exception {
        Path noColon = file("a.psk", "alice:00ff\n\nbob\n");
        assertEquals(noColon + ":3: expected identity:hexkey", assertThrows(TlsConfigurationException.class,
                () -> provider.server(TlsSettings.psk(noColon, null))).getMessage());
        Path badHex = file("b.psk", "alice:00fg\n");
        assertEquals(badHex + ":1: the key of 'alice' holds a character that is not a hex digit at position 4"
                + " (write the key as hex digits only, without 0x or spaces)",
                assertThrows(TlsConfigurationException.class,
                        () -> provider.server(TlsSettings.psk(badHex, null))).getMessage());
        Path oddHex = file("o.psk", "alice:00f\n");
        assertEquals(oddHex + ":1: the key of 'alice' is not an even number of hex digits",
                assertThrows(TlsConfigurationException.class,
                        () -> provider.server(TlsSettings.psk(oddHex, null))).getMessage());
        Path twice = file("c.psk", "alice:00\nalice:01\n");
        assertEquals(twice + ":2: identity 'alice' appears twice", assertThrows(TlsConfigurationException.class,
                () -> provider.server(TlsSettings.psk(twice, null))).getMessage());
        Path empty = file("d.psk", "\n");
        assertEquals("PSK file " + empty + " holds no identity:hexkey line", assertThrows(
                TlsConfigurationException.class, () -> provider.server(TlsSettings.psk(empty, null))).getMessage());
        Path missing = temp.resolve("missing.psk");
        assertTrue(assertThrows(TlsConfigurationException.class,
                () -> provider.client(TlsSettings.psk(missing, null))).getMessage()
                .startsWith("PSK file " + missing + " does not exist"));
        Path good = file("e.psk", "alice:00ff\n");
        assertTrue(assertThrows(TlsConfigurationException.class,
                () -> provider.client(TlsSettings.psk(good, "bob"))).getMessage()
                .startsWith("PSK identity 'bob' is not in " + good));
    }

    /** A TLS 1.2 client that can ask, once connected, to renegotiate many times in one record. */
    private static final class RenegotiatingClient extends org.bouncycastle.tls.TlsClientProtocol {
        void askToRenegotiate(int times) throws java.io.IOException {
            byte[] emptyClientHellos = new byte[4 * times];
            for (int i = 0; i < times; i++) {
                emptyClientHellos[4 * i] = org.bouncycastle.tls.HandshakeType.client_hello;
            }
            safeWriteRecord(org.bouncycastle.tls.ContentType.handshake, emptyClientHellos, 0, emptyClientHellos.length);
        }
    }

    /**
     * A request to renegotiate ends the connection with a fatal alert. Before, Bouncy Castle
     * answered each with a warning alert and went on, so a client packing thousands of them into
     * each record while it did not read made the server queue alerts without bound.
     */
    @Test
    void aRequestToRenegotiateEndsTheConnection() throws Exception {
        String key = randomKey();
        Path keys = file("keys.psk", "alice:" + key + "\n");
        RenegotiatingClient[] protocol = new RenegotiatingClient[1];
        pcache.api.tls.TlsEndpoint client = new pcache.api.tls.TlsEndpoint() {
            @Override
            public TlsChannel handshake(java.nio.channels.ByteChannel transport, String peer) throws java.io.IOException {
                PskClientPeer peerOfClient = new PskClientPeer(
                        new org.bouncycastle.tls.crypto.impl.jcajce.JcaTlsCryptoProvider().create(new SecureRandom()),
                        "alice", HexFormat.of().parseHex(key));
                peerOfClient.versions = new ProtocolVersion[] {ProtocolVersion.TLSv12};
                protocol[0] = new RenegotiatingClient();
                BcTlsChannel channel = new BcTlsChannel(transport, protocol[0], peerOfClient::context, e -> e);
                protocol[0].connect(peerOfClient);
                channel.handshake();
                return channel;
            }

            @Override
            public String describe() {
                return "a client that asks to renegotiate";
            }
        };
        try (LoopbackPair pair = LoopbackPair.handshake(server(keys, "TLSv1.2"), client)) {
            assertNull(pair.serverFailure);
            assertNull(pair.clientFailure);
            exchange(pair.client, pair.server);
            protocol[0].askToRenegotiate(1_000);
            pair.client.write(ByteBuffer.wrap("after".getBytes(StandardCharsets.US_ASCII)));
            ByteBuffer received = ByteBuffer.allocate(5);
            java.io.IOException ended = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(
                    java.time.Duration.ofSeconds(20), () -> assertThrows(java.io.IOException.class, () -> {
                        while (received.hasRemaining()) {
                            if (pair.server.read(received) < 0) {
                                return;
                            }
                        }
                    }, "the server read on after a request to renegotiate"));
            assertTrue(ended.getMessage().matches("ending the TLS connection with client /127\\.0\\.0\\.1:\\d+: it asked"
                    + " to renegotiate the TLS session \\(TLS 1\\.2\\), which pcache does not support"), ended.getMessage());
        }
    }

    static void exchange(TlsChannel from, TlsChannel to) throws Exception {
        byte[] message = "NBD over TLS-PSK".getBytes(StandardCharsets.US_ASCII);
        from.write(ByteBuffer.wrap(message));
        ByteBuffer received = ByteBuffer.allocate(message.length);
        while (received.hasRemaining()) {
            assertTrue(to.read(received) > 0);
        }
        assertEquals("NBD over TLS-PSK", new String(received.array(), StandardCharsets.US_ASCII));
    }
}
