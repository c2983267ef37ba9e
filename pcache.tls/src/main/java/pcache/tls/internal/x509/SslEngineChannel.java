package pcache.tls.internal.x509;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.ClosedChannelException;
import java.lang.ref.Cleaner;
import java.security.Principal;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

import pcache.api.tls.TlsChannel;
import pcache.tls.internal.AheadBudget;

/**
 * A JSSE {@link SSLEngine} as a blocking channel over a blocking transport.
 *
 * <p>Reads and writes have their own lock and their own buffers, so one thread reads while another
 * writes; the engine serializes its own wrap and unwrap calls, which do no I/O. Socket I/O uses
 * large direct buffers: a gathering write packs up to {@link #RECORDS_PER_WRITE} records into one
 * socket write, and a read takes whatever the socket has, up to as many records. A read whose
 * buffer holds a whole record decrypts straight into it. When a read meets a post-handshake message
 * that needs an answer (a TLS 1.3 KeyUpdate), it takes the write lock for that answer.
 *
 * <p>{@link #receiveAhead} lets the received records of a large message pile up in the read buffer
 * (which grows for it, up to {@link #MAX_AHEAD_BYTES} of plaintext, within the {@link AheadBudget}
 * of all channels, and keeps that size until the channel closes) before the caller reads them.
 */
final class SslEngineChannel implements TlsChannel {

    /**
     * Records gathered into one socket write, and the socket read size in records. Four (about
     * 64 KiB) rather than sixteen: a 270 KiB write overruns a unix socket's default send buffer
     * (about 208 KiB) and made 1 MiB TLS reads over a unix socket 30 % slower (docs/BENCHMARKS.md,
     * "TLS"); over TCP four and sixteen measured the same.
     */
    static final int RECORDS_PER_WRITE = 4;

    /** Plaintext {@link #receiveAhead} holds at most; the read buffer grows to about that much ciphertext. */
    static final int MAX_AHEAD_BYTES = 8 << 20;

    /** The record header: content type, version, length. */
    private static final int HEADER_BYTES = 5;
    private static final byte APPLICATION_DATA = 23;

