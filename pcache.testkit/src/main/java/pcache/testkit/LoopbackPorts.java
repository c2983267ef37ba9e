package pcache.testkit;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.concurrent.ThreadLocalRandom;

/**
 * TCP ports for a server that a test starts in another process and that binds later. A port the
 * kernel hands out for {@code bind(0)} comes from the ephemeral range, from which it also picks the
 * local ports of outgoing connections: between the test's check and the server's bind, any
 * connection on the machine could take it. These ports come from below that range
 * (Linux's default {@code ip_local_port_range} starts at 32768), where only another server
 * choosing the same one could collide.
 */
public final class LoopbackPorts {

    private static final int FIRST = 20_000;
    private static final int LAST = 32_000;

    private LoopbackPorts() {
    }

    /** A port on 127.0.0.1 that nothing listens on now, outside the ephemeral range. */
    public static int free() throws IOException {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        IOException last = null;
        for (int attempt = 0; attempt < 200; attempt++) {
            int port = FIRST + random.nextInt(LAST - FIRST);
            try (ServerSocket s = new ServerSocket()) {
                s.bind(new InetSocketAddress("127.0.0.1", port));
                return port;
            } catch (IOException inUse) {
                last = inUse;
            }
        }
        throw new IOException("no free loopback port between " + FIRST + " and " + LAST + " in 200 tries", last);
    }
}
