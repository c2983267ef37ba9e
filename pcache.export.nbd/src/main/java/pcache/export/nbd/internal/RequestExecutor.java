package pcache.export.nbd.internal;

import static pcache.api.nbd.NbdWire.CMD_FLAG_FUA;
import static pcache.api.nbd.NbdWire.CMD_FLAG_REQ_ONE;

import java.io.IOException;
import java.nio.ByteBuffer;

import pcache.api.BlockDevice;

/**
 * Executes validated requests against the export's device and builds the successful reply.
 * Device calls are synchronous and may block (a cache miss waits for the backing device), so
 * {@link #execute} runs on a worker thread; the connection's reader thread only calls
 * {@link #tryExecute}, which uses the device's non-waiting calls.
 */
final class RequestExecutor {
    /** Prefetch (NBD_CMD_CACHE) reads at most this much per request: it is only a hint. */
    static final int CACHE_PREFETCH_LIMIT_BYTES = 32 << 20;
    /** Prefetch reads go through one pooled buffer of this size. */
    static final int CACHE_PREFETCH_CHUNK_BYTES = 1 << 20;
    /**
     * READs of at least this many bytes are first offered to {@link BlockDevice#tryReadView}, so
     * the reply is sent straight from the device's memory. Below it, copying costs less than
     * what a view holds (for a cache: a pinned segment per hit, and one more buffer per write).
     */
    static final int READ_VIEW_MIN_BYTES = 64 << 10;

    /**
     * A reply ready to be written.
     *
     * @param buffers the bytes, in order
     * @param pooled a pooled buffer among them to give back once written, or null
     * @param view the device's view whose buffers are among them, to close once written, or null
     */
    record ReplyContent(ByteBuffer[] buffers, ByteBuffer pooled, BlockDevice.ReadView view) {
        ReplyContent(ByteBuffer[] buffers, ByteBuffer pooled) {
            this(buffers, pooled, null);
        }
    }

    private final Export export;
    private final BlockDevice device;
    private final boolean structuredReplies;
    private final BufferPool pool;
    private final BlockStatusReply blockStatus;
    /** Whether large READs are offered to {@link BlockDevice#tryReadView} on this connection. */
    private final boolean lendReads;

    RequestExecutor(Export export, boolean structuredReplies, MetaContexts metaContexts, BufferPool pool,
                    boolean lendReads) {
        this.lendReads = lendReads;
        this.export = export;
        this.device = export.device;
        this.structuredReplies = structuredReplies;
        this.pool = pool;
        this.blockStatus = new BlockStatusReply(device, metaContexts);
    }

    /** Bytes of the connection's in-flight budget a valid request holds while it runs. */
    static long budgetBytes(NbdRequest request) {
        NbdCommand command = request.command();
        if (command == NbdCommand.READ || command == NbdCommand.WRITE) {
            return request.length();
        }
        if (command == NbdCommand.CACHE) {
            return Math.min(request.length(), CACHE_PREFETCH_CHUNK_BYTES);
        }
        if (command == NbdCommand.BLOCK_STATUS) {
            return BlockStatusReply.maxReplyBytes(request.has(CMD_FLAG_REQ_ONE));
        }
        return 0;
    }

    /**
     * Runs {@code request}; {@code payload} is the WRITE data (null otherwise). Zero-length READ,
     * WRITE, TRIM, WRITE_ZEROES and CACHE succeed without touching the device: the spec leaves
     * them unspecified and asks servers not to disconnect.
     *
     * @throws IOException what the device threw; the caller maps it to an NBD error
     */
    ReplyContent execute(NbdRequest request, ByteBuffer payload) throws IOException {
        long offset = request.offset();
        int length = (int) request.length();
        boolean fua = request.has(CMD_FLAG_FUA);
        switch (request.command()) {
            case READ:
                return read(request, offset, length);
            case WRITE:
                if (length > 0) {
                    device.write(offset, payload, fua);
                    export.countWritten(length);
                }
                return done(request, payload);
            case FLUSH:
                device.flush();
                return done(request, null);
            case TRIM:
                if (request.length() > 0) { // a TRIM may cover 2 GiB or more: no int here
                    device.trim(offset, request.length());
                    if (fua) {
                        device.flush(); // trim has no FUA of its own; a flush covers it
                    }
                }
                return done(request, null);
            case WRITE_ZEROES:
                if (length != 0) {
                    device.writeZeroes(offset, request.length(), fua);
                }
                return done(request, null);
            case CACHE:
                prefetch(offset, request.length());
                return done(request, null);
            case BLOCK_STATUS:
                return new ReplyContent(blockStatus.reply(request), null);
            default:
                throw new IllegalStateException("not executable here: " + request.describe());
        }
    }

