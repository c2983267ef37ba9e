package pcache.export.nbd.internal;

import java.io.EOFException;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

import pcache.api.tls.TlsChannel;
import pcache.api.tls.TlsHandshakeException;
import pcache.io.log.Log;

/**
 * One client connection. Its thread is the reader: it runs the handshake, then parses requests
 * and validates them. Small reads and writes and flushes it first offers to the device's
 * non-waiting calls ({@code tryRead}, {@code tryWrite}, {@code tryFlush}): a cache hit or a write
 * with cache space is served right here, and its reply is written with the others of the same
 * batch before the reader next reads the socket. Everything else goes to the shared worker pool,
 * whose replies go back through this connection's {@link ReplyWriter} in whatever order they
 * finish. Nothing that goes wrong here (bad input, a failing device, a vanished client) affects
 * other connections.
 *
 * <p>After a successful STARTTLS every read and write goes through the connection's
 * {@link TlsChannel}; only a hard close ({@link #abort}) touches the socket directly.
 *
 * <p>The reader never calls a device method that may wait (a miss reading the backing device, a
 * write waiting for cache space): a request stuck on a slow backing device must not hold up the
 * requests behind it. It does wait for its own client inside a large WRITE's payload that it
 * receives straight into the device's space; the server disconnects a client that stalls there
 * ({@link #checkStall}).
 */
final class NbdConnection implements Runnable {
    private static final System.Logger LOG = Log.of(NbdConnection.class);
    /** Replies served in place are written at the latest after this many ... */
    private static final int MAX_PENDING_REPLIES = 64;
    /** ... or once they carry this many bytes of read data. */
    private static final long MAX_PENDING_BYTES = 512 << 10;

    private final NbdServer server;
    private final SocketChannel channel;
    final String peer;
    /** The TLS channel after STARTTLS, else null; then the connection's only way in and out. */
    private volatile TlsChannel tls;
    private final ChannelInput in;
    private final InflightLimiter limiter;
    private final BufferPool pool;
    private final ExecutorService workers;

    private volatile Export export;
    private volatile ReplyWriter writer;
    private volatile boolean inTransmission;
    /** New requests are answered ESHUTDOWN (export withdrawn or server stopping). */
    private volatile boolean withdrawing;
    /**
     * Whether writes were served in place since the replies were last written. The reader offers
     * the processor to other threads ready to run ({@link Thread#yield}) after each write it
     * serves in place (not after a large write received straight into the cache) and after
     * writing a batch of replies that holds writes: to the clients the replies
     * woke, the other connections and the cache's write-back. Without it, on a machine with few
     * cores, a reader keeps the processor while it finds requests, its client sends the next ones
     * one at a time as the replies trickle out, and write-back, which frees the space every writer
     * needs, gets one thread's share among many; the cache fills sooner and writers wait. With
     * nothing else to run, a yield returns at once. Reads are left out: they need no write-back,
     * and measured they lost by it (docs/BENCHMARKS.md, "Connection threads yield after writes").
     */
    private boolean servedWrites;
    /** We are closing the connection on purpose: read/write failures are expected. */
    private volatile boolean closing;
    private volatile ScheduledFuture<?> handshakeTimeout;
    /**
     * What a client must send per payload stall timeout in the middle of a WRITE's payload
     * ({@link #checkStall}): 64 KiB (four TLS records), 6.4 KiB/s with the default 10 s, more with
     * a shorter timeout.
     */
    static final long PAYLOAD_MIN_PROGRESS = 64 << 10;

    /**
     * A WRITE whose payload the reader is receiving, and what it holds meanwhile: the device's
     * space ({@link #serveDirect}), or a buffer and its bytes of the in-flight budget
     * ({@link #payload}).
     *
     * @param from where the payload begins in the bytes received ({@link ChannelInput#receivedSoFar}),
     *        or, {@code ahead}, in the bytes the TLS channel read from the socket
     * @param ahead the TLS channel receives the payload's records whole before any of it is
     *        decrypted ({@link ChannelInput#placeable}): the bytes received are the socket's
     */
    private record Placement(NbdRequest request, long from, boolean intoDevice, boolean ahead, long startedNanos) {
        Placement(NbdRequest request, long from, boolean intoDevice) {
            this(request, from, intoDevice, false, 0);
        }
    }