    private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);
    private static final Cleaner CLEANER = Cleaner.create();

    private final ByteChannel transport;
    private final SSLEngine engine;
    private final int packetSize;
    private final int applicationSize;

    private final ReentrantLock readLock = new ReentrantLock();
    /** Received bytes not yet unwrapped; read mode. Guarded by readLock. */
    private ByteBuffer netIn;
    /**
     * The least a record of the negotiated protocol and cipher takes beyond the data it carries
     * (header, explicit nonce, tag, content type); -1 before the handshake's end.
     */
    private volatile int recordOverhead = -1;
    /** netIn's bytes beyond its first size, taken from the {@link AheadBudget}. */
    private final AtomicLong grown = new AtomicLong();
    /** Gives {@link #grown} back when the channel closes, or at the latest when it is collected. */
    private final Cleaner.Cleanable budgetReturn;
    /** Plaintext unwrapped but not yet handed out; read mode. Guarded by readLock. */
    private ByteBuffer appIn;
    private boolean inboundDone;
    /** A reader unwrapped a message whose answer a writer must send. */
    private volatile boolean answerPending;
    /**
     * Messages asking for an answer (TLS 1.3 KeyUpdate requests) unwrapped while an earlier answer
     * was still unsent: the writer holds the lock, blocked on a peer that does not read. JSSE queues
     * an answer, with the write keys it replaces, for each one; beyond
     * {@link #MAX_ANSWERS_WAITING} the peer is refused instead of held in memory without end.
     */
    private final java.util.concurrent.atomic.AtomicInteger answersWaiting = new java.util.concurrent.atomic.AtomicInteger();
    /**
     * A peer updates its keys once per many GiB (JSSE: 2^37 bytes), so this many requests
     * unanswered is no peer's need; the answers it bounds take a few KiB each. High enough that a
     * peer whose keys update every MiB (this module's tests) is not refused while our writer waits.
     */
    static final int MAX_ANSWERS_WAITING = 1024;
    /** {@link #MAX_ANSWERS_WAITING}, lower in a test. */
    private volatile int maxAnswersWaiting = MAX_ANSWERS_WAITING;

    private final ReentrantLock writeLock = new ReentrantLock();
    /** Records waiting for the socket; write mode, empty between calls. Guarded by writeLock. */
    private final ByteBuffer netOut;
    private final ByteBuffer[] single = new ByteBuffer[1];

    private volatile boolean closed;
    private String protocol;
    private String cipherSuite;
    private String peerIdentity;

    /** Turns the engine's exceptions (a peer's alert after the handshake) into words. */
    interface FailureWords {
        IOException describe(SSLException e);
    }

    private final FailureWords failureWords;

    SslEngineChannel(ByteChannel transport, SSLEngine engine, FailureWords failureWords) {
        this.failureWords = failureWords;
        this.transport = transport;
        this.engine = engine;
        SSLSession session = engine.getSession();
        this.packetSize = session.getPacketBufferSize();
        this.applicationSize = session.getApplicationBufferSize();
        this.netIn = ByteBuffer.allocateDirect(packetSize * RECORDS_PER_WRITE).flip();
        this.appIn = ByteBuffer.allocateDirect(applicationSize).flip();
        this.netOut = ByteBuffer.allocateDirect(packetSize * RECORDS_PER_WRITE);
        AtomicLong taken = grown;
        this.budgetReturn = CLEANER.register(this, () -> AheadBudget.give(taken.getAndSet(0)));
    }

    /** Runs the handshake to its end; on an {@link SSLException} the caller maps the cause to words. */
    void handshake(boolean peerVerified) throws IOException {
        readLock.lock();
        writeLock.lock();
        try {
            engine.beginHandshake();
            HandshakeStatus status = engine.getHandshakeStatus();
            while (status != HandshakeStatus.FINISHED && status != HandshakeStatus.NOT_HANDSHAKING) {
                switch (status) {
                    case NEED_WRAP -> {
                        SSLEngineResult result = engine.wrap(EMPTY, netOut);
                        try {
                            flushNetOut();
                        } catch (IOException e) {
                            throw alertInstead(e);
                        }
                        if (result.getStatus() == SSLEngineResult.Status.CLOSED) {
                            throw new EOFException("the TLS engine closed during the handshake");
                        }
                        status = result.getHandshakeStatus();
                    }
                    case NEED_UNWRAP, NEED_UNWRAP_AGAIN -> status = handshakeUnwrap();
                    case NEED_TASK -> status = runTasks();
                    default -> throw new IllegalStateException("handshake status " + status);
                }
            }
            SSLSession session = engine.getSession();
            protocol = session.getProtocol();
            cipherSuite = session.getCipherSuite();
            recordOverhead = leastRecordOverhead(protocol, cipherSuite);
            peerIdentity = peerVerified ? peerIdentity(session) : null;
        } finally {
            writeLock.unlock();
            readLock.unlock();
        }
    }

    /** Sends what the engine has to say after a failure (its alert), best effort. */
    void sendAlert() {
        writeLock.lock();
        try {
            engine.closeOutbound();
            netOut.clear();
            while (!engine.isOutboundDone()) {
                SSLEngineResult result = engine.wrap(EMPTY, netOut);
                if (result.bytesProduced() == 0) {
                    break;
                }
            }
            flushNetOut();
        } catch (IOException | RuntimeException e) {
            // the peer is gone or the engine has nothing to send: the handshake failed anyway
        } finally {
            writeLock.unlock();
        }
    }

    /**
     * A peer that refuses the handshake sends an alert and closes, perhaps while we still write
     * our flight: the alert it sent says more than the broken pipe.
     */
    private IOException alertInstead(IOException writeFailure) {
        try {
            // only while the engine wants to read: with more of its own flight to send (NEED_WRAP)
            // or a task to run, an unwrap returns at once having read nothing, and looping on it
            // spun a core for good, out of reach of the handshake's timeout (it closes the socket)
            HandshakeStatus status = engine.getHandshakeStatus();
            while (status == HandshakeStatus.NEED_UNWRAP || status == HandshakeStatus.NEED_UNWRAP_AGAIN) {
                status = handshakeUnwrap();
            }
            return writeFailure;
        } catch (SSLException alert) {
            alert.addSuppressed(writeFailure);
            return alert;
        } catch (IOException | RuntimeException e) {
            return writeFailure;
        }
    }

    private HandshakeStatus handshakeUnwrap() throws IOException {
        while (true) {
            appIn.compact();
            SSLEngineResult result;
            try {
                result = engine.unwrap(netIn, appIn);
            } finally {
                appIn.flip();
            }
            switch (result.getStatus()) {
                case OK -> {
                    return result.getHandshakeStatus();
                }
                case BUFFER_UNDERFLOW -> {
                    if (readNetIn() < 0) {
                        throw new EOFException("the peer closed the connection during the TLS handshake");
                    }
                }
                case BUFFER_OVERFLOW -> growAppIn();
                case CLOSED -> throw new EOFException("the peer closed TLS during the handshake");
                default -> throw new IllegalStateException(result.toString());
            }
        }
    }

    private HandshakeStatus runTasks() {
        for (Runnable task = engine.getDelegatedTask(); task != null; task = engine.getDelegatedTask()) {
            task.run();
        }
        return engine.getHandshakeStatus();
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        readLock.lock();
        try {
            return readLocked(dst);
        } catch (SSLException e) {
            throw failureWords.describe(e);
        } finally {
            readLock.unlock();
        }
    }

    /**
     * The least a record takes beyond its data, for the AEAD ciphers whose records are laid out
     * so: its header, and for TLS 1.3 the 16-byte tag and the inner content type (padding may add
     * more), for TLS 1.2 AES-GCM the explicit nonce and tag, for TLS 1.2 ChaCha20-Poly1305 the tag.
     * Never more than a record takes, so the plaintext judged from a record's size is never less
     * than it carries; and exact without padding, so it is not much more either. Any other cipher
     * (CBC suites, whose MAC and padding vary, or a tag of another size): -1, and the channel does
     * not receive ahead.
     */
    static int leastRecordOverhead(String protocol, String cipherSuite) {
        if ("TLSv1.3".equals(protocol)) {
            return switch (cipherSuite) {
                case "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
                        "TLS_AES_128_CCM_SHA256" -> HEADER_BYTES + 16 + 1;
                default -> -1;
            };
        }
        if ("TLSv1.2".equals(protocol)) {
            if (cipherSuite.endsWith("_GCM_SHA256") || cipherSuite.endsWith("_GCM_SHA384")) {
                return HEADER_BYTES + 8 + 16;
            }
            if (cipherSuite.endsWith("_CHACHA20_POLY1305_SHA256")) {
                return HEADER_BYTES + 16;
            }
        }
        return -1;
    }

    /**
     * Reads from the transport into the read buffer, without decrypting, until the whole records
     * there carry {@code bytes} of plaintext beyond what is decrypted already. A record is taken
     * to carry its size less the least overhead of the negotiated cipher: exact for a peer that
     * does not pad its records (GnuTLS, which qemu, libnbd and nbdkit use), more than it carries
     * otherwise (JSSE's TLS 1.3 records take 16 bytes more each). So this never waits for bytes
     * beyond the message (a peer sending nothing more until it is answered cannot hang it), and a
     * padding peer can only make the read after it wait for the rest of the message, which it is
     * sending.
     */
    @Override
    public boolean receiveAhead(long bytes) throws IOException {
        if (bytes > MAX_AHEAD_BYTES) {
            return false;
        }
        readLock.lock();
        try {
            ensureOpen();
            // counted once each: compacting or growing netIn moves its records with its position
            RecordScan scan = new RecordScan();
            while (true) {
                if (recordOverhead < 0 || inboundDone) {
                    return false; // still handshaking, a cipher we cannot judge, or the stream ended
                }
                if (!scan.more(netIn, recordOverhead)) {
                    return false; // a record only an unwrap can deal with (a renegotiation's)
                }
                if (appIn.remaining() + scan.plaintext >= bytes) {
                    return true;
                }
                if (!makeRoom(bytes)) {
                    return false;
                }
                if (appendNetIn() < 0) {
                    return false; // the next read reports the end
                }
            }
        } finally {
            readLock.unlock();
        }
    }

    /**
     * The plaintext the whole application-data records in {@code records} (read mode, untouched)
     * carry, taking {@code overhead} bytes off each record's size, header included; -1 when a
     * whole record of another type comes first (a TLS 1.2 handshake message: a renegotiation the
     * peer may wait on before it sends more, which only a read answers).
     */
    static long plaintextInWholeRecords(ByteBuffer records, int overhead) {
        RecordScan scan = new RecordScan();
        return scan.more(records, overhead) ? scan.plaintext : -1;
    }

    /**
     * The whole application-data records after a buffer's position, counted as they arrive: each
     * look goes on after the records counted before. Before, every read of a receive-ahead counted
     * the whole buffer again, so a peer sending tiny records a few at a time (380,000 of them
     * fit in a buffer for an 8 MiB write) kept a core busy for tens of seconds.
     */
    static final class RecordScan {
        /** The plaintext of the records counted, judged as {@link #plaintextInWholeRecords} does. */
        long plaintext;
        /** The bytes of those records, from the buffer's position. */
        int counted;
        /** Headers looked at, over every call (for tests). */
        long headersRead;

        /**
         * Counts the whole records after those counted before.
         *
         * @return false when a whole record of another type comes first
         */
        boolean more(ByteBuffer records, int overhead) {
            int at = records.position() + counted;
            while (at + HEADER_BYTES <= records.limit()) {
                headersRead++;
                int size = HEADER_BYTES + Short.toUnsignedInt(records.getShort(at + 3));
                if (at + size > records.limit()) {
                    break;
                }
                if (records.get(at) != APPLICATION_DATA) {
                    return false;
                }
                plaintext += Math.max(0, size - overhead);
                at += size;
            }
            counted = at - records.position();
            return true;
        }
    }

    /**
     * Makes room at the end of netIn: moves its bytes to the front, or, when they fill it, moves
     * them to a larger buffer, sized for the records of {@code bytes} of plaintext (at most
     * {@link #MAX_AHEAD_BYTES} and a sixty-fourth more for the records' overhead).
     *
     * @return false when netIn is full and as large as it may grow (the peer's records are small
     *         or padded: they carry less than that much plaintext), or all channels' read buffers
     *         together would hold more than the {@link AheadBudget} allows
     */
    private boolean makeRoom(long bytes) {
        if (netIn.limit() < netIn.capacity()) {
            return true;
        }
        if (netIn.position() > 0) {
            netIn.compact().flip();
            return true;
        }
        long most = MAX_AHEAD_BYTES + MAX_AHEAD_BYTES / 64 + packetSize;
        long wanted = bytes + (bytes / (16 << 10) + 2) * (long) Math.max(recordOverhead, 0) + packetSize;
        int size = (int) Math.min(Math.max(wanted, 2L * netIn.capacity()), most);
        if (size <= netIn.capacity() || !AheadBudget.tryTake(size - netIn.capacity())) {
            return false;
        }
        ByteBuffer bigger;
        try {
            bigger = ByteBuffer.allocateDirect(size);
        } catch (OutOfMemoryError e) {
            AheadBudget.give(size - netIn.capacity()); // no direct memory left: read the usual way
            return false;
        }
        grown.addAndGet(size - netIn.capacity());
        if (closed) {
            AheadBudget.give(grown.getAndSet(0)); // close() may have given back before we took
        }
        bigger.put(netIn).flip();
        netIn = bigger;
        return true;
    }

    /** Reads what the transport has after the bytes in netIn (which has room); -1 at its end. */
    private int appendNetIn() throws IOException {
        int start = netIn.position();
        netIn.position(netIn.limit()).limit(netIn.capacity());
        try {
            return transport.read(netIn);
        } finally {
            netIn.limit(netIn.position()).position(start);
        }
    }

    private int readLocked(ByteBuffer dst) throws IOException {
        {
            ensureOpen();
            if (appIn.hasRemaining()) {
                return copy(appIn, dst);
            }
            if (inboundDone) {
                return -1;
            }
            if (!dst.hasRemaining()) {
                return 0;
            }
            int total = 0;
            boolean indirect = false;
            while (true) {
                boolean direct = !indirect && dst.remaining() >= applicationSize;
                SSLEngineResult result;
                if (direct) {
                    result = engine.unwrap(netIn, dst);
                } else {
                    appIn.clear();
                    try {
                        result = engine.unwrap(netIn, appIn);
                    } finally {
                        appIn.flip();
                    }
                }
                switch (result.getStatus()) {
                    case OK -> {
                        refuseRenegotiation(result.getHandshakeStatus());
                        countAnswerAsked(result);
                        afterUnwrap(result.getHandshakeStatus());
                        if (direct) {
                            total += result.bytesProduced();
                        } else if (result.bytesProduced() > 0) {
                            return total + copy(appIn, dst);
                        }
                        if (!dst.hasRemaining()) {
                            return total;
                        }
                    }
                    case BUFFER_UNDERFLOW -> {
                        if (total > 0) {
                            return total; // never block with data in hand
                        }
                        if (readNetIn() < 0) {
                            inboundDone = true; // closed without close_notify: the connection ended
                            return -1;
                        }
                    }
                    case BUFFER_OVERFLOW -> {
                        if (total > 0) {
                            return total;
                        }
                        if (direct) {
                            indirect = true; // a record larger than dst: through appIn
                        } else {
                            growAppIn();
                        }
                    }
                    case CLOSED -> {
                        inboundDone = true;
                        afterUnwrap(result.getHandshakeStatus()); // answer the peer's close_notify
                        return total > 0 ? total : -1;
                    }
                    default -> throw new IllegalStateException(result.toString());
                }
            }
        }
    }

    /**
     * A server refuses a TLS 1.2 client's renegotiation (JSSE accepts it by default): each one
     * costs a signature, and a client certificate presented in it would not be checked again.
     * TLS 1.3 has none (its post-handshake messages are key updates, which are answered).
     */
    private void refuseRenegotiation(HandshakeStatus status) throws IOException {
        if (!engine.getUseClientMode() && (status == HandshakeStatus.NEED_TASK || status == HandshakeStatus.NEED_WRAP
                || status == HandshakeStatus.NEED_UNWRAP) && "TLSv1.2".equals(engine.getSession().getProtocol())) {
            throw new javax.net.ssl.SSLException("renegotiation refused: the client started a new TLS 1.2 handshake"
                    + " on an established connection");
        }
    }

    /** Lowers {@link #MAX_ANSWERS_WAITING} for this channel (tests). */
    void maxAnswersWaiting(int max) {
        this.maxAnswersWaiting = max;
    }

    /**
     * Counts a record that asked for an answer while an earlier answer waits: a record of no
     * application data after which the engine wants to write (a KeyUpdate request; the engine
     * says NEED_WRAP after every record until its answer is sent, so data records are not
     * counted). Refuses the peer past {@link #MAX_ANSWERS_WAITING}.
     */
    private void countAnswerAsked(SSLEngineResult result) throws IOException {
        if (answerPending && result.getHandshakeStatus() == HandshakeStatus.NEED_WRAP
                && result.bytesProduced() == 0 && result.bytesConsumed() > 0
                && answersWaiting.incrementAndGet() > maxAnswersWaiting) {
            throw new javax.net.ssl.SSLProtocolException("the peer sent more than " + maxAnswersWaiting
                    + " TLS messages asking for an answer (KeyUpdate requests) while it did not read the answers:"
                    + " refused, as a flood");
        }
    }

    /**
     * Post-handshake work an unwrap asks for: tasks, or an answer to send (a KeyUpdate's, a
     * close_notify's). A reader never waits for the write lock: with both ends' writers blocked on
     * full sockets, readers waiting for write locks would stop reading and deadlock. It sends the
     * answer itself when no writer is active; otherwise the writer sends it, at its next wrap or,
     * at the latest, when it releases the lock ({@link #unlockWrite()}).
     */
    private void afterUnwrap(HandshakeStatus status) throws IOException {
        if (status == HandshakeStatus.NEED_TASK) {
            status = runTasks();
        }
        if (status == HandshakeStatus.NEED_WRAP) {
            answerPending = true;
            if (writeLock.tryLock()) {
                unlockWrite();
            }
        }
    }

    /** Releases the write lock, first sending any answer a reader left pending. */
    private void unlockWrite() throws IOException {
        try {
            while (answerPending) {
                answerPending = false;
                if (!closed) {
                    wrapPendingAnswer();
                    answersWaiting.set(0);
                }
            }
        } finally {
            writeLock.unlock();
        }
        if (answerPending && writeLock.tryLock()) { // set after our last look, by a reader refused the lock
            unlockWrite();
        }
    }

    private void wrapPendingAnswer() throws IOException {
        while (engine.getHandshakeStatus() == HandshakeStatus.NEED_WRAP) {
            SSLEngineResult result = engine.wrap(EMPTY, netOut);
            if (result.getHandshakeStatus() == HandshakeStatus.NEED_TASK) {
                runTasks();
            }
            if (result.bytesProduced() == 0) {
                break;
            }
        }
        flushNetOut();
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
        long wanted = 0;
        for (int i = offset; i < offset + length; i++) {
            wanted += srcs[i].remaining();
        }
        long written = 0;
        while (written < wanted) {
            // answers asked for before these wraps go out with them (the engine sends its handshake
            // messages first): a writer that keeps writing keeps the count down
            int asked = answersWaiting.get();
            while (written < wanted && netOut.remaining() >= packetSize) {
                SSLEngineResult result = engine.wrap(srcs, offset, length, netOut);
                switch (result.getStatus()) {
                    case OK -> written += result.bytesConsumed();
                    case BUFFER_OVERFLOW -> {
                        if (netOut.position() == 0) {
                            throw new IllegalStateException("TLS record larger than " + netOut.capacity());
                        }
                    }
                    case CLOSED -> throw new ClosedChannelException();
                    default -> throw new IllegalStateException(result.toString());
                }
                if (result.getHandshakeStatus() == HandshakeStatus.NEED_TASK) {
                    runTasks();
                }
                if (result.getStatus() == SSLEngineResult.Status.BUFFER_OVERFLOW) {
                    break;
                }
            }
            flushNetOut();
            answersWaiting.updateAndGet(n -> Math.max(0, n - asked));
        }
        return written;
    }

    /** Writes all of netOut to the transport; netOut is empty (write mode) after. */
    private void flushNetOut() throws IOException {
        netOut.flip();
        try {
            while (netOut.hasRemaining()) {
                transport.write(netOut);
            }
        } finally {
            netOut.clear();
        }
    }

    /** Reads what the transport has into netIn; -1 at its end. */
    private int readNetIn() throws IOException {
        netIn.compact().flip();
        return appendNetIn();
    }

    private void growAppIn() {
        int size = Math.max(engine.getSession().getApplicationBufferSize(), appIn.capacity() * 2);
        ByteBuffer bigger = ByteBuffer.allocateDirect(size);
        bigger.put(appIn).flip();
        appIn = bigger;
    }

    private static int copy(ByteBuffer from, ByteBuffer to) {
        int n = Math.min(from.remaining(), to.remaining());
        int limit = from.limit();
        from.limit(from.position() + n);
        to.put(from);
        from.limit(limit);
        return n;
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

    /**
     * Sends close_notify unless a writer is blocked (then the socket's close ends it), and closes
     * the transport, which also wakes a blocked reader.
     */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (writeLock.tryLock()) {
                try {
                    engine.closeOutbound();
                    netOut.clear();
                    while (!engine.isOutboundDone()) {
                        SSLEngineResult result = engine.wrap(EMPTY, netOut);
                        if (result.bytesProduced() == 0) {
                            break;
                        }
                    }
                    flushNetOut();
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
        return protocol;
    }

    @Override
    public String cipherSuite() {
        return cipherSuite;
    }

    @Override
    public String peerIdentity() {
        return peerIdentity;
    }

    private static String peerIdentity(SSLSession session) {
        try {
            Principal principal = session.getPeerPrincipal();
            // shown in log lines: a certificate's subject may hold line breaks (a CA signed it, still)
            return principal == null ? null : pcache.io.Printable.of(principal.getName());
        } catch (SSLPeerUnverifiedException e) {
            return null;
        }
    }
}
