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
 * choosing the same one could collide. Still, a check is not a reservation: a machine with another
 * range, or another server, can take the port before the test's server binds it (CI saw it once).
 * {@link #startOnFreePort} therefore starts the server again on another port when it reports the
 * port taken.
 */
public final class LoopbackPorts {

    private static final int FIRST = 20_000;
    private static final int LAST = 32_000;
    /** How many ports {@link #startOnFreePort} tries before it gives up. */
    public static final int ATTEMPTS = 5;

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

    /** Starts a server on a given port; throws {@link PortTakenException} when it could not bind it. */
    @FunctionalInterface
    public interface Starter<T> {
        T start(int port) throws IOException, InterruptedException;
    }

    /**
     * Starts a server with {@code starter} on a port from {@link #free()}; when the starter reports
     * the port taken (after cleaning up what it started), tries another, up to {@value #ATTEMPTS}
     * ports in all. Any other failure is thrown at once.
     */
    public static <T> T startOnFreePort(Starter<T> starter) throws IOException, InterruptedException {
        PortTakenException last = null;
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            int port = free();
            try {
                return starter.start(port);
            } catch (PortTakenException taken) {
                System.err.println("LoopbackPorts: port " + port + " was taken before the server bound it ("
                        + taken.getMessage() + "); trying another");
                if (last != null) {
                    taken.addSuppressed(last);
                }
                last = taken;
            }
        }
        throw new IOException("the server found each of " + ATTEMPTS + " free ports taken when it bound them", last);
    }

    /** A server could not bind its port: something else listens there, or holds it. */
    public static final class PortTakenException extends IOException {
        private static final long serialVersionUID = 1L;

        public PortTakenException(String message) {
            super(message);
        }
    }
}