    /**
     * The socket as the TLS channel reads it, counting what its reads return: a payload received
     * ahead ({@link Placement#ahead}) comes in as records the channel holds undecrypted, which the
     * connection's own count does not see.
     */
    private static final class CountingReads implements java.nio.channels.ByteChannel {
        private static final java.lang.invoke.VarHandle READ;

        static {
            try {
                READ = java.lang.invoke.MethodHandles.lookup().findVarHandle(CountingReads.class, "read", long.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        private final SocketChannel socket;
        /** Written by the reading thread only; read by the server's timer (opaque, as ChannelInput's count). */
        private long read;

        CountingReads(SocketChannel socket) {
            this.socket = socket;
        }

        long readSoFar() {
            return (long) READ.getOpaque(this);
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            int n = socket.read(dst);
            if (n > 0) {
                READ.setOpaque(this, read + n);
            }
            return n;
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

    /** The socket as the TLS channel reads it, once STARTTLS began; null in clear text. */
    private volatile CountingReads tlsReads;

    /**
     * The payload being received while the client may still have to send some of it, null between
     * them; each is its own object, so the server's timer tells one from the next when it looks for
     * clients that stop sending in the middle ({@link #checkStall}).
     */
    private volatile Placement placing;
    /** What {@link #checkStall} saw last; only the server's timer thread touches these. */
    private Placement stallSeenPlacement;
    private long stallSeenReceived;
    private long stallSeenSince;
    /** This connection's failed requests, logged within bounds. */
    private final FailureLog failures = new FailureLog(System::nanoTime);
    /** Replies of requests served in place, not yet written; only the reader thread touches them. */
    private final List<OutgoingReply> pending = new ArrayList<>();
    private long pendingBytes;

    NbdConnection(NbdServer server, SocketChannel channel, String peer) {
        this.server = server;
        this.channel = channel;
        this.peer = peer;
        this.in = new ChannelInput(channel);
        in.tlsReceivesAhead(!isUnixSocket());
        this.limiter = new InflightLimiter(server.config.maxInflightRequestsPerConnection(),
                server.config.maxInflightBytesPerConnection(), server.sharedBudget);
        this.pool = server.bufferPool;
        this.workers = server.workers;
    }

    @Override
    public void run() {
        try {
            Session session = handshake();
            if (session != null) {
                transmission(session);
            }
        } catch (EOFException | ClosedChannelException e) {
            if (!closing) {
                LOG.log(Level.DEBUG, () -> "NBD client " + peer + " disconnected: " + e.getMessage());
            }
        } catch (IOException e) {
            if (!closing) {
                LOG.log(Level.DEBUG, () -> "NBD client " + peer + ": connection failed: " + e);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException | Error e) {
            // an Error too (a fault in a device's mapped memory, no memory for a buffer): this
            // connection ends, cleanly, and the server and its other clients go on
            LOG.log(Level.ERROR, "NBD client " + peer + ": internal error, dropping the connection", e);
        } finally {
            cleanUp();
        }
    }

    private Session handshake() throws IOException {
        handshakeTimeout = server.scheduler.schedule(() -> {
            LOG.log(Level.WARNING, () -> "NBD client " + peer + ": handshake not finished within "
                    + server.config.handshakeTimeout().toMillis() + " ms, disconnecting");
            abort();
        }, server.config.handshakeTimeout().toNanos(), TimeUnit.NANOSECONDS);
        try {
            return new Handshake(in, channel, server, this::attach, peer, server.tls, this::startTls).negotiate();
        } catch (TlsHandshakeException e) {
            if (!closing) {
                LOG.log(Level.WARNING, () -> "NBD client " + peer + ": TLS handshake failed, disconnecting: "
                        + e.getMessage());
            }
            return null;
        } catch (Handshake.Ended e) {
            LOG.log(e.clientFault ? Level.WARNING : Level.DEBUG,
                    () -> "NBD client " + peer + ": handshake ended: " + e.getMessage());
            return null;
        } finally {
            handshakeTimeout.cancel(false);
        }
    }

    /** STARTTLS was acknowledged: the TLS handshake, bounded by the handshake timeout (which closes the socket). */
    private TlsChannel startTls() throws IOException {
        CountingReads reads = new CountingReads(channel);
        tlsReads = reads;
        TlsChannel t = server.tls.endpoint().handshake(reads, peer);
        tls = t;
        return t;
    }

    /** The TLS channel of this connection, or null when it runs in clear text. */
    TlsChannel tlsChannel() {
        return tls;
    }

    private boolean attach(Export chosen) {
        if (!chosen.attach(this)) {
            return false;
        }
        export = chosen;
        return true;
    }

    private void transmission(Session session) throws IOException, InterruptedException {
        TlsChannel t = tls;
        ReplyWriter w = new ReplyWriter(t != null ? t : channel, peer, this::abort);
        writer = w;
        server.startThread(w, "pcache-nbd-writer " + peer);
        inTransmission = true;
        LOG.log(Level.DEBUG, () -> "NBD client " + peer + " attached to export '" + session.export().name
                + "' (structured replies " + session.structuredReplies() + ")");
        RequestReader reader = new RequestReader(in, session.limits(), session.export(), peer);
        RequestExecutor executor = new RequestExecutor(session.export(), session.structuredReplies(),
                session.metaContexts(), pool, server.config.readViews().appliesTo(isUnixSocket(), t != null));
        in.beforeBlockingRead(this::writePending);
        try {
            while (true) {
                RequestReader.Incoming incoming = reader.next();
                if (incoming == null) {
                    return;
                }
                if (incoming.isDisconnect()) {
                    writePending();
                    disconnectSoftly();
                    return;
                }
                if (!serve(session, reader, executor, incoming)) {
                    return;
                }
            }
        } finally {
            dropPending();
        }
    }

    /**
     * Refuses, serves in place or hands to a worker one request. Small READs and WRITEs and
     * FLUSHes are first tried here ({@link RequestExecutor#tryExecute}): the device serves them
     * without waiting when it can (a cache hit, a write with cache space), which saves the two
     * thread hand-offs of a worker; the rest go to a worker so that a slow request never holds
     * up the ones behind it.
     *
     * @return false when the connection must end
     */
    private boolean serve(Session session, RequestReader reader, RequestExecutor executor,
                          RequestReader.Incoming incoming) throws IOException, InterruptedException {
        NbdRequest request = incoming.request();
        Rejection rejection = incoming.rejection();
        boolean direct = rejection == null && isDirectCandidate(request);
        boolean inline = rejection == null && (direct || isInlineCandidate(request));
        // tried in place, a request takes no bytes of the budget: the pending replies' cap bounds
        // them; a large WRITE takes its bytes whichever way it goes (serveLarge)
        long budget = rejection == null && (!inline || direct) ? RequestExecutor.budgetBytes(request) : 0;
        if (!acquire(budget)) {
            return false;
        }
        if (rejection == null && withdrawing) {
            // checked after acquire: see withdraw()
            rejection = new Rejection(NbdError.ESHUTDOWN, server.isShuttingDown()
                    ? "the server is shutting down" : "export '" + session.export().name + "' was withdrawn");
            try {
                reader.skipPayload(request);
            } catch (IOException | RuntimeException | Error e) {
                limiter.release(budget);
                throw e;
            }
        }
        if (rejection != null) {
            fail(session, request, rejection.error(), rejection.reason(), null, budget, Level.WARNING);
            return true;
        }
        if (direct) {
            return serveLarge(session, executor, reader, request, budget);
        }
        ByteBuffer data = payload(reader, request, budget);
        if (inline) {
            if (serveInPlace(session, executor, request, data)) {
                return true;
            }
            // the device would wait: a worker runs it, holding the request's share of the budget
            writePendingHolding(data);
            budget = RequestExecutor.budgetBytes(request);
            if (!limiter.grow(budget)) {
                limiter.release(0);
                pool.release(data);
                return false;
            }
        }
        submit(session, executor, request, data, budget);
        return true;
    }

    /**
     * A WRITE too large to be tried in place with a copy: its payload may be received straight
     * into the device's space ({@link #serveDirect}). Not when nothing is to be served in place
     * (an inline limit of 0).
     */
    private boolean isDirectCandidate(NbdRequest request) {
        int max = server.config.inlineMaxBytes();
        return max > 0 && request.command() == NbdCommand.WRITE && request.length() > max;
    }

    /**
     * A large WRITE, holding its in-flight slot and its byte {@code budget} (taken with the slot,
     * as every request a worker runs takes it): its payload is received straight into the device's
     * space when the device has that space free at once ({@link #serveDirect}); otherwise the
     * payload is read into a buffer and a worker runs it. The budget bounds the cache space
     * payloads still on their way hold, as it bounds the buffers the other way holds; a placed
     * write gives it back once its payload is in.
     *
     * @return false when the connection must end
     */
    private boolean serveLarge(Session session, RequestExecutor executor, RequestReader reader, NbdRequest request,
            long budget) throws IOException {
        boolean served;
        try {
            served = placeable(request) && serveDirect(session, executor, request);
        } catch (IOException | RuntimeException | Error e) {
            limiter.release(budget); // serveDirect throws only before it queued a reply
            throw e;
        }
        if (served) {
            limiter.shrink(budget); // the reply (queued with none) keeps the slot until written
            if (pending.size() >= MAX_PENDING_REPLIES) {
                writePending();
            }
            return true;
        }
        submit(session, executor, request, payload(reader, request, budget), budget);
        return true;
    }

    /**
     * Whether {@code request}'s payload may be received into the device now ({@link ChannelInput#placeable}).
     * A TLS channel that receives it ahead waits for the client meanwhile, holding the request's
     * bytes of the in-flight budget and of the channels' budget for receiving ahead: watched as a
     * payload read into a buffer is ({@link #checkStall}), counting the socket's bytes. Before, a
     * client that sent a large WRITE's header and then nothing held both for good.
     */
    private boolean placeable(NbdRequest request) throws IOException {
        CountingReads reads = tlsReads;
        boolean watched = reads != null && in.receivesAhead(request.length());
        if (!watched) {
            return in.placeable(request.length());
        }
        writePending(); // as before a blocking read: a client that does not read them has not stopped
        placing = new Placement(request, reads.readSoFar(), false, true, System.nanoTime());
        try {
            return in.placeable(request.length());
        } finally {
            placing = null;
        }
    }

    /**
     * Reads a request's payload into a buffer (null when it has none); a failure gives back
     * {@code budget}. One not all received yet is watched as a payload
     * received into the device is ({@link #checkStall}): the buffer and the request's bytes of the
     * budget are held until it is in, so a client that stopped in the middle held them for good
     * (some 32 stalled 32 MiB WRITEs held the whole server-wide budget, and every other client's
     * large requests waited).
     */
    private ByteBuffer payload(RequestReader reader, NbdRequest request, long budget) throws IOException {
        boolean watched = request.payloadBytes() > in.bufferedBytes();
        try {
            if (watched) {
                // written first, as a blocking read would: a client that does not read them must
                // not pass for one that stopped sending (only this thread adds to them)
                writePending();
                placing = new Placement(request, in.receivedSoFar() - in.bufferedBytes(), false);
            }
            return reader.readPayload(request, pool);
        } catch (IOException | RuntimeException | Error e) { // an Error too: no memory for the buffer
            limiter.release(budget);
            throw e;
        } finally {
            if (watched) {
                placing = null;
            }
        }
    }

    /**
     * Serves a large WRITE here with its payload received straight into the device's space
     * ({@link pcache.api.BlockDevice#tryWriteFrom}), one copy and two thread hand-offs fewer than
     * through a buffer and a worker. The device takes all the space first, then has the payload
     * read into it, which may wait for the client: meanwhile that space (and a cache's request
     * gate) are held, so a client that sends less than {@link #PAYLOAD_MIN_PROGRESS} per payload
     * stall timeout in the middle is disconnected ({@link #checkStall}) and the device gives the
     * space back.
     *
     * @return true when the request was answered (its reply queued: done, or the device's error);
     *         false when it must take the buffered way (its payload untouched)
     * @throws IOException when the connection failed (then no reply was queued)
     */
    private boolean serveDirect(Session session, RequestExecutor executor, NbdRequest request)
            throws IOException {
        PayloadSource source = new PayloadSource(in, request.length());
        RequestExecutor.ReplyContent content = null;
        Throwable error = null;
        placing = new Placement(request, in.receivedSoFar() - in.bufferedBytes(), true);
        try {
            content = executor.tryWriteFrom(request, source);
        } catch (IOException | RuntimeException | Error e) {
            error = e;
        } finally {
            placing = null;
        }
        if (source.failure != null) {
            throw source.failure; // the connection broke inside the payload
        }
        if (error == null && content == null && source.taken == 0) {
            return false;
        }
        if (error == null && content != null && source.taken == request.length()) {
            pending.add(reply(content, null, 0));
            return true;
        }
        in.skip(request.length() - source.taken); // the stream goes on after the payload
        if (error != null) {
            failed(session, request, null, error, 0);
        } else {
            // a device that declines after taking bytes, or is done without all of them, breaks
            // tryWriteFrom's contract: the write is not acknowledged
            fail(session, request, NbdError.EIO, "the device " + (content == null ? "declined" : "accepted")
                    + " the write after taking " + source.taken + " of its " + request.length() + " payload bytes",
                    null, 0, Level.ERROR);
        }
        return true;
    }

    /** A WRITE's payload as the device asks for it, counting what it took. */
    private static final class PayloadSource implements pcache.api.BlockDevice.WriteSource {
        private final ChannelInput in;
        private final long length;
        long taken;
        /** Set when reading the connection failed: the stream is broken. */
        IOException failure;

        PayloadSource(ChannelInput in, long length) {
            this.in = in;
            this.length = length;
        }

        @Override
        public void fill(ByteBuffer dst) throws IOException {
            int want = dst.remaining();
            if (taken + want > length) {
                throw new IOException("the device asked for " + (taken + want) + " bytes of a " + length
                        + "-byte payload");
            }
            try {
                in.readFully(dst);
            } catch (IOException e) {
                failure = e;
                throw e;
            }
            taken += want;
        }
    }

    /**
     * Run by the server's timer now and then ({@code now}: {@link System#nanoTime}): disconnects
     * the client when, in the middle of a WRITE's payload, it has sent less than
     * {@link #PAYLOAD_MIN_PROGRESS} (or the rest of the payload, when less) within the payload
     * stall timeout: a client that stops, or trickles a few bytes now and then. What the payload
     * goes into is held until it is in (the device's space and its request gate, or a buffer and
     * the request's bytes of the budget); closing the socket ends the read and gives it back (the
     * write is not acknowledged). Once the whole payload has arrived, the time the device takes is
     * not the client's. Also logs the line for failed requests left out of the log, once it is due
     * ({@link FailureLog#due}).
     */
    void checkStall(long now) {
        FailureLog.Line failed = failures.due();
        if (failed != null) {
            LOG.log(failed.level(), "NBD client " + peer + ": " + failed.message());
        }
        Placement placement = placing;
        CountingReads reads = tlsReads;
        long received = placement != null && placement.ahead() && reads != null ? reads.readSoFar() : in.receivedSoFar();
        if (placement == null || placement != stallSeenPlacement) {
            stallSeenPlacement = placement;
            stallSeenReceived = received;
            stallSeenSince = now;
            return;
        }
        NbdRequest request = placement.request();
        java.time.Duration timeout = server.config.payloadStallTimeout();
        if (placement.ahead() && !closing && placing == placement) {
            // the socket's bytes may be records without data (empty or padded), which count as
            // progress below, and may reach the payload's length before its data has: bounded in
            // all, first, by the time a client sending only the least allowed per timeout would take
            long allowed = allowedAheadNanos(timeout, request.length());
            if (now - placement.startedNanos() > allowed) {
                LOG.log(Level.WARNING, () -> "NBD client " + peer + ": a WRITE's payload (" + request.length()
                        + " bytes at offset " + request.offset() + ") being received ahead by TLS has not arrived in "
                        + (now - placement.startedNanos()) / 1_000_000 + " ms, the longest " + PAYLOAD_MIN_PROGRESS / 1024
                        + " KiB per payload stall timeout (" + timeout.toMillis() + " ms) allows; it holds its bytes of"
                        + " the server's in-flight budget meanwhile; disconnecting, the write is not done"
                        + " (payload_stall_timeout_seconds of pcache.export.nbd)");
                abort();
                return;
            }
        }
        long from = placement.from();
        long missing = request.length() - (stallSeenReceived - from);
        long needed = Math.min(PAYLOAD_MIN_PROGRESS, missing);
        if (needed <= 0 || received - stallSeenReceived >= needed) {
            stallSeenReceived = received; // progress, or the payload is in and the device works on it
            stallSeenSince = now;
            return;
        }
        // closing: disconnected already (by an earlier look, or otherwise); it is warned about once
        if (now - stallSeenSince < timeout.toNanos() || placing != placement || closing) {
            return;
        }
        long sent = received - stallSeenReceived;
        long elapsedMillis = (now - stallSeenSince) / 1_000_000;
        long toCome = request.length() - Math.max(0, received - from);
        String least = needed == PAYLOAD_MIN_PROGRESS ? PAYLOAD_MIN_PROGRESS / 1024 + " KiB" : "rest";
        LOG.log(Level.WARNING, () -> "NBD client " + peer + ": sent " + sent + " bytes in the last " + elapsedMillis
                + " ms (timeout " + timeout.toMillis() + " ms) in the middle of a WRITE's payload ("
                + request.length() + " bytes at offset " + request.offset() + ", " + toCome + " still to come),"
                + " less than the " + least
                + " it must send in that time; the payload " + (placement.intoDevice()
                        ? "was being received straight into the cache and holds cache space meanwhile"
                        : placement.ahead()
                        ? "was being received ahead by TLS and holds its bytes of the server's in-flight budget"
                                + " meanwhile"
                        : "holds a buffer and its bytes of the server's in-flight budget meanwhile")
                + "; disconnecting, the write is not done (payload_stall_timeout_seconds of pcache.export.nbd)");
        abort();
    }

    /**
     * How long a payload received ahead may take in all: the payload stall timeout once for each
     * {@link #PAYLOAD_MIN_PROGRESS} of it, and once more (saturated, for a timeout meant as never).
     */
    static long allowedAheadNanos(java.time.Duration timeout, long length) {
        long times = 1 + (length + PAYLOAD_MIN_PROGRESS - 1) / PAYLOAD_MIN_PROGRESS;
        try {
            return Math.multiplyExact(timeout.toNanos(), times);
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    private boolean isUnixSocket() {
        try {
            return channel.getLocalAddress() instanceof java.net.UnixDomainSocketAddress;
        } catch (IOException e) {
            return false; // closed: nothing will be sent either way
        }
    }

    private boolean isInlineCandidate(NbdRequest request) {
        int max = server.config.inlineMaxBytes();
        if (max == 0) {
            return false;
        }
        NbdCommand command = request.command();
        return command == NbdCommand.FLUSH
                || ((command == NbdCommand.READ || command == NbdCommand.WRITE) && request.length() <= max);
    }

    /**
     * Takes the in-flight slot and {@code budget} bytes. Replies still pending here hold slots, so
     * they are written first whenever the wait could be for them.
     */
    private boolean acquire(long budget) throws IOException, InterruptedException {
        if (budget > 0 || limiter.requestsInFlightNow() >= server.config.maxInflightRequestsPerConnection()) {
            writePending();
        }
        return limiter.acquire(budget);
    }

    /**
     * Runs {@code request} here if the device can do it without waiting; its reply joins the
     * pending ones. False when a worker must run it ({@code data} is then untouched).
     */
    private boolean serveInPlace(Session session, RequestExecutor executor, NbdRequest request, ByteBuffer data)
            throws IOException {
        RequestExecutor.ReplyContent content;
        try {
            content = executor.tryExecute(request, data);
        } catch (IOException | RuntimeException | Error e) {
            failed(session, request, data, e, 0);
            return true;
        }
        if (content == null) {
            return false;
        }
        pending.add(reply(content, data, 0));
        if (request.command() == NbdCommand.WRITE) {
            servedWrites = true;
            Thread.yield();
        }
        pendingBytes += request.command() == NbdCommand.READ ? request.length() : 0;
        if (pending.size() >= MAX_PENDING_REPLIES || pendingBytes >= MAX_PENDING_BYTES) {
            writePending();
        }
        return true;
    }

    /**
     * Writes the replies of requests served in place, in one gathering write where possible. Runs
     * before every read of the channel, so replies never wait for the client's next request.
     */
    private void writePending() throws IOException {
        if (pending.isEmpty()) {
            return;
        }
        boolean yieldAfter = servedWrites;
        try {
            writer.writeNow(pending);
        } finally {
            clearPending();
        }
        if (yieldAfter) {
            Thread.yield();
        }
    }

    /**
     * {@link #writePending} for a request that holds its slot (no budget yet) and {@code data} (a
     * pooled payload, or null): when the write fails (the client gone) they are given back before
     * the failure goes on, as the request will never be answered.
     */
    private void writePendingHolding(ByteBuffer data) throws IOException {
        try {
            writePending();
        } catch (IOException | RuntimeException | Error e) {
            pool.release(data);
            limiter.release(0);
            throw e;
        }
    }

    /** The reader is leaving: pending replies will never be written. */
    private void dropPending() {
        for (OutgoingReply r : pending) {
            r.complete(false);
        }
        clearPending();
    }

    /** Forgets the pending replies (written or dropped) and what was counted of them. */
    private void clearPending() {
        pending.clear();
        pendingBytes = 0;
        servedWrites = false;
    }

    private void submit(Session session, RequestExecutor executor, NbdRequest request, ByteBuffer data, long budget) {
        Runnable task = () -> {
            RequestExecutor.ReplyContent content;
            try {
                content = executor.execute(request, data);
            } catch (IOException | RuntimeException | Error e) {
                // an Error too: a task that ended without a reply would leave the client waiting
                // forever and its slot and bytes taken from every connection's budget
                failed(session, request, data, e, budget);
                return;
            }
            writer.send(reply(content, data, budget));
        };
        try {
            workers.execute(task);
            server.requestQueued();
        } catch (RejectedExecutionException e) {
            pool.release(data);
            fail(session, request, NbdError.ESHUTDOWN, "the server is shutting down", null, budget, Level.INFO);
        }
    }

    /**
     * The reply carrying {@code content}; the request's payload {@code data} is given back now
     * unless the reply carries it, the reply's pooled buffer and {@code budget} once it is written.
     */
    private OutgoingReply reply(RequestExecutor.ReplyContent content, ByteBuffer data, long budget) {
        ByteBuffer pooled = content.pooled();
        if (pooled != data) {
            pool.release(data);
        }
        pcache.api.BlockDevice.ReadView view = content.view();
        return new OutgoingReply(sent -> {
            if (view != null) {
                view.close();
            }
            pool.release(pooled);
            limiter.release(budget);
        }, content.buffers());
    }

    /** The device threw while running {@code request}: gives back its payload and queues the error reply. */
    private void failed(Session session, NbdRequest request, ByteBuffer data, Throwable e, long budget) {
        pool.release(data);
        if (e instanceof IOException io) {
            fail(session, request, ErrorMapping.errorFor(request.command(), io), String.valueOf(e.getMessage()),
                    null, budget, Level.WARNING);
        } else if (e instanceof InternalError) {
            fail(session, request, NbdError.EIO, "a fault in the device's memory (" + e.getMessage() + "): a cache"
                    + " device whose medium fails, or whose file was truncated while mapped; check the cache's"
                    + " status and its device", e, budget, Level.ERROR);
        } else {
            fail(session, request, NbdError.EIO, "internal error: " + e, e, budget, Level.ERROR);
        }
    }

    /** Logs the failure (within {@link FailureLog}'s bounds), counts it and queues the error reply. */
    private void fail(Session session, NbdRequest request, NbdError error, String reason, Throwable cause,
                      long budget, Level level) {
        session.export().countError();
        // FAST_ZERO refusals are a routine probe by qemu-img and nbdcopy, not a problem.
        Level effective = error == NbdError.ENOTSUP ? Level.DEBUG : level;
        if (LOG.isLoggable(effective)) {
            String own = "NBD client " + peer + " export '" + session.export().name + "': " + request.describe()
                    + ": " + error + ": " + reason;
            FailureLog.Line line = failures.admit(effective, own);
            if (line != null && cause != null && line.message().equals(own)) {
                LOG.log(line.level(), line.message(), cause); // not on a line counting others
            } else if (line != null) {
                LOG.log(line.level(), line.message());
            }
        }
        writer.send(new OutgoingReply(sent -> limiter.release(budget),
                RequestExecutor.errorReply(request, session.structuredReplies(), error, reason)));
    }

    /** NBD_CMD_DISC: answer everything in flight, then close. */
    private void disconnectSoftly() throws InterruptedException {
        LOG.log(Level.DEBUG, () -> "NBD client " + peer + " sent NBD_CMD_DISC");
        limiter.awaitIdle(server.config.drainTimeout().toNanos());
        closeGracefully();
    }

    /**
     * Stops executing new requests (they get ESHUTDOWN from now on); requests already accepted
     * still run. Follow with {@link #awaitIdle} and {@link #closeGracefully}.
     *
     * <p>Race-free with the reader: it takes its in-flight slot first and reads this flag
     * afterwards, while the withdrawing side sets the flag first and then waits for the slots
     * to drain; so a request either is counted before the wait sees zero, or sees the flag.
     */
    void withdraw() {
        withdrawing = true;
    }

    /** Waits until every accepted request has been answered; true if that happened in time. */
    boolean awaitIdle(long timeoutNanos) throws InterruptedException {
        return limiter.awaitIdle(timeoutNanos);
    }

    int inflightRequests() {
        return limiter.requestsInFlight();
    }

    boolean isInTransmission() {
        return inTransmission;
    }

    /**
     * Writes out queued replies, then closes the connection (FIN first, so replies arrive; with
     * TLS, close_notify first when the writer is done, so nothing else writes at the same time).
     */
    void closeGracefully() {
        closeGracefully(System.nanoTime() + TimeUnit.SECONDS.toNanos(1));
    }

    /**
     * Takes no more replies: those queued are written, then the writer ends. The first step of
     * {@link #closeGracefully(long)}, for many connections at once: a server closing them one
     * after the other waited up to a second for each whose client stopped reading.
     */
    void finishReplies() {
        closing = true;
        ReplyWriter w = writer;
        if (w != null) {
            w.finish();
        }
    }

    /** Closes as {@link #closeGracefully()}, waiting for queued replies until {@code writerDeadline} ({@link System#nanoTime}). */
    void closeGracefully(long writerDeadline) {
        finishReplies();
        ReplyWriter w = writer;
        boolean writerDone = true;
        if (w != null) {
            try {
                writerDone = w.awaitFinished(Math.max(0, writerDeadline - System.nanoTime()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                writerDone = false;
            }
        }
        TlsChannel t = tls;
        if (t != null && writerDone) {
            // close_notify, then the socket; a client that stopped reading cannot hold us: the
            // socket is closed under a blocked write at the deadline (a server closing many
            // connections shares it: each of them had a second of its own), or 50 ms from now
            ScheduledFuture<?> bound = scheduleHardClose(Math.max(writerDeadline - System.nanoTime(),
                    TimeUnit.MILLISECONDS.toNanos(50)));
            try {
                t.close();
            } catch (IOException e) {
                // the client is gone already; the socket is closed below either way
            } finally {
                if (bound != null) {
                    bound.cancel(false);
                }
            }
        }
        try {
            channel.shutdownOutput();
        } catch (IOException e) {
            // already closed by the client (or by the TLS close); nothing to flush
        }
        limiter.close(); // a reader waiting for budget gives up
        closeChannel();
    }

    /** Closes the socket after {@code delayNanos} (bounds a TLS close_notify); null when the server is stopping. */
    private ScheduledFuture<?> scheduleHardClose(long delayNanos) {
        try {
            return server.scheduler.schedule(this::closeChannel, delayNanos, TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
            return null;
        }
    }

    /** Drops the connection at once (hard disconnect). */
    void abort() {
        closing = true;
        ReplyWriter w = writer;
        if (w != null) {
            w.abort();
        }
        limiter.close();
        closeChannel();
        // the socket is gone: no close_notify, but the TLS channel gives back what it holds now (the
        // certificate channel's receive-ahead share), not when the garbage collector finds it
        TlsChannel t = tls;
        if (t != null) {
            try {
                t.close();
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.DEBUG, () -> "NBD client " + peer + ": closing its TLS channel: " + e);
            }
        }
    }

    private void closeChannel() {
        try {
            channel.close();
        } catch (IOException e) {
            LOG.log(Level.DEBUG, () -> "NBD client " + peer + ": close failed: " + e);
        }
    }

    /** Runs on the reader thread when it ends, however it ends. */
    private void cleanUp() {
        ScheduledFuture<?> timeout = handshakeTimeout;
        if (timeout != null) {
            timeout.cancel(false);
        }
        // always: a close that came before the reply writer was started (a withdrawal, the
        // handshake timeout) closed the channel but could not stop the writer
        abort();
        limiter.close();
        try {
            // Workers still running this connection's requests use the export's device; wait
            // for them (bounded) before detaching so a withdrawal does not overtake them.
            if (!limiter.awaitIdle(server.config.drainTimeout().toNanos())) {
                LOG.log(Level.WARNING, () -> "NBD client " + peer + ": " + limiter.requestsInFlight()
                        + " request(s) still running on the device after the connection closed");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        FailureLog.Line leftOut = failures.remaining();
        if (leftOut != null) {
            LOG.log(leftOut.level(), "NBD client " + peer + ": " + leftOut.message());
        }
        Export e = export;
        if (e != null) {
            e.detach(this);
        }
        server.connectionEnded(this);
    }
}
