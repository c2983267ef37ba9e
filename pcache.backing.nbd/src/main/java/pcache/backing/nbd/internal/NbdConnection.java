package pcache.backing.nbd.internal;

import static pcache.api.nbd.NbdWire.*;

import java.io.EOFException;
import java.io.IOException;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import pcache.api.BackingDeviceException;
import pcache.io.Printable;
import pcache.io.log.Log;

/**
 * One NBD connection in the transmission phase: a sender thread that writes queued requests
 * (one writer, so requests never interleave on the wire, and bursts go out in one system call)
 * and a reader thread that matches replies to requests by cookie, so any number of requests can
 * be in flight and answered in any order (design doc §3.2–3.4).
 *
 * <p>The connection does not decide what a reply means for the device: it hands every complete
 * reply and the loss of the connection to its {@link Listener}.
 */
final class NbdConnection {

    private static final System.Logger LOG = Log.of(NbdConnection.class);
    /** The most BLOCK_STATUS descriptors one reply keeps (a reply may list far more). */
    static final int MAX_EXTENTS_KEPT = 65_536;

    /** What the device learns from a connection. */
    interface Listener {
        /**
         * A complete reply for {@code request} arrived; {@code error} is null on success.
         * Called on the reader thread.
         */
        void replied(NbdConnection connection, NbdRequest request, IOException error);

        /** The connection is lost; called once, from whichever thread noticed. */
        void lost(NbdConnection connection, IOException cause);

        /** Called on the sender thread just before a FLUSH goes on the wire. */
        void flushSending(NbdConnection connection, NbdRequest flush);
    }

    /** Queue marker: send NBD_CMD_DISC, then close. */
    private static final Object DISCONNECT = new Object();
    /** Queue marker: stop sending. */
    private static final Object STOP = new Object();

    private final String server;
    private final Connector.Link link;
    private final Listener listener;
    private final Map<Long, NbdRequest> inFlight = new ConcurrentHashMap<>();
    private final BlockingQueue<Object> sendQueue = new LinkedBlockingQueue<>();
    private final AtomicBoolean lost = new AtomicBoolean();
    /** When the last reply chunk arrived (or the connection started). */
    private volatile long lastReplyNanos = System.nanoTime();
    private final Thread reader;
    private final Thread sender;
    /** Durability bookkeeping; guarded by the device lock. */
    final DurabilityTracker.ConnectionRecord durability = new DurabilityTracker.ConnectionRecord();

    NbdConnection(String name, String server, Connector.Link link, Listener listener) {
        this.server = server;
        this.link = link;
        this.listener = listener;
        this.reader = new Thread(this::readLoop, "pcache-nbd-" + name + "-reader");
        this.sender = new Thread(this::sendLoop, "pcache-nbd-" + name + "-sender");
        reader.setDaemon(true);
        sender.setDaemon(true);
    }

    void start() {
        reader.start();
        sender.start();
    }

    ExportInfo export() {
        return link.export();
    }

    boolean isLost() {
        return lost.get();
    }

    /**
     * Queues {@code request} under {@code cookie}. The caller holds the device lock, so
     * {@link #drainUnanswered()} sees either all or none of it.
     */
    void submit(NbdRequest request, long cookie) {
        request.cookie = cookie;
        request.resetReply();
        if (inFlight.isEmpty()) {
            // silence is counted while requests wait, not through the idle time before them
            lastReplyNanos = System.nanoTime();
        }
        inFlight.put(cookie, request);
        sendQueue.add(request);
    }

    /** The request was answered; forget it (caller holds the device lock). */
    void answered(NbdRequest request) {
        inFlight.remove(request.cookie, request);
    }

    /** Removes and returns every request without a reply (caller holds the device lock). */
    List<NbdRequest> drainUnanswered() {
        List<NbdRequest> unanswered = new ArrayList<>(inFlight.values());
        inFlight.clear();
        unanswered.sort((a, b) -> Long.compare(a.cookie, b.cookie));
        return unanswered;
    }

    int inFlightCount() {
        return inFlight.size();
    }

    /** Nanoseconds since the server last sent anything on this connection. */
    long silenceNanos() {
        return System.nanoTime() - lastReplyNanos;
    }

    /**
     * Declares the connection lost and tells the listener (once). A soft loss first sends
     * NBD_CMD_DISC (the server asked us to go with ESHUTDOWN); a hard one closes the socket.
     */
    void fail(IOException cause, boolean soft) {
        if (!lost.compareAndSet(false, true)) {
            return;
        }
        if (soft) {
            sendQueue.add(DISCONNECT);
        } else {
            Connector.abort(link.channel()); // requests in the socket's queue must never arrive late
        }
        sendQueue.add(STOP);
        listener.lost(this, cause);
    }

