package pcache.export.nbd.internal;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;

import pcache.api.tls.TlsChannel;

/**
 * Buffered big-endian reads from a blocking channel. One read syscall usually brings in several
 * pipelined request headers (and small WRITE payloads); large payloads bypass the buffer.
 * Not thread-safe: owned by the connection's reader thread.
 *
 * <p>Before every read from the channel (which may block until the client sends more) the
 * {@linkplain #beforeBlockingRead hook} runs: the connection writes out the replies it has
 * collected, so replies to everything one read brought in leave in one write.
 */
final class ChannelInput {
    private static final int BUFFER_BYTES = 64 << 10;

    /** Runs before a channel read. */
    @FunctionalInterface
    interface ReadHook {
        void beforeRead() throws IOException;
    }

    private ReadableByteChannel channel;
    /** Always in "read mode": position..limit holds bytes not yet consumed. */
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER_BYTES).limit(0);
    private ReadHook hook = () -> { };
    /** Bytes the channel has received that a read would return at once; null when it cannot tell. */
    private ReceivedBytes received;
    /** The TLS channel after STARTTLS, which can receive a message whole before it is read; else null. */
    private TlsChannel tls;
    /** Whether {@link #arrived} asks a TLS channel to receive ahead (not over unix sockets: see there). */
    private boolean tlsReceivesAhead = true;

    /** Asks the operating system how many received bytes a socket holds, without reading them. */
    @FunctionalInterface
    interface ReceivedBytes {
        int count() throws IOException;
    }

    ChannelInput(ReadableByteChannel channel) {
        this(channel, null);
    }

    /**
     * @param received how many bytes {@code channel} holds already received, or null when that
     *        cannot be asked ({@link #arrived} then only counts buffered bytes)
     */
    ChannelInput(ReadableByteChannel channel, ReceivedBytes received) {
        this.channel = channel;
        this.received = received;
    }

    /**
     * Whether {@link #arrived} lets a TLS channel receive a payload ahead. Not over a unix socket:
     * its small send buffer (about 208 KiB) stops the client a fraction into a 1 MiB payload, so
     * receiving it whole before decrypting any of it leaves the server idle while the client
     * encrypts, where reading it into a buffer decrypts each record as it comes (1 MiB TLS writes
     * measured 0.64–0.67× with it, docs/BENCHMARKS.md); TCP's buffers hold whole payloads.
     */
    void tlsReceivesAhead(boolean receivesAhead) {
        this.tlsReceivesAhead = receivesAhead;
    }

    /** Sets what runs before each read from the channel. */
    void beforeBlockingRead(ReadHook readHook) {
        this.hook = readHook;
    }

    /**
     * From now on reads come from {@code upgraded} (the connection's TLS channel). Only allowed
     * with nothing buffered: bytes read before the switch came in clear text.
     *
     * @throws IllegalStateException if bytes are still buffered
     */
    void switchTo(TlsChannel upgraded) {
        if (buffer.hasRemaining()) {
            throw new IllegalStateException(buffer.remaining() + " bytes buffered from the previous channel");
        }
        this.channel = upgraded;
        this.tls = upgraded;
        this.received = null; // what the socket holds is ciphertext now, not what reads return
    }

    /** Bytes received but not yet consumed. */
    int bufferedBytes() {
        return buffer.remaining();
    }

    /**
     * Whether the next {@code bytes} have arrived, so that reading them cannot wait for the client:
     * buffered here, or received by the socket as far as it can tell. On a TLS connection (over
     * TCP) the channel first receives them whole ({@link TlsChannel#receiveAhead}), which waits for
     * the client as a read would: call this holding nothing a client must not hold up.
     */
    boolean arrived(long bytes) throws IOException {
        if (buffer.remaining() >= bytes) {
            return true;
        }
        if (tls != null) {
            return tlsReceivesAhead && tls.receiveAhead(bytes - buffer.remaining());
        }
        return received != null && buffer.remaining() + (long) received.count() >= bytes;
    }

    /** Whether at least {@code bytes} are buffered, i.e. can be consumed without a channel read. */
    boolean hasBuffered(int bytes) {
        return buffer.remaining() >= bytes;
    }

    int readU16() throws IOException {
        require(2);
        return Short.toUnsignedInt(buffer.getShort());
    }

    int readInt() throws IOException {
        require(4);
        return buffer.getInt();
    }

    long readLong() throws IOException {
        require(8);
        return buffer.getLong();
    }

    /** Reads exactly {@code length} bytes; the caller bounds {@code length}. */
    byte[] readBytes(int length) throws IOException {
        byte[] bytes = new byte[length];
        readFully(ByteBuffer.wrap(bytes));
        return bytes;
    }

    /** Fills {@code dst} from its position to its limit, or throws EOFException. */
    void readFully(ByteBuffer dst) throws IOException {
        int buffered = Math.min(buffer.remaining(), dst.remaining());
        if (buffered > 0) {
            ByteBuffer part = buffer.duplicate();
            part.limit(part.position() + buffered);
            dst.put(part);
            buffer.position(buffer.position() + buffered);
        }
        while (dst.hasRemaining()) {
            if (dst.remaining() >= BUFFER_BYTES) {
                ByteBuffer slice = BufferPool.ioSlice(dst);
                hook.beforeRead();
                int n = channel.read(slice);
                if (n < 0) {
                    throw new EOFException("connection closed with " + dst.remaining() + " bytes still expected");
                }
                if (slice != dst) {
                    dst.position(dst.position() + n);
                }
            } else {
                require(1);
                int n = Math.min(buffer.remaining(), dst.remaining());
                ByteBuffer part = buffer.duplicate();
                part.limit(part.position() + n);
                dst.put(part);
                buffer.position(buffer.position() + n);
            }
        }
    }

    /** Reads and drops {@code length} bytes (a refused WRITE's payload) without allocating. */
    void skip(long length) throws IOException {
        long left = length;
        while (left > 0) {
            if (!buffer.hasRemaining()) {
                require(1);
            }
            int n = (int) Math.min(left, buffer.remaining());
            buffer.position(buffer.position() + n);
            left -= n;
        }
    }

    private void require(int bytes) throws IOException {
        if (buffer.remaining() >= bytes) {
            return;
        }
        buffer.compact();
        try {
            while (buffer.position() < bytes) {
                hook.beforeRead();
                if (channel.read(buffer) < 0) {
                    throw new EOFException("connection closed after " + buffer.position() + " of "
                            + bytes + " expected bytes");
                }
            }
        } finally {
            buffer.flip();
        }
    }
}
