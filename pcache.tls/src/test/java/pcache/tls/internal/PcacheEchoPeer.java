package pcache.tls.internal;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import pcache.api.tls.TlsChannel;
import pcache.api.tls.TlsEndpoint;

/** Test peers on a pcache endpoint that talk lines to GnuTLS's tools. */
public final class PcacheEchoPeer {

    private PcacheEchoPeer() {
    }

    /** What a pcache server saw of one connection: the client's line, or what its handshake threw. */
    public record Served(TlsChannel channel, String line, Throwable failure) {
    }

    /**
     * Accepts one connection on 127.0.0.1, runs the handshake, reads a line, answers
     * {@code "pcache says " + line} and closes.
     */
    public static final class OneShotServer implements AutoCloseable {
        public final int port;
        private final ServerSocketChannel listener;
        private final CompletableFuture<Served> served = new CompletableFuture<>();

        public OneShotServer(TlsEndpoint endpoint) throws IOException {
            listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
            port = ((InetSocketAddress) listener.getLocalAddress()).getPort();
            Thread thread = new Thread(() -> {
                try (SocketChannel socket = listener.accept()) {
                    TlsChannel channel;
                    try {
                        channel = endpoint.handshake(socket, socket.getRemoteAddress().toString());
                    } catch (IOException e) {
                        served.complete(new Served(null, null, e));
                        return;
                    }
                    try (channel) {
                        String line = readLine(channel);
                        write(channel, "pcache says " + line + "\n");
                        served.complete(new Served(channel, line, null));
                    }
                } catch (Throwable e) {
                    served.complete(new Served(null, null, e));
                }
            }, "one-shot TLS server");
            thread.setDaemon(true);
            thread.start();
        }

        public Served served() throws Exception {
            return served.get(20, TimeUnit.SECONDS);
        }

        @Override
        public void close() throws IOException {
            listener.close();
        }
    }

    public static String readLine(TlsChannel channel) throws IOException {
        StringBuilder line = new StringBuilder();
        ByteBuffer one = ByteBuffer.allocate(1);
        while (true) {
            one.clear();
            if (channel.read(one) < 0) {
                return line.toString();
            }
            char c = (char) one.get(0);
            if (c == '\n') {
                return line.toString();
            }
            line.append(c);
        }
    }

    public static void write(TlsChannel channel, String text) throws IOException {
        ByteBuffer buffer = ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII));
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }

    /** Connects to 127.0.0.1:{@code port} and runs the client handshake. */
    public static TlsChannel connect(TlsEndpoint endpoint, int port) throws IOException {
        SocketChannel socket = SocketChannel.open(new InetSocketAddress("127.0.0.1", port));
        return endpoint.handshake(socket, "127.0.0.1:" + port);
    }
}
