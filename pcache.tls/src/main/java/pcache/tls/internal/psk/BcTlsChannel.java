package pcache.tls.internal.psk;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.ClosedChannelException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

import org.bouncycastle.tls.TlsException;
import org.bouncycastle.tls.TlsContext;
import org.bouncycastle.tls.TlsProtocol;

import pcache.api.tls.TlsChannel;
import pcache.tls.internal.AheadBudget;

/**
 * Bouncy Castle's TLS protocol object in its non-blocking mode (bytes offered in, records read
 * out) as a blocking channel over a blocking transport.
 *
 * <p>Like the JSSE channel: reads and writes have their own lock and buffers, and the protocol
 * object, which does no I/O, is used under a short lock of its own. A gathering write hands up to
 * {@link #PLAIN_CHUNK} bytes to the protocol at once and sends all the records it made in one
 * socket write; a read offers whatever the socket has (up to {@link #NET_CHUNK}) and decrypts
 * straight into the caller's buffer. Output a read causes (a KeyUpdate's answer, a close_notify's)
 * is sent without waiting for the write lock (see {@link #afterOffer()}). {@link #receiveAhead}
 * offers records until the protocol holds a large message's plaintext whole.
 */
final class BcTlsChannel implements TlsChannel {

    /** Plaintext handed to the protocol per call: 16 records. */
    static final int PLAIN_CHUNK = 16 << 14;
    /** Socket read size; record overhead included. */
    static final int NET_CHUNK = PLAIN_CHUNK + 16 * 256;
    /** Plaintext {@link #receiveAhead} lets the protocol hold at most. */
    static final int MAX_AHEAD_BYTES = 8 << 20;

    private final ByteChannel transport;
    private final TlsProtocol protocol;
    private final ReentrantLock protocolLock = new ReentrantLock();

    /**
     * Buffer size until the handshake has completed: a client that has not authenticated holds
     * this little (handshake messages are small; they simply take more reads), not the buffers
     * sized for bulk data, which a few thousand connections stopping after STARTTLS would
     * otherwise hold (about 0.8 MiB each) until their handshake timeout.
     */
    static final int HANDSHAKE_CHUNK = 1 << 14;

    private final ReentrantLock readLock = new ReentrantLock();
    /** Sized for the handshake, then for bulk data ({@link #HANDSHAKE_CHUNK}); under readLock. */
    private byte[] netInArray = new byte[HANDSHAKE_CHUNK];
    private ByteBuffer netIn = ByteBuffer.wrap(netInArray);
    private boolean inboundDone;

    private final ReentrantLock writeLock = new ReentrantLock();
    /** Allocated once the handshake has completed; under writeLock. */
    private byte[] plain;
    /** Sized for the handshake, then for bulk data; under writeLock. */
    private ByteBuffer netOut = ByteBuffer.allocate(HANDSHAKE_CHUNK);
    private final ByteBuffer[] single = new ByteBuffer[1];
    private volatile boolean outputPending;

    private volatile boolean closed;
    private String protocolName;
    private String cipherSuite;
    private String peerIdentity;
    private final FailureWords failureWords;

    /** Turns the protocol's exceptions after the handshake (a peer's alert) into words. */
    interface FailureWords {
        IOException describe(IOException e);
    }

    private final Supplier<TlsContext> context;

    private static final java.lang.ref.Cleaner CLEANER = java.lang.ref.Cleaner.create();
    /**
     * What the protocol's plaintext queue may keep after {@link #receiveAhead} made it grow, taken
     * from the {@link AheadBudget} until the channel closes: Bouncy Castle grows that queue to the
     * next power of two above what it holds and never shrinks it, so one 8 MiB message leaves a
     * 16 MiB array for the connection's life. Counted so, the budget bounds them all.
     */
    private final java.util.concurrent.atomic.AtomicLong queueKept = new java.util.concurrent.atomic.AtomicLong();
    /** Gives {@link #queueKept} back when the channel closes, or at the latest when it is collected. */
    private final java.lang.ref.Cleaner.Cleanable budgetReturn;

    BcTlsChannel(ByteChannel transport, TlsProtocol protocol, Supplier<TlsContext> context,
                 FailureWords failureWords) {
        this.context = context;
        this.transport = transport;
        this.protocol = protocol;
        this.failureWords = failureWords;
        java.util.concurrent.atomic.AtomicLong kept = queueKept;
        this.budgetReturn = CLEANER.register(this, () -> AheadBudget.give(kept.getAndSet(0)));
    }

