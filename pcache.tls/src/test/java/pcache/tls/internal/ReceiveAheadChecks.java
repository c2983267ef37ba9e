package pcache.tls.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.SocketChannel;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

import pcache.api.tls.TlsChannel;
import pcache.api.tls.TlsEndpoint;

/**
 * What {@link TlsChannel#receiveAhead} promises, checked on a server channel whose socket reads
 * are counted: a message said to have arrived is read without a further socket read; a message
 * whose last byte the client has sent (and then sends nothing until answered) is said to have
 * arrived, never waited for beyond; more than the channel holds, more than the budget of all
 * channels allows, or a stream that ends first, is refused, and what was held is given back when the
 * channel closes. Seeded: {@code -Dpcache.tls.seed}, else random, printed.
 */
public final class ReceiveAheadChecks {

    private ReceiveAheadChecks() {
    }

    /** A socket whose reads are counted. */
    static final class CountingTransport implements ByteChannel {
        final SocketChannel socket;
        final AtomicLong reads = new AtomicLong();

        CountingTransport(SocketChannel socket) {
            this.socket = socket;
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            reads.incrementAndGet();
            return socket.read(dst);
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            return socket.write(src);
        }

        @Override
        public boolean isOpen() {
            return socket.isOpen();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    /**
     * Runs every check on a fresh connection of {@code server} and {@code client}.
     *
     * @param exact whether the channel knows exactly what arrived from this client: a channel
     *        judging by record sizes does not when the client's records take more than the least
     *        (JSSE's TLS 1.3 records: 16 bytes more), nor across its KeyUpdate messages; then a
     *        read after the promise may still read the socket for the message's last bytes
     */
    public static void check(TlsEndpoint server, TlsEndpoint client, boolean exact, int maxAhead)
            throws Exception {
        long seed = ConcurrentTraffic.seed();
        long heldBefore = AheadBudget.held();
        Random random = new Random(seed);
        CountingTransport[] transport = new CountingTransport[1];
        java.util.concurrent.ExecutorService sender = java.util.concurrent.Executors.newSingleThreadExecutor();
        try (LoopbackPair pair = LoopbackPair.handshake(server, client,
                socket -> transport[0] = new CountingTransport(socket))) {
            assertNull(pair.serverFailure);
            assertNull(pair.clientFailure);
            // a short message first, as an NBD request header comes before its payload
            byte[] header = bytes(random, 28);
            byte[] payload = bytes(random, (512 << 10) + 13); // below the 1 MiB after which the tests' keys update
            java.util.concurrent.Future<?> sent = sender.submit(() -> pair.client.write(
                    new ByteBuffer[] {ByteBuffer.wrap(header), ByteBuffer.wrap(payload)}));
            assertArrayEquals(header, readFully(pair.server, header.length));

            assertTrue(pair.server.receiveAhead(payload.length), "the whole payload was sent: it has arrived");
            long readsBefore = transport[0].reads.get();
            assertArrayEquals(payload, readFully(pair.server, payload.length));
            if (exact) {
                assertEquals(readsBefore, transport[0].reads.get(),
                        "a payload that has arrived is read without a socket read");
            }
            sent.get();

            assertFalse(pair.server.receiveAhead(maxAhead + 1L), "more than the channel holds ahead is refused");

            // larger than the tests' key-update interval: KeyUpdate records among the data
            byte[] large = bytes(random, (3 << 20) + 7);
            sent = sender.submit(() -> pair.client.write(ByteBuffer.wrap(large)));
            assertTrue(pair.server.receiveAhead(large.length));
            long readsBeforeLarge = transport[0].reads.get();
            assertArrayEquals(large, readFully(pair.server, large.length));
            if (exact) {
                assertEquals(readsBeforeLarge, transport[0].reads.get());
            }
            sent.get();

            // with every channel's budget for receiving ahead taken, the channel declines and the
            // message is read the usual way
            long spare = AheadBudget.MAX_BYTES - AheadBudget.held();
            assertTrue(AheadBudget.tryTake(spare));
            try {
                byte[] larger = bytes(random, (6 << 20) + 5);
                sent = sender.submit(() -> pair.client.write(ByteBuffer.wrap(larger)));
                assertFalse(pair.server.receiveAhead(larger.length), "beyond the budget of all channels");
                assertArrayEquals(larger, readFully(pair.server, larger.length));
                sent.get();
            } finally {
                AheadBudget.give(spare);
            }

            // the client sends part of a message and ends its stream
            byte[] part = bytes(random, 100);
            sender.submit(() -> {
                pair.client.write(ByteBuffer.wrap(part));
                pair.clientSocket.shutdownOutput(); // the end of the stream (a close could reset it: the
                                                    // client has not read what the server sent)
                return null;
            }).get();
            assertFalse(pair.server.receiveAhead(part.length + 4096L), "the stream ended before the message");
            assertArrayEquals(part, readFully(pair.server, part.length), "what came before the end is still read");
            assertEquals(-1, pair.server.read(ByteBuffer.allocate(16)));
        } catch (AssertionError | Exception e) {
            throw new AssertionError("seed " + seed + ": " + e.getMessage(), e);
        } finally {
            sender.shutdownNow();
        }
        assertEquals(heldBefore, AheadBudget.held(), "a closed channel gives back what it held ahead");
    }

    private static byte[] bytes(Random random, int length) {
        byte[] b = new byte[length];
        random.nextBytes(b);
        return b;
    }

    /** Reads {@code length} bytes into a direct buffer, as the export reads a payload into its cache. */
    private static byte[] readFully(TlsChannel channel, int length) throws IOException {
        ByteBuffer dst = ByteBuffer.allocateDirect(length);
        while (dst.hasRemaining()) {
            if (channel.read(dst) < 0) {
                throw new java.io.EOFException(dst.remaining() + " bytes short");
            }
        }
        dst.flip();
        byte[] out = new byte[length];
        dst.get(out);
        return out;
    }
}
