package pcache.export.nbd.internal;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

import pcache.api.tls.TlsChannel;
import pcache.api.tls.TlsEndpoint;
import pcache.api.tls.TlsHandshakeException;

/**
 * A stand-in for a TLS endpoint in option-haggling tests: its "handshake" is one 16-byte hello
 * each way, its channel passes bytes through unchanged and counts them, so a raw test client can
 * go on talking NBD after STARTTLS and a test can see that the server used the channel. Real TLS
 * is tested against real clients (TlsInteropTest).
 */
final class FakeTls implements TlsEndpoint {
    /** What the client sends (and the server echoes) for a handshake that succeeds. */
    static final byte[] HELLO = "fake-tls-hello!!".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    /** What the client sends for a handshake the server refuses. */
    static final byte[] REFUSE = "fake-tls-refuse!".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    /** The reason a refused handshake gives. */
    static final String REFUSAL = "presented no certificate (fake TLS)";

    final AtomicLong handshakes = new AtomicLong();
    final AtomicLong bytesRead = new AtomicLong();
    final AtomicLong bytesWritten = new AtomicLong();
    /** What the channel says when asked to receive a message ahead (it passes bytes through, so it cannot). */
    volatile boolean receivesAhead;
    final AtomicLong aheadAsked = new AtomicLong();
    /**
     * With {@link #receivesAhead}: the channel does as a real one does, reading the message whole
     * from the socket before saying yes (and waiting for the client meanwhile), not saying yes at once.
     */
    volatile boolean receivesAheadByReading;
    /** Channels closed (a real channel gives back its buffers and receive-ahead share then). */
    final AtomicLong closes = new AtomicLong();

    @Override
    public TlsChannel handshake(ByteChannel transport, String peer) throws IOException {
        ByteBuffer hello = ByteBuffer.allocate(HELLO.length);
        while (hello.hasRemaining()) {
            if (transport.read(hello) < 0) {
                throw new EOFException("client " + peer + " closed during the fake TLS handshake");
            }
        }
        if (Arrays.equals(hello.array(), REFUSE)) {
            throw new TlsHandshakeException("client " + peer + " " + REFUSAL);
        }
        if (!Arrays.equals(hello.array(), HELLO)) {
            throw new TlsHandshakeException("client " + peer + " sent no fake TLS hello");
        }
        ByteBuffer reply = ByteBuffer.wrap(HELLO);
        while (reply.hasRemaining()) {
            transport.write(reply);
        }
        handshakes.incrementAndGet();
        return new Channel(transport);
    }

    @Override
    public String describe() {
        return "fake TLS for tests";
    }

    /** Passes bytes through, counting them. */
    private final class Channel implements TlsChannel {
        private final ByteChannel transport;
        /** What {@link #receiveAhead} read and reads have not taken yet (read mode). */
        private ByteBuffer held = ByteBuffer.allocate(0);

        Channel(ByteChannel transport) {
            this.transport = transport;
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            if (held.hasRemaining()) {
                int n = Math.min(held.remaining(), dst.remaining());
                dst.put(held.slice(held.position(), n));
                held.position(held.position() + n);
                return n;
            }
            int n = transport.read(dst);
            if (n > 0) {
                bytesRead.addAndGet(n);
            }
            return n;
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            int n = transport.write(src);
            bytesWritten.addAndGet(n);
            return n;
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
            long total = 0;
            for (int i = offset; i < offset + length; i++) {
                while (srcs[i].hasRemaining()) {
                    total += write(srcs[i]);
                }
            }
            return total;
        }

        @Override
        public long write(ByteBuffer[] srcs) throws IOException {
            return write(srcs, 0, srcs.length);
        }

        @Override
        public boolean isOpen() {
            return transport.isOpen();
        }

        @Override
        public void close() throws IOException {
            closes.incrementAndGet();
            transport.close();
        }

        @Override
        public boolean receiveAhead(long bytes) throws IOException {
            aheadAsked.incrementAndGet();
            if (!receivesAhead || !receivesAheadByReading || held.remaining() >= bytes) {
                return receivesAhead;
            }
            ByteBuffer grown = ByteBuffer.allocate((int) bytes);
            grown.put(held);
            try {
                while (grown.hasRemaining()) {
                    int n = transport.read(grown);
                    if (n < 0) {
                        return false;
                    }
                    bytesRead.addAndGet(n);
                }
                return true;
            } finally {
                held = grown.flip();
            }
        }

        @Override
        public String protocol() {
            return "FAKE";
        }

        @Override
        public String cipherSuite() {
            return "NONE";
        }

        @Override
        public String peerIdentity() {
            return "tester";
        }
    }
}
