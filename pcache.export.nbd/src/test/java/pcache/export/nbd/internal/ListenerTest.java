package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

class ListenerTest {

    /**
     * A connection that cannot be set up (out of direct memory for its buffers, say) is closed,
     * and the listener goes on accepting. Before, the Error ended the accept thread: the port
     * stayed bound, and every later client connected and then waited for a greeting for ever.
     */
    @Test
    void anErrorSettingUpOneConnectionDoesNotStopTheListener() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        BlockingQueue<SocketChannel> accepted = new LinkedBlockingQueue<>();
        Listener listener = Listener.open(ListenAddress.parse("127.0.0.1:0"), client -> {
            if (calls.incrementAndGet() == 1) {
                throw new OutOfMemoryError("injected: Direct buffer memory");
            }
            accepted.add(client);
        });
        Thread acceptor = new Thread(listener, "test-accept");
        acceptor.setDaemon(true);
        acceptor.start();
        InetSocketAddress at = (InetSocketAddress) listener.boundAddress;
        try (java.net.Socket first = new java.net.Socket(at.getAddress(), at.getPort())) {
            first.setSoTimeout(10_000);
            assertEquals(-1, first.getInputStream().read(), "the refused connection is closed");
            try (SocketChannel second = SocketChannel.open(at)) {
                SocketChannel served = accepted.poll(10, TimeUnit.SECONDS);
                assertNotNull(served, "the listener accepted the next connection");
                served.close();
            }
        } finally {
            listener.close();
            acceptor.join(10_000);
        }
    }
}
