package pcache.tls.internal.psk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

import org.bouncycastle.tls.ProtocolVersion;
import org.bouncycastle.tls.TlsProtocol;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import pcache.api.tls.TlsSettings;
import pcache.tls.internal.AheadBudget;
import pcache.tls.internal.DefaultTlsProvider;
import pcache.tls.internal.LoopbackPair;
import pcache.tls.internal.ReceiveAheadChecks;
import pcache.tls.internal.TestPki;

/** Bouncy Castle's channel knows exactly what has arrived: the protocol decrypts as records are offered. */
@Timeout(60)
class PskReceiveAheadTest {

    @TempDir
    Path temp;

    private PskEndpoint server(DefaultTlsProvider provider, Path keys, String protocol) throws Exception {
        return ((PskEndpoint) provider.server(TlsSettings.psk(keys, null)))
                .restrictedTo(protocol.equals("TLSv1.3") ? ProtocolVersion.TLSv13 : ProtocolVersion.TLSv12);
    }

    private Path keys() throws Exception {
        Path keys = temp.resolve("keys.psk");
        Files.writeString(keys, "alice:" + PskHandshakeTest.randomKey() + "\n");
        TestPki.ownerOnly(keys);
        return keys;
    }

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void receivesAhead(String protocol) throws Exception {
        Path keys = keys();
        DefaultTlsProvider provider = new DefaultTlsProvider();
        ReceiveAheadChecks.check(server(provider, keys, protocol), provider.client(TlsSettings.psk(keys, null)), true,
                BcTlsChannel.MAX_AHEAD_BYTES);
    }

    /**
     * The protocol's plaintext queue grows to hold a message received ahead and keeps that size for
     * the connection's life; what it keeps is counted in the budget of all channels until the
     * channel closes. Before, the budget was given back as the call returned, while a 16 MiB array
     * stayed with each connection that had received 8 MiB ahead, outside every bound.
     */
    @Test
    void whatTheProtocolKeepsAfterReceivingAheadIsCountedUntilTheChannelCloses() throws Exception {
        Path keys = keys();
        DefaultTlsProvider provider = new DefaultTlsProvider();
        long before = AheadBudget.held();
        java.util.concurrent.ExecutorService sender = java.util.concurrent.Executors.newSingleThreadExecutor();
        try (LoopbackPair pair = LoopbackPair.handshake(server(provider, keys, "TLSv1.3"),
                provider.client(TlsSettings.psk(keys, null)))) {
            assertNull(pair.serverFailure);
            assertNull(pair.clientFailure);
            byte[] message = new byte[BcTlsChannel.MAX_AHEAD_BYTES - 7];
            new java.util.Random(7).nextBytes(message);
            java.util.concurrent.Future<?> sent = sender.submit(() -> pair.client.write(ByteBuffer.wrap(message)));
            assertTrue(pair.server.receiveAhead(message.length));
            ByteBuffer into = ByteBuffer.allocate(message.length);
            while (into.hasRemaining()) {
                assertTrue(pair.server.read(into) >= 0);
            }
            sent.get();
            int queue = queueCapacity(pair.server);
            assertTrue(queue >= message.length, "the protocol's queue grew to hold the message: " + queue);
            assertTrue(AheadBudget.held() - before >= queue, "counted while the channel is open: "
                    + (AheadBudget.held() - before) + " of " + queue);
        } finally {
            sender.shutdownNow();
        }
        assertEquals(before, AheadBudget.held(), "given back when the channel closed");
    }

    /** The length of the array behind Bouncy Castle's queue of decrypted application data. */
    private static int queueCapacity(pcache.api.tls.TlsChannel channel) throws Exception {
        java.lang.reflect.Field protocolField = BcTlsChannel.class.getDeclaredField("protocol");
        protocolField.setAccessible(true);
        TlsProtocol protocol = (TlsProtocol) protocolField.get(channel);
        java.lang.reflect.Field queueField = TlsProtocol.class.getDeclaredField("applicationDataQueue");
        queueField.setAccessible(true);
        Object queue = queueField.get(protocol);
        java.lang.reflect.Field buf = queue.getClass().getDeclaredField("databuf");
        buf.setAccessible(true);
        return ((byte[]) buf.get(queue)).length;
    }
}