    /**
     * Ends a healthy connection: NBD_CMD_DISC, then close, without telling the listener.
     * Waits at most {@code graceMillis} for the sender to get DISC out.
     */
    void disconnect(long graceMillis) {
        if (lost.compareAndSet(false, true)) {
            sendQueue.add(DISCONNECT);
            sendQueue.add(STOP);
        }
        awaitThreads(graceMillis);
    }

    /**
     * Waits for both threads to end, closing the socket after {@code graceMillis} if they have
     * not (a stuck send). Afterwards nothing of this connection touches any request.
     */
    void awaitThreads(long graceMillis) {
        try {
            if (graceMillis > 0) {
                sender.join(graceMillis); // join(0) would wait for good
            }
            Connector.closeQuietly(link.channel());
            sender.join(TimeUnit.SECONDS.toMillis(5));
            reader.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            Connector.closeQuietly(link.channel());
        }
    }

    // ------------------------------------------------------------------ sending

    private void sendLoop() {
        WireOutput out = link.out();
        try {
            while (true) {
                Object item = sendQueue.take();
                do {
                    if (item == STOP) {
                        out.flush();
                        return;
                    }
                    if (item == DISCONNECT) {
                        writeHeader(out, NbdCommand.DISC, 0, 0, 0, 0);
                        out.flush();
                        Connector.closeAfterDisconnect(link);
                        return;
                    }
                    NbdRequest request = (NbdRequest) item;
                    if (!lost.get()) {
                        send(out, request);
                    }
                    item = sendQueue.poll();
                } while (item != null);
                out.flush();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            if (!lost.get()) {
                fail(new BackingDeviceException(server + ": the sender was interrupted"), false);
            }
        } catch (IOException e) {
            if (!lost.get()) {
                fail(new BackingDeviceException(server + ": sending to the server failed: "
                        + describe(e), e), false);
            }
        } catch (RuntimeException | Error e) {
            // a sender that ended without failing the connection would leave its requests unsent
            // and their callers waiting (for good with io_timeout_ms 0)
            fail(new BackingDeviceException(server + ": sending failed: " + e, e), false);
            LOG.log(System.Logger.Level.ERROR, "NBD sender to " + server + " failed", e);
        }
    }

    private void send(WireOutput out, NbdRequest request) throws IOException {
        if (request.isDone()) {
            // abandoned (timed out) before it was sent: never send it
            inFlight.remove(request.cookie, request);
            request.settle();
            return;
        }
        if (request.command == NbdCommand.FLUSH) {
            listener.flushSending(this, request);
        }
        writeHeader(out, request.command, request.flags, request.cookie, request.offset,
                request.length);
        if (request.command == NbdCommand.WRITE) {
            out.put(request.payload, request.payloadOffset, request.length);
        }
    }

    private static void writeHeader(WireOutput out, NbdCommand command, int flags, long cookie,
            long offset, int length) throws IOException {
        out.putInt(REQUEST_MAGIC).putShort(flags).putShort(command.wireType).putLong(cookie)
                .putLong(offset).putInt(length);
    }

    // ------------------------------------------------------------------ receiving

    private void readLoop() {
        WireInput in = link.in();
        try {
            while (!lost.get()) {
                int magic = in.readInt();
                lastReplyNanos = System.nanoTime();
                if (magic == SIMPLE_REPLY_MAGIC) {
                    readSimpleReply(in);
                } else if (magic == STRUCTURED_REPLY_MAGIC) {
                    readStructuredChunk(in);
                } else {
                    throw new ProtocolViolation(String.format(
                            "sent a reply with magic 0x%08x (neither simple nor structured)", magic));
                }
            }
        } catch (ProtocolViolation e) {
            fail(new BackingDeviceException(server + " broke the NBD protocol: it "
                    + e.getMessage() + "; disconnected", e), false);
        } catch (IOException e) {
            if (!lost.get()) {
                fail(new BackingDeviceException(server + ": " + describe(e), e), false);
            }
        } catch (RuntimeException | Error e) {
            fail(new BackingDeviceException(server + ": reply handling failed: " + e, e), false);
            LOG.log(System.Logger.Level.ERROR, "NBD reader of " + server + " failed", e);
        }
    }

    private NbdRequest lookup(long cookie) throws ProtocolViolation {
        NbdRequest request = inFlight.get(cookie);
        if (request == null) {
            throw new ProtocolViolation("answered cookie " + cookie + ", which is not in flight");
        }
        return request;
    }

    private void readSimpleReply(WireInput in) throws IOException {
        int error = in.readInt();
        NbdRequest request = lookup(in.readLong());
        // the framing is still known (a simple reply carries a successful READ's data): the
        // request fails alone, as libnbd does, and the connection and its unflushed writes stay
        String broken = request.chunkReceived
                // its structured reply may have carried an error a simple "done" would hide
                ? "sent a simple reply to " + request + " after structured chunks of its reply"
                : request.command == NbdCommand.READ && link.export().structuredReplies()
                        ? "answered " + request + " with a simple reply, though structured replies were agreed,"
                                + " which a READ's reply must then be"
                        : null;
        if (error == 0 && request.command == NbdCommand.READ) {
            in.readFully(request.payload, request.payloadOffset, request.length);
        }
        if (broken != null) {
            deliver(request, new BackingDeviceException(server + " broke the NBD protocol: it " + broken
                    + " (a broken server: check it)"));
            return;
        }
        finish(request, error, "");
    }

    private void readStructuredChunk(WireInput in) throws IOException {
        int flags = in.readUnsignedShort();
        int type = in.readUnsignedShort();
        NbdRequest request = lookup(in.readLong());
        if (!link.export().structuredReplies()) {
            throw new ProtocolViolation("sent a structured reply chunk for " + request
                    + ", though structured replies were not agreed");
        }
        request.chunkReceived = true;
        long length = in.readUnsignedInt();
        switch (type) {
            case CHUNK_NONE -> {
                if (length != 0) {
                    throw new ProtocolViolation("sent a NONE chunk with " + length + " bytes");
                }
                if ((flags & REPLY_FLAG_DONE) == 0) {
                    throw new ProtocolViolation("sent a NONE chunk without the DONE flag");
                }
            }
            case CHUNK_OFFSET_DATA -> readData(in, request, length);
            case CHUNK_OFFSET_HOLE -> readHole(in, request, length);
            case CHUNK_BLOCK_STATUS -> readBlockStatus(in, request, length);
            default -> {
                if ((type & CHUNK_ERROR_BIT) == 0) {
                    // spec: a client that sees an unknown non-error chunk type MUST hard-disconnect
                    throw new ProtocolViolation("sent a structured reply chunk of unknown type "
                            + type + " for " + request);
                }
                readError(in, request, type, length);
            }
        }
        if ((flags & REPLY_FLAG_DONE) != 0) {
            if (request.replyError == null && request.command == NbdCommand.READ
                    && request.bytesReceived != request.length) {
                request.replyError = new BackingDeviceException(server + ": the reply to "
                        + request + " covered " + request.bytesReceived + " of " + request.length
                        + " bytes");
            }
            if (request.replyError == null && request.command == NbdCommand.BLOCK_STATUS
                    && request.extents == null) {
                request.replyError = new BackingDeviceException(server + ": the reply to " + request
                        + " had no extents for " + Handshake.META_BASE_ALLOCATION);
            }
            if (request.serverShuttingDown) {
                finish(request, NbdErrors.ESHUTDOWN, "");
            } else {
                deliver(request, request.replyError);
            }
        }
    }

    private void readData(WireInput in, NbdRequest request, long length) throws IOException {
        if (length < 8) {
            throw new ProtocolViolation("sent an OFFSET_DATA chunk of " + length + " bytes");
        }
        long offset = in.readLong();
        long dataLength = length - 8;
        if (!contentFits(request, offset, dataLength) || !recordContent(request, offset, dataLength)) {
            in.skip(dataLength);
            return;
        }
        in.readFully(request.payload, request.payloadOffset + (int) (offset - request.offset),
                (int) dataLength);
    }

    /**
     * A BLOCK_STATUS chunk: the descriptors of the connection's {@code base:allocation} context
     * are kept (the first chunk for it), those of any other context skipped.
     */
    private void readBlockStatus(WireInput in, NbdRequest request, long length) throws IOException {
        if (request.command != NbdCommand.BLOCK_STATUS) {
            throw new ProtocolViolation("sent a BLOCK_STATUS chunk for " + request);
        }
        if (length < 12 || (length - 4) % 8 != 0) {
            throw new ProtocolViolation("sent a BLOCK_STATUS chunk of " + length + " bytes");
        }
        long context = in.readUnsignedInt();
        int count = (int) ((length - 4) / 8);
        if (context != link.export().baseAllocationContext() || request.extents != null) {
            in.skip(length - 4);
            return;
        }
        List<long[]> extents = new ArrayList<>(Math.min(count, 1024));
        long covered = 0;
        for (int i = 0; i < count; i++) {
            long extentLength = in.readUnsignedInt();
            int flags = in.readInt();
            if (extentLength == 0 && request.replyError == null) {
                request.replyError = new BackingDeviceException(server + ": the reply to " + request
                        + " holds an extent of length 0");
            }
            // kept until they cover the request, and no more than MAX_EXTENTS_KEPT: a chunk may
            // announce up to 2^29 descriptors, which kept whole would fill the heap; the rest are
            // read and dropped (a server may always answer with less than the range asked)
            if (covered < request.length && extents.size() < MAX_EXTENTS_KEPT) {
                extents.add(new long[] {extentLength, flags});
                covered += extentLength;
            }
        }
        request.extents = extents;
    }

    private void readHole(WireInput in, NbdRequest request, long length) throws IOException {
        if (length != 12) {
            throw new ProtocolViolation("sent an OFFSET_HOLE chunk of " + length + " bytes");
        }
        long offset = in.readLong();
        long size = in.readUnsignedInt();
        if (!contentFits(request, offset, size) || !recordContent(request, offset, size)) {
            return;
        }
        int from = request.payloadOffset + (int) (offset - request.offset);
        Arrays.fill(request.payload, from, from + (int) size, (byte) 0);
    }

    /**
     * Counts a content chunk; one overlapping content already received, or one too many apart
     * from the rest, fails the request.
     */
    private boolean recordContent(NbdRequest request, long offset, long size) {
        long from = offset - request.offset;
        NbdRequest.Content content = request.recordContent(from, from + size);
        if (content == NbdRequest.Content.RECORDED) {
            return true;
        }
        if (request.replyError == null) {
            request.replyError = new BackingDeviceException(server + " answered " + request + " with content for ["
                    + offset + ", +" + size + ") " + (content == NbdRequest.Content.OVERLAPS
                            ? "overlapping content it already sent"
                            : "apart from the " + NbdRequest.MAX_SEPARATE_PIECES + " separate pieces it had already"
                                    + " sent, more than pcache keeps for one reply; the server scatters its replies"
                                    + " (a broken or hostile server: check it)"));
        }
        return false;
    }

    /** Content chunks must belong to a READ and lie inside it; otherwise the request fails. */
    private boolean contentFits(NbdRequest request, long offset, long size) {
        if (request.command == NbdCommand.READ && offset >= request.offset
                && size <= request.length && offset - request.offset <= request.length - size) {
            return true;
        }
        if (request.replyError == null) {
            request.replyError = new BackingDeviceException(server + " answered " + request
                    + " with content for [" + offset + ", +" + size + "), outside the request");
        }
        return false;
    }

    private void readError(WireInput in, NbdRequest request, int type, long length)
            throws IOException {
        if (length < 6) {
            throw new ProtocolViolation("sent an error chunk of " + length + " bytes");
        }
        int error = in.readInt();
        int messageLength = in.readUnsignedShort();
        if (messageLength > length - 6) {
            throw new ProtocolViolation("sent an error chunk whose message (" + messageLength
                    + " bytes) is longer than the chunk");
        }
        // the server's own words: shown escaped and cut short, never as lines of their own
        String message = Printable.of(new String(in.readBytes(messageLength), StandardCharsets.UTF_8));
        long rest = length - 6 - messageLength;
        String where = "";
        if (type == CHUNK_ERROR_OFFSET && rest >= 8) {
            where = " at offset " + in.readLong();
            rest -= 8;
        }
        in.skip(rest);
        if (error == NbdErrors.ESHUTDOWN) {
            request.serverShuttingDown = true;
        } else if (request.replyError == null) {
            request.replyError = NbdErrors.toException(error == 0 ? NbdErrors.EINVAL : error,
                    server, request.toString(), message + where);
        }
    }

    private void finish(NbdRequest request, int error, String message) {
        if (error == NbdErrors.ESHUTDOWN) {
            // the request stays in flight and is sent again after the reconnect
            fail(new BackingDeviceException(server + " is shutting down (it answered " + request
                    + " with ESHUTDOWN)"), true);
            return;
        }
        deliver(request, error == 0 ? null
                : NbdErrors.toException(error, server, request.toString(), message));
    }

    private void deliver(NbdRequest request, IOException error) {
        listener.replied(this, request, error);
    }

    private static String describe(IOException e) {
        if (e instanceof EOFException) {
            return "the server closed the connection";
        }
        if (e instanceof AsynchronousCloseException || e instanceof ClosedChannelException) {
            return "the connection was closed";
        }
        String message = e.getMessage();
        return "connection error: " + (message == null ? e.getClass().getSimpleName() : message);
    }

    /** The server broke a MUST of the protocol; the stream cannot be trusted any more. */
    private static final class ProtocolViolation extends IOException {
        private static final long serialVersionUID = 1L;

        ProtocolViolation(String message) {
            super(message);
        }
    }
}
