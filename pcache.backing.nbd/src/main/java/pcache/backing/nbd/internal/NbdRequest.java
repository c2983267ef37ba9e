package pcache.backing.nbd.internal;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import pcache.api.nbd.NbdWire;

/**
 * One request on the wire and its completion. It owns its payload: a WRITE carries a private
 * copy of the caller's bytes, a READ a private destination, so a request that is re-sent after a
 * reconnect, or answered after its caller gave up, never touches a buffer the caller has
 * already got back.
 *
 * <p>A request may be sent several times (once per connection that was lost before it was
 * answered); it completes exactly once.
 */
final class NbdRequest {

    final NbdCommand command;
    /** Command flags on the wire (FUA). */
    final int flags;
    final long offset;
    /** Length on the wire. */
    final int length;
    /** WRITE: the bytes to send; READ: where the reply's data goes; else null. */
    final byte[] payload;
    /** Index of the first payload byte in {@link #payload}. */
    final int payloadOffset;
    /** Completes normally on success, exceptionally with the caller's exception. */
    final CompletableFuture<Void> completion = new CompletableFuture<>();
    /**
     * Completes once the client can know no more of the request: it was answered, dropped unsent
     * after its caller gave up, or its connection ended (reset: what the server had not read yet
     * is gone; a request the server had read may still be carried out, which NBD cannot fence).
     * A request its caller gave up on may land any time before.
     */
    final CompletableFuture<Void> settled = new CompletableFuture<>();
    /** Set once handed to a connection or parked for the next one: only then is it settled some day. */
    volatile boolean dispatched;

    // --- per send; guarded by the device lock (written before the connection sees it) ---
    /** Cookie of the current send. */
    long cookie;
    /** FLUSH: the durability ticket taken when the flush started. */
    DurabilityTracker.FlushTicket flushTicket;
    /** FLUSH: acknowledged writes covered when it went on the wire. */
    long coverageAtSend;
    /**
     * WRITE, WRITE_ZEROES without FUA, once acknowledged: the connection that acknowledged it and
     * its number in the device's sequence of acknowledged writes; null before, or for others.
     */
    DurabilityTracker.Acknowledged acknowledged;

    // --- reply reassembly; only the current connection's reader thread touches these ---
    /** Content bytes received so far for a structured READ reply. */
    long bytesReceived;
    /** First error chunk (or malformed chunk) of a structured reply. */
    IOException replyError;
    /** A structured chunk of the reply came: a simple reply can no longer end it. */
    boolean chunkReceived;
    /** The server answered ESHUTDOWN: resend on the next connection instead of failing. */
    boolean serverShuttingDown;
    /**
     * BLOCK_STATUS: the {@code base:allocation} descriptors received, as {length, flags};
     * null until they come.
     */
    List<long[]> extents;
    /** Content ranges received so far (start to end, relative to {@link #offset}); null until the first. */
    private TreeMap<Long, Long> received;

    NbdRequest(NbdCommand command, int flags, long offset, int length, byte[] payload,
            int payloadOffset) {
        this.command = command;
        this.flags = flags;
        this.offset = offset;
        this.length = length;
        this.payload = payload;
        this.payloadOffset = payloadOffset;
    }

    static NbdRequest read(long offset, int length) {
        return new NbdRequest(NbdCommand.READ, 0, offset, length, new byte[length], 0);
    }

    static NbdRequest write(long offset, int flags, byte[] data, int dataOffset, int length) {
        return new NbdRequest(NbdCommand.WRITE, flags, offset, length, data, dataOffset);
    }

    static NbdRequest payloadless(NbdCommand command, int flags, long offset, int length) {
        return new NbdRequest(command, flags, offset, length, null, 0);
    }

    /** What became of a content chunk ({@link #recordContent}). */
    enum Content {
        RECORDED,
        /** It overlaps content already received: the spec forbids that. */
        OVERLAPS,
        /** It would be one piece too many apart from every other (see {@link #MAX_SEPARATE_PIECES}). */
        SCATTERED
    }

    /**
     * Most separate content ranges a READ reply may have received at once. Adjacent ranges are
     * joined, so a server that sends its chunks in order, or fills the gaps it left, never nears
     * it; one that answers 32 MiB in one-byte chunks at every other byte (the spec only says
     * chunks SHOULD be aligned) would otherwise keep tens of millions of ranges, gigabytes of heap.
     */
    static final int MAX_SEPARATE_PIECES = 65_536;

    /**
     * Records a content chunk for [{@code from}, {@code to}) relative to {@link #offset} and
     * counts its bytes, joining it to the ranges it touches. Records nothing if it overlaps
     * content already received (counting bytes alone would then take a reply that left part of
     * the request unfilled for complete) or if it would make one separate range too many.
     */
    Content recordContent(long from, long to) {
        if (from == to) {
            return Content.RECORDED;
        }
        if (received == null) {
            received = new TreeMap<>();
        }
        Map.Entry<Long, Long> before = received.floorEntry(from);
        if (before != null && before.getValue() > from) {
            return Content.OVERLAPS;
        }
        Map.Entry<Long, Long> after = received.ceilingEntry(from);
        if (after != null && after.getKey() < to) {
            return Content.OVERLAPS;
        }
        boolean joinsBefore = before != null && before.getValue() == from;
        boolean joinsAfter = after != null && after.getKey() == to;
        if (!joinsBefore && !joinsAfter && received.size() >= MAX_SEPARATE_PIECES) {
            return Content.SCATTERED;
        }
        long start = joinsBefore ? before.getKey() : from;
        long end = to;
        if (joinsAfter) {
            received.remove(after.getKey());
            end = after.getValue();
        }
        received.put(start, end);
        bytesReceived += to - from;
        return Content.RECORDED;
    }

    /** Separate content ranges received so far (tests). */
    int separatePieces() {
        return received == null ? 0 : received.size();
    }

    /** Prepares a (re)send: forgets what a previous connection delivered. */
    void resetReply() {
        received = null;
        bytesReceived = 0;
        replyError = null;
        chunkReceived = false;
        serverShuttingDown = false;
        extents = null;
    }

    /** Gives up on this request; returns false if it had already completed. */
    boolean abandon(IOException reason) {
        return completion.completeExceptionally(reason);
    }

    boolean isDone() {
        return completion.isDone();
    }

    /** Marks the request off the wire for good (see {@link #settled}). */
    void settle() {
        settled.complete(null);
    }

    /** Where this write was acknowledged (read once it completed), or null. */
    DurabilityTracker.Acknowledged acknowledged() {
        return acknowledged;
    }

    /** Number of payload bytes this request carries on the wire or holds (for windowing). */
    int payloadBytes() {
        return payload == null ? 0 : length;
    }

    @Override
    public String toString() {
        boolean ranged = command != NbdCommand.FLUSH && command != NbdCommand.DISC;
        return command + (ranged ? " [" + offset + ", +" + length + ")" : "")
                + ((flags & NbdWire.CMD_FLAG_FUA) != 0 ? " FUA" : "");
    }
}
