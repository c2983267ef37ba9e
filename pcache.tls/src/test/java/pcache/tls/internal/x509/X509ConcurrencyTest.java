package pcache.tls.internal.x509;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Path;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import pcache.tls.internal.ConcurrentTraffic;
import pcache.tls.internal.LoopbackPair;

/**
 * Large transfers both ways at once on one X.509 channel. With the module's test security
 * properties TLS 1.3 updates its keys every MiB, so readers answer KeyUpdate messages while
 * writers write.
 */
class X509ConcurrencyTest {

    @TempDir
    Path temp;

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void bothDirectionsAtOnce(String protocol) throws Exception {
        MutualEndpoints endpoints = MutualEndpoints.create(temp, protocol);
        try (LoopbackPair pair = LoopbackPair.handshake(endpoints.server(), endpoints.client())) {
            assertNull(pair.serverFailure);
            assertNull(pair.clientFailure);
            assertEquals(protocol, pair.client.protocol());
            ConcurrentTraffic.run(pair.client, pair.server, 32L << 20, ConcurrentTraffic.seed());
        }
    }

    /**
     * A peer that asks for KeyUpdate answers faster than it reads them (the server's writer blocked
     * on it) is refused once {@link SslEngineChannel#MAX_ANSWERS_WAITING} answers wait (16 here):
     * JSSE keeps each answer, with the keys it replaces, until it is sent. Before, the server kept
     * reading and queueing them without end. Here the client writes 40 MiB (a key update per MiB,
     * each asking for an answer) and reads nothing of the 16 MiB the server writes.
     */
    @org.junit.jupiter.api.Test
    @org.junit.jupiter.api.Timeout(120)
    void aPeerAskingForKeyUpdatesItDoesNotReadIsRefused() throws Exception {
        MutualEndpoints endpoints = MutualEndpoints.create(temp, "TLSv1.3");
        java.util.concurrent.ExecutorService threads = java.util.concurrent.Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "traffic");
            t.setDaemon(true);
            return t;
        });
        try (LoopbackPair pair = LoopbackPair.handshake(endpoints.server(), endpoints.client())) {
            assertNull(pair.serverFailure);
            assertNull(pair.clientFailure);
            ((SslEngineChannel) pair.server).maxAnswersWaiting(16);
            threads.submit(() -> pair.server.write(java.nio.ByteBuffer.allocate(16 << 20))); // blocks: never read
            threads.submit(() -> pair.client.write(java.nio.ByteBuffer.allocate(40 << 20)));
            java.nio.ByteBuffer into = java.nio.ByteBuffer.allocate(1 << 20);
            long read = 0;
            java.io.IOException refused = null;
            try {
                while (read < (40L << 20)) {
                    into.clear();
                    int n = pair.server.read(into);
                    if (n < 0) {
                        break;
                    }
                    read += n;
                }
            } catch (java.io.IOException e) {
                refused = e;
            }
            org.junit.jupiter.api.Assertions.assertNotNull(refused, "read " + read + " bytes, answers queued");
            org.junit.jupiter.api.Assertions.assertTrue(String.valueOf(refused.getMessage()).contains("KeyUpdate"),
                    String.valueOf(refused));
        } finally {
            threads.shutdownNow();
        }
    }
}