    /**
     * Runs {@code request} only if the device can do it without waiting ({@code tryRead},
     * {@code tryWrite}, {@code tryFlush}); null when it cannot (then nothing was done, the
     * payload's position is unchanged, and the request goes to {@link #execute}).
     *
     * @throws IOException what the device threw; the caller maps it to an NBD error
     */
    ReplyContent tryExecute(NbdRequest request, ByteBuffer payload) throws IOException {
        int length = (int) request.length();
        switch (request.command()) {
            case READ:
                return length == 0 ? read(request, request.offset(), 0) : tryRead(request, length);
            case WRITE:
                if (length > 0) {
                    if (!device.tryWrite(request.offset(), payload, request.has(CMD_FLAG_FUA))) {
                        return null;
                    }
                    export.countWritten(length);
                }
                return done(request, payload);
            case FLUSH:
                return device.tryFlush() ? done(request, null) : null;
            default:
                return null;
        }
    }

    /**
     * Runs a WRITE with its payload taken from {@code source} by the device
     * ({@link BlockDevice#tryWriteFrom}); null when the device would not (then {@code source}
     * was not called).
     */
    ReplyContent tryWriteFrom(NbdRequest request, BlockDevice.WriteSource source) throws IOException {
        int length = (int) request.length();
        if (!device.tryWriteFrom(request.offset(), length, request.has(CMD_FLAG_FUA), source)) {
            return null;
        }
        export.countWritten(length);
        return done(request, null);
    }

    private ReplyContent tryRead(NbdRequest request, int length) throws IOException {
        ReplyContent lent = viewReply(request, length);
        if (lent != null) {
            return lent;
        }
        ByteBuffer data = pool.acquire(length);
        boolean done = false;
        try {
            done = device.tryRead(request.offset(), data);
        } finally {
            if (!done) {
                pool.release(data);
            }
        }
        return done ? readReply(request, data) : null;
    }

    private ReplyContent read(NbdRequest request, long offset, int length) throws IOException {
        if (length == 0) {
            return new ReplyContent(new ByteBuffer[] {
                structuredReplies ? ReplyEncoder.noneDone(request.cookie()) : ReplyEncoder.simple(request.cookie(), 0)
            }, null);
        }
        ReplyContent lent = viewReply(request, length);
        if (lent != null) {
            return lent;
        }
        ByteBuffer data = pool.acquire(length);
        try {
            device.read(offset, data);
        } catch (IOException | RuntimeException e) {
            pool.release(data);
            throw e;
        }
        return readReply(request, data);
    }

    /**
     * The reply of a large READ sent from the device's own memory ({@link BlockDevice#tryReadView});
     * null when the connection does not lend reads, the read is small or the device would not
     * lend it (then it is copied as usual).
     */
    private ReplyContent viewReply(NbdRequest request, int length) throws IOException {
        if (!lendReads || length < READ_VIEW_MIN_BYTES) {
            return null;
        }
        BlockDevice.ReadView view = device.tryReadView(request.offset(), length);
        if (view == null) {
            return null;
        }
        ByteBuffer[] data = view.buffers();
        long lent = 0;
        for (ByteBuffer b : data) {
            lent += b.remaining();
        }
        if (lent != length) {
            view.close();
            throw new IOException("the device lent " + lent + " bytes for a " + length + "-byte read");
        }
        ByteBuffer[] buffers = new ByteBuffer[data.length + 1];
        buffers[0] = readHeader(request, length);
        System.arraycopy(data, 0, buffers, 1, data.length);
        return new ReplyContent(buffers, null, view);
    }

    /**
     * Counts a successful READ of {@code length} bytes and returns the header its data follows.
     * The whole read is done before the first byte goes out, so a failure is reported as an
     * error reply (never after a success header), and one chunk also satisfies DF.
     */
    private ByteBuffer readHeader(NbdRequest request, int length) {
        export.countRead(length);
        return structuredReplies
                ? ReplyEncoder.offsetDataHeader(request.cookie(), request.offset(), length)
                : ReplyEncoder.simple(request.cookie(), 0);
    }

    /** The reply carrying {@code data}, a pooled buffer filled up to its position. */
    private ReplyContent readReply(NbdRequest request, ByteBuffer data) {
        data.flip();
        return new ReplyContent(new ByteBuffer[] {readHeader(request, data.remaining()), data}, data);
    }

    /** NBD_CMD_CACHE: read the range (bounded) into a scratch buffer so the cache holds it. */
    private void prefetch(long offset, long length) throws IOException {
        long end = offset + Math.min(length, CACHE_PREFETCH_LIMIT_BYTES);
        if (end == offset) {
            return;
        }
        int chunk = (int) Math.min(CACHE_PREFETCH_CHUNK_BYTES, end - offset);
        ByteBuffer scratch = pool.acquire(chunk);
        try {
            for (long pos = offset; pos < end; pos += chunk) {
                scratch.clear().limit((int) Math.min(end - pos, chunk));
                device.read(pos, scratch);
            }
        } finally {
            pool.release(scratch);
        }
    }

    private ReplyContent done(NbdRequest request, ByteBuffer pooled) {
        return new ReplyContent(new ByteBuffer[] {ReplyEncoder.simple(request.cookie(), 0)}, pooled);
    }

    /** The error reply for a refused or failed request. */
    static ByteBuffer errorReply(NbdRequest request, boolean structuredReplies, NbdError error, String message) {
        return structuredReplies
                ? ReplyEncoder.errorDone(request.cookie(), error.wireValue, message)
                : ReplyEncoder.simple(request.cookie(), error.wireValue);
    }
}
