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
    /** The TLS channel after STARTTLS, which can receive a message whole before it is read; else null. */
    private TlsChannel tls;
    /** Whether {@link #placeable} has a TLS channel receive a payload ahead (not over unix sockets: see there). */
    private boolean tlsReceivesAhead = true;
    /**
     * Bytes the channel's reads have returned so far. Written by the reader only, read by the
     * server's timer to see whether a client stuck in a payload still sends ({@link #receivedSoFar()}).
     */
    private long receivedSoFar;
    /**
     * Opaque access to {@link #receivedSoFar}: atomic and seen by the timer soon enough, without the
     * fence a volatile write costs on every read of every connection.
     */
    private static final java.lang.invoke.VarHandle RECEIVED;

    static {
        try {
            RECEIVED = java.lang.invoke.MethodHandles.lookup().findVarHandle(ChannelInput.class, "receivedSoFar", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    ChannelInput(ReadableByteChannel channel) {
        this.channel = channel;
    }

    /**
     * Whether {@link #placeable} has a TLS channel receive a payload ahead. Not over a unix socket:
     * its small send buffer (about 208 KiB) stops the client a fraction into a 1 MiB payload, so
     * receiving it whole before decrypting any of it leaves the server idle while the client
     * encrypts, where reading it straight into the space decrypts each record as it comes (1 MiB
     * TLS writes measured 0.64–0.67× of reading into a buffer with it, docs/BENCHMARKS.md); TCP's
     * buffers hold whole payloads.
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
    }

    /** How many bytes the channel's reads have returned since the connection opened (read by any thread). */
    long receivedSoFar() {
        return (long) RECEIVED.getOpaque(this);
    }

    /** Counts {@code n} bytes a read returned (the reader only). */
    private void received(int n) {
        RECEIVED.setOpaque(this, receivedSoFar + n);
    }

    /** Bytes received but not yet consumed. */
    int bufferedBytes() {
        return buffer.remaining();
    }

    /** Whether {@link #placeable} would have the TLS channel receive {@code bytes} ahead (it may wait for the client). */
    boolean receivesAhead(long bytes) {
        return tls != null && tlsReceivesAhead && buffer.remaining() < bytes;
    }

    /**
     * Whether the next {@code bytes} (a WRITE's payload) may be received straight into the
     * device's space now. Yes, but on a TLS connection that receives payloads ahead (over TCP):
     * there the channel first receives the payload's records whole, which waits for the client as
     * a read would, and decrypts them into the space afterwards, which measured faster than
     * decrypting each record as it comes (docs/BENCHMARKS.md); no when it declines (a payload
     * larger than it holds ahead, or a cipher it cannot judge).
     */
    boolean placeable(long bytes) throws IOException {
        if (tls == null || !tlsReceivesAhead || buffer.remaining() >= bytes) {
            return true;
        }
        return tls.receiveAhead(bytes - buffer.remaining());
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
                received(n);
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
                int n = channel.read(buffer);
                if (n < 0) {
                    throw new EOFException("connection closed after " + buffer.position() + " of "
                            + bytes + " expected bytes");
                }
                received(n);
            }
        } finally {
            buffer.flip();
        }
    }
}
