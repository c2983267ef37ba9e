package pcache.tls.internal;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import pcache.api.tls.TlsChannel;
import pcache.api.tls.TlsEndpoint;

/**
 * A connected pair of loopback sockets whose two ends run their handshakes at once, each side's
 * result kept (its channel or what it threw). Bounded: a handshake that has not ended after
 * {@link #TIMEOUT_SECONDS} closes both sockets.
 */
public final class LoopbackPair implements AutoCloseable {

    static final int TIMEOUT_SECONDS = 20;

    public final SocketChannel serverSocket;
    public final SocketChannel clientSocket;
    public TlsChannel server;
    public TlsChannel client;
    public Throwable serverFailure;
    public Throwable clientFailure;

    private LoopbackPair(SocketChannel serverSocket, SocketChannel clientSocket) {
        this.serverSocket = serverSocket;
        this.clientSocket = clientSocket;
    }

    /** Two connected sockets, no TLS yet. */
    public static LoopbackPair sockets() throws IOException {
        try (ServerSocketChannel listener = ServerSocketChannel.open()) {
            listener.bind(new InetSocketAddress("127.0.0.1", 0));
            SocketChannel client = SocketChannel.open(listener.getLocalAddress());
            SocketChannel server = listener.accept();
            client.socket().setTcpNoDelay(true);
            server.socket().setTcpNoDelay(true);
            return new LoopbackPair(server, client);
        }
    }

    /** Both handshakes, concurrently; failures are kept in the fields, not thrown. */
    public static LoopbackPair handshake(TlsEndpoint serverEndpoint, TlsEndpoint clientEndpoint) throws Exception {
        return handshake(serverEndpoint, clientEndpoint, socket -> socket);
    }

    /** As {@link #handshake(TlsEndpoint, TlsEndpoint)}, the server's TLS running over {@code serverTransport}'s wrapper of its socket. */
    public static LoopbackPair handshake(TlsEndpoint serverEndpoint, TlsEndpoint clientEndpoint,
            java.util.function.Function<SocketChannel, java.nio.channels.ByteChannel> serverTransport) throws Exception {
        LoopbackPair pair = sockets();
        ExecutorService executor = Executors.newFixedThreadPool(2);
        try {
            java.nio.channels.ByteChannel transport = serverTransport.apply(pair.serverSocket);
            Future<TlsChannel> server = executor.submit(
                    () -> serverEndpoint.handshake(transport, pair.clientSocket.getLocalAddress().toString()));
            Future<TlsChannel> client = executor.submit(
                    () -> clientEndpoint.handshake(pair.clientSocket, pair.serverSocket.getLocalAddress().toString()));
            executor.shutdown();
            if (!executor.awaitTermination(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                pair.serverSocket.close();
                pair.clientSocket.close();
            }
            try {
                pair.server = server.get();
            } catch (java.util.concurrent.ExecutionException e) {
                pair.serverFailure = e.getCause();
            }
            try {
                pair.client = client.get();
            } catch (java.util.concurrent.ExecutionException e) {
                pair.clientFailure = e.getCause();
            }
            return pair;
        } finally {
            executor.shutdownNow();
        }
    }

    @Override
    public void close() throws IOException {
        if (server != null) {
            server.close();
        }
        if (client != null) {
            client.close();
        }
        serverSocket.close();
        clientSocket.close();
    }
}
