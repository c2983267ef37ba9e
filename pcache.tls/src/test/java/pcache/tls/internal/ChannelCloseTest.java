package pcache.tls.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import pcache.api.tls.TlsSettings;
import pcache.tls.internal.TestPki.Ca;

/**
 * Closing a channel while another thread is blocked reading it (what a server does to a connection
 * it drains or times out): the reader wakes, the peer sees the end of the stream, and the closed
 * channel refuses further use.
 */
class ChannelCloseTest {

    @TempDir
    Path temp;

    private LoopbackPair connect(String kind) throws Exception {
        DefaultTlsProvider provider = new DefaultTlsProvider();
        if (kind.equals("psk")) {
            Path keys = Files.writeString(temp.resolve("keys.psk"), "alice:00112233445566778899aabbccddeeff\n");
            TestPki.ownerOnly(keys);
            return LoopbackPair.handshake(provider.server(TlsSettings.psk(keys, null)),
                    provider.client(TlsSettings.psk(keys, null)));
        }
        Ca ca = TestPki.ca("ca");
        Path dir = TestPki.serverDirectory(temp.resolve("pki"), ca,
                TestPki.entity(ca, "server", "localhost", null, TestPki.ecKeys()));
        return LoopbackPair.handshake(provider.server(TlsSettings.certificates(dir, false, null)),
                provider.client(TlsSettings.certificates(dir, true, "localhost")));
    }

    @ParameterizedTest
    @ValueSource(strings = {"x509", "psk"})
    void closeWakesABlockedReader(String kind) throws Exception {
        try (LoopbackPair pair = connect(kind)) {
            assertNull(pair.serverFailure);
            assertNull(pair.clientFailure);
            CompletableFuture<Object> blocked = CompletableFuture.supplyAsync(() -> {
                try {
                    return pair.server.read(ByteBuffer.allocate(100));
                } catch (Exception e) {
                    return e;
                }
            });
            // the reader may or may not have entered read() yet: either way close must end it
            pair.server.close();
            Object outcome = blocked.get(10, TimeUnit.SECONDS);
            assertFalse(outcome instanceof Integer n && n > 0, "no data was sent, yet read returned " + outcome);
            assertFalse(pair.server.isOpen());
            assertThrows(ClosedChannelException.class, () -> pair.server.write(ByteBuffer.allocate(1)));
            assertEquals(-1, pair.client.read(ByteBuffer.allocate(100)), "the peer sees close_notify / the end");
        }
    }
}