    /**
     * The most the protocol's plaintext queue grows to while receiving {@code bytes} ahead: it
     * holds less than {@code bytes} before each offer of at most {@link #NET_CHUNK}, which may
     * also complete a record the offer before left partial (up to 16 KiB more), and grows to the
     * next power of two above what it must hold.
     */
    static long queueBytesFor(long bytes) {
        return Long.highestOneBit(bytes + NET_CHUNK + (1 << 14)) << 1;
    }

    /** Takes what the queue may grow to for {@code bytes} from the budget, once; false when it has none to give. Under readLock. */
    private boolean keepRoomFor(long bytes) {
        long queue = queueBytesFor(bytes);
        long kept = queueKept.get();
        if (queue <= kept) {
            return true;
        }
        if (!AheadBudget.tryTake(queue - kept)) {
            return false;
        }
        queueKept.addAndGet(queue - kept);
        if (closed) {
            AheadBudget.give(queueKept.getAndSet(0)); // close() may have given back before we took
            return false;
        }
        return true;
    }

    void peerIdentity(String identity) {
        this.peerIdentity = identity;
    }

    /** Runs the handshake that {@code accept} or {@code connect} began; the caller maps failures to words. */
    void handshake() throws IOException {
        readLock.lock();
        writeLock.lock();
        try {
            while (protocol.isHandshaking()) {
                sendOutput();
                netIn.clear();
                int n = transport.read(netIn);
                if (n < 0) {
                    throw new EOFException("the peer closed the connection during the TLS handshake");
                }
                protocol.offerInput(netInArray, 0, n);
            }
            sendOutput();
            if (!protocol.isConnected()) {
                throw new EOFException("the TLS handshake ended without a connection");
            }
            TlsContext connected = context.get();
            protocolName = PskSuites.protocolName(connected.getServerVersion());
            cipherSuite = PskSuites.name(connected.getSecurityParametersConnection().getCipherSuite());
            // authenticated: the buffers for bulk data (under both locks, so every later use sees them)
            netInArray = new byte[NET_CHUNK];
            netIn = ByteBuffer.wrap(netInArray);
            plain = new byte[PLAIN_CHUNK];
            netOut = ByteBuffer.allocateDirect(NET_CHUNK + (1 << 14));
        } finally {
            writeLock.unlock();
            readLock.unlock();
        }
    }

    /** Bytes of buffers the channel holds now (tests). */
    long bufferBytes() {
        readLock.lock();
        writeLock.lock();
        try {
            return netInArray.length + (plain == null ? 0 : plain.length) + netOut.capacity();
        } finally {
            writeLock.unlock();
            readLock.unlock();
        }
    }

    /** Sends what the protocol has queued (an alert after a failure), best effort. */
    void sendAlert() {
        writeLock.lock();
        try {
            sendOutput();
        } catch (IOException | RuntimeException e) {
            // the peer is gone; the handshake failed anyway
        } finally {
            writeLock.unlock();
        }
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        readLock.lock();
        try {
            ensureOpen();
            if (!dst.hasRemaining()) {
                return 0;
            }
            while (true) {
                boolean ended;
                protocolLock.lock();
                try {
                    int available = protocol.getAvailableInputBytes();
                    if (available > 0) {
                        return protocol.readInput(dst, Math.min(available, dst.remaining()));
                    }
                    ended = protocol.isClosed();
                } finally {
                    protocolLock.unlock();
                }
                if (ended || inboundDone || !receive()) {
                    return -1;
                }
            }
        } finally {
            readLock.unlock();
        }
    }

    /**
     * The protocol decrypts records as they are offered and keeps their plaintext, so it knows
     * exactly what has arrived: this offers what the socket brings until that is enough.
     */
    @Override
    public boolean receiveAhead(long bytes) throws IOException {
        if (bytes > MAX_AHEAD_BYTES) {
            return false;
        }
        readLock.lock();
        try {
            ensureOpen();
            while (true) {
                boolean ended;
                protocolLock.lock();
                try {
                    if (protocol.getAvailableInputBytes() >= bytes) {
                        return true;
                    }
                    ended = protocol.isClosed();
                } finally {
                    protocolLock.unlock();
                }
                if (ended || inboundDone) {
                    return false; // the next read reports the end
                }
                // the budget counts what the protocol's queue keeps (its capacity, for good)
                if (!keepRoomFor(bytes)) {
                    return false;
                }
                if (!receive()) {
                    return false;
                }
            }
        } finally {
            readLock.unlock();
        }
    }

