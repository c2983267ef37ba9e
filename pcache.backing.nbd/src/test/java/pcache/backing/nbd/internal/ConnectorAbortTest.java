package pcache.backing.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A connection the client gives up on is reset, so what it had queued never reaches the server
 * late (a re-sent write must not be overtaken by its first copy): bytes the server has not read
 * yet are gone, where a plain close would still deliver them.
 */
class ConnectorAbortTest {

    /** Sends {@code bytes} the server does not read yet, ends the connection with {@code end}, and reads on the server. */
    private static int deliveredAfter(java.util.function.Consumer<SocketChannel> end, int bytes) throws IOException {
        try (ServerSocketChannel server = ServerSocketChannel.open()) {
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            SocketChannel client = SocketChannel.open(server.getLocalAddress());
            try (SocketChannel accepted = server.accept()) {
                ByteBuffer request = ByteBuffer.allocate(bytes);
                while (request.hasRemaining()) {
                    client.write(request);
                }
                end.accept(client);
                ByteBuffer got = ByteBuffer.allocate(bytes + 1);
                int total = 0;
                for (int n; (n = accepted.read(got)) >= 0 && got.hasRemaining(); ) {
                    total += n;
                }
                return total;
            }
        }
    }

    @Test
    @Timeout(30)
    void aPlainCloseStillDeliversWhatWasQueued() throws IOException {
        assertEquals(4096, deliveredAfter(Connector::closeQuietly, 4096));
    }

    @Test
    @Timeout(30)
    void anAbortDropsWhatTheServerHasNotReadYet() {
        IOException e = assertThrows(IOException.class, () -> deliveredAfter(Connector::abort, 4096));
        assertEquals("Connection reset", e.getMessage());
    }
}