    /** Reads what the socket has and offers it to the protocol; false at the socket's end. Under readLock. */
    private boolean receive() throws IOException {
        netIn.clear();
        int n = transport.read(netIn);
        if (n < 0) {
            inboundDone = true; // closed without close_notify: the connection ended
            return false;
        }
        protocolLock.lock();
        try {
            protocol.offerInput(netInArray, 0, n);
            if (protocol.getAvailableOutputBytes() > 0) {
                outputPending = true;
            }
        } catch (TlsException e) {
            outputPending = true; // the alert we raise, if any
            afterOffer();
            throw failureWords.describe(e);
        } finally {
            protocolLock.unlock();
        }
        afterOffer();
        return true;
    }

    /**
     * Sends output that reading caused when no writer is active; otherwise the active writer sends
     * it (readers never wait for the write lock: see the JSSE channel for the deadlock this avoids).
     */
    private void afterOffer() throws IOException {
        if (outputPending && writeLock.tryLock()) {
            unlockWrite();
        }
    }

    private void unlockWrite() throws IOException {
        try {
            if (outputPending && !closed) {
                sendOutput();
            }
        } finally {
            writeLock.unlock();
        }
        if (outputPending && !closed && writeLock.tryLock()) {
            unlockWrite();
        }
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        writeLock.lock();
        try {
            single[0] = src;
            return (int) writeLocked(single, 0, 1);
        } finally {
            single[0] = null;
            unlockWrite();
        }
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        writeLock.lock();
        try {
            return writeLocked(srcs, offset, length);
        } finally {
            unlockWrite();
        }
    }

    @Override
    public long write(ByteBuffer[] srcs) throws IOException {
        return write(srcs, 0, srcs.length);
    }

    private long writeLocked(ByteBuffer[] srcs, int offset, int length) throws IOException {
        ensureOpen();
        long written = 0;
        int index = offset;
        int end = offset + length;
        while (true) {
            int gathered = 0;
            while (gathered < plain.length && index < end) {
                ByteBuffer src = srcs[index];
                int n = Math.min(src.remaining(), plain.length - gathered);
                src.get(plain, gathered, n);
                gathered += n;
                if (!src.hasRemaining()) {
                    index++;
                }
            }
            if (gathered == 0) {
                return written;
            }
            protocolLock.lock();
            try {
                protocol.writeApplicationData(plain, 0, gathered);
            } finally {
                protocolLock.unlock();
            }
            sendOutput();
            written += gathered;
        }
    }

    /** Moves every queued record to the socket, many per write. Called with the write lock. */
    private void sendOutput() throws IOException {
        outputPending = false;
        while (true) {
            protocolLock.lock();
            try {
                int available = protocol.getAvailableOutputBytes();
                if (available == 0) {
                    return;
                }
                netOut.clear();
                protocol.readOutput(netOut, Math.min(available, netOut.remaining()));
            } finally {
                protocolLock.unlock();
            }
            netOut.flip();
            while (netOut.hasRemaining()) {
                transport.write(netOut);
            }
        }
    }

    private void ensureOpen() throws ClosedChannelException {
        if (closed) {
            throw new ClosedChannelException();
        }
    }

    @Override
    public boolean isOpen() {
        return !closed && transport.isOpen();
    }

    /** Sends close_notify unless a writer is blocked, and closes the transport (waking a blocked reader). */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (writeLock.tryLock()) {
                try {
                    protocolLock.lock();
                    try {
                        protocol.close();
                    } finally {
                        protocolLock.unlock();
                    }
                    sendOutput();
                } catch (IOException | RuntimeException e) {
                    // the peer is gone: nothing to notify
                } finally {
                    writeLock.unlock();
                }
            }
        } finally {
            try {
                transport.close();
            } finally {
                budgetReturn.clean();
            }
        }
    }

    @Override
    public String protocol() {
        return protocolName;
    }

    @Override
    public String cipherSuite() {
        return cipherSuite;
    }

    @Override
    public String peerIdentity() {
        return peerIdentity;
    }
}
