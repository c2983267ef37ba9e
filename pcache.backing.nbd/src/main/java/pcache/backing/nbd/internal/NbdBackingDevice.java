package pcache.backing.nbd.internal;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

import pcache.api.BackingDeviceException;
import pcache.api.BackingState;
import pcache.api.BackingUnavailableException;
import pcache.api.BlockDevice;
import pcache.api.DeviceClosedException;
import pcache.api.ReadOnlyDeviceException;
import pcache.api.spi.BackingDevice;
import pcache.api.spi.BackingIdentity;
import pcache.api.nbd.NbdWire;

/**
 * A {@link BackingDevice} on a remote NBD export (design doc {@code nbd-protocol.md} §7.2).
 *
 * <h2>Requests</h2>
 * Callers' requests become NBD requests with unique cookies; any number are in flight on the
 * one connection, a sender thread writes them and a reader thread matches the replies.
 * READ/WRITE are split at the server's maximum payload (32 MiB when not advertised), TRIM and
 * WRITE_ZEROES at 1 GiB. Only commands and flags the server advertised are used: without
 * WRITE_ZEROES zeroes are written as data in 1 MiB pieces, without TRIM a trim does nothing,
 * without FUA a FUA write is followed by a FLUSH, and without FLUSH nothing can be made durable
 * ({@link #durableFlush()} is false and a warning is logged at connect). Callers always get
 * 512-byte granularity: if the server's minimum block is larger, unaligned heads and tails are
 * read, patched and written back, under a lock on the blocks involved so concurrent writers
 * cannot undo each other.
 *
 * <h2>Losing the connection</h2>
 * A socket error, EOF, ESHUTDOWN or a protocol violation starts a reconnect in the background,
 * with exponential back-off between attempts. Meanwhile {@link #state()} is
 * {@link BackingState#RECONNECTING} and requests wait; every request that had no reply is sent
 * again on the new connection (NBD reads and writes are idempotent) and only then completes. A
 * request that does not complete within {@code io_timeout_ms} fails with
 * {@link BackingUnavailableException}; if the server sent nothing at all during that time, the
 * connection is presumed dead and replaced the same way. A new connection must show the same export size,
 * capabilities and block constraints; otherwise the device refuses it, stays
 * {@link BackingState#FAILING} and fails every request.
 *
 * <h2>Durability across reconnects</h2>
 * A flush fails (with {@link BackingDeviceException}) when a connection was lost after a write
 * it must cover was acknowledged and before a flush covering that write was acknowledged: the
 * server may have restarted and lost its volatile cache, and a FLUSH on the new connection
 * proves nothing about it. The caller has to write the data again; see
 * {@link DurabilityTracker} for the exact rule. Writes with FUA are not affected.
 *
 * <h2>Timeouts on a live connection</h2>
 * NBD cannot cancel a request. A write that timed out may still be carried out by the server
 * later; callers must treat its range as unspecified until they write it again.
 */
public final class NbdBackingDevice implements BackingDevice, AutoCloseable {

    private static final System.Logger LOG = System.getLogger(NbdBackingDevice.class.getName());

    /** Largest TRIM or WRITE_ZEROES request we send (they carry no payload). */
    private static final int MAX_PAYLOADLESS_BYTES = 1 << 30;
    /** Zeroes for emulating WRITE_ZEROES; shared and never modified. */
    private static final byte[] ZEROES = new byte[1 << 20];
    /** Payload bytes of one caller's request in flight at once (bounds the private copies). */
    private static final long WINDOW_BYTES = 64L << 20;
    /** Parts of one caller's request in flight at once. */
    private static final int WINDOW_REQUESTS = 64;
    /** How long a lost connection's threads get to finish before the socket is closed. */
    private static final long GRACE_MILLIS = 1000;

    private final NbdSettings settings;
    private final String server;
    private final ExportInfo initialExport;
    private final long sizeBytes;
    /** Alignment of every request on the wire: max(512, the server's minimum block). */
    private final int alignment;
    /** Largest READ/WRITE on the wire. */
    private final int maxIoBytes;
    private final RangeLock blockLocks = new RangeLock();
    private final ScheduledThreadPoolExecutor scheduler;

    private final Object lock = new Object();
    // --- guarded by lock ---
    private NbdConnection current;
    private final List<NbdRequest> parked = new ArrayList<>();
    private final DurabilityTracker durability = new DurabilityTracker();
    private long cookies;
    private boolean closed;
    private String refusal;
    private NbdConnection lostConnection;
    private long lostAtNanos;
    private int attempts;
    private long backoffMillis;
    private String lastConnectError;
    private final AtomicInteger reconnects = new AtomicInteger();
    private volatile BackingState state = BackingState.ONLINE;

    private NbdBackingDevice(NbdSettings settings, Connector.Link link,
            ScheduledThreadPoolExecutor scheduler) throws NbdConnectException {
        this.settings = settings;
        this.server = settings.uri().toString();
        this.scheduler = scheduler;
        this.initialExport = link.export();
        this.alignment = Math.max(BlockDevice.SECTOR_SIZE, initialExport.minimumBlock());
        long maxPayload = Math.min(initialExport.maximumPayload(), NbdWire.MAX_PAYLOAD_BYTES);
        this.maxIoBytes = (int) alignDown(maxPayload, alignment);
        if (maxIoBytes < alignment) {
            throw new NbdConnectException(NbdConnectException.Reason.PROTOCOL, server
                    + ": the server's maximum payload " + maxPayload
                    + " is smaller than the block size " + alignment);
        }
        this.sizeBytes = alignDown(initialExport.sizeBytes(), alignment);
    }

    /**
     * Connects to the export named by {@code settings} and returns the device, online.
     *
     * @throws NbdConnectException if the server cannot be reached or refuses (no retries here:
     *         callers that want to wait for a server retry this call)
     */
    public static NbdBackingDevice connect(NbdSettings settings) throws IOException {
        AtomicInteger threads = new AtomicInteger();
        ScheduledThreadPoolExecutor scheduler = new ScheduledThreadPoolExecutor(2, r -> {
            Thread t = new Thread(r, "pcache-nbd-" + settings.name() + "-reconnect-"
                    + threads.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        scheduler.setRemoveOnCancelPolicy(true);
        try {
            Connector.Link link = Connector.connect(settings.uri(), settings.connectTimeout(),
                    scheduler);
            NbdBackingDevice device;
            try {
                device = new NbdBackingDevice(settings, link, scheduler);
            } catch (IOException e) {
                Connector.closeQuietly(link.channel());
                throw e;
            }
            device.attachFirst(link);
            return device;
        } catch (IOException | RuntimeException e) {
            scheduler.shutdownNow();
            throw e;
        }
    }

    private void attachFirst(Connector.Link link) {
        ExportInfo export = link.export();
        synchronized (lock) {
            current = new NbdConnection(settings.name(), server, link, listener);
            current.start();
        }
        LOG.log(Level.INFO, () -> settings.name() + ": connected to " + server + " ("
                + export.summary() + ")");
        if (!export.canFlush() && !export.readOnly()) {
            LOG.log(Level.WARNING, settings.name() + ": " + server + " does not support "
                    + "NBD_CMD_FLUSH (no NBD_FLAG_SEND_FLUSH): flush() cannot make written data "
                    + "durable on this server, and data written back to it may be lost if the "
                    + "server crashes");
        }
        if (sizeBytes != export.sizeBytes()) {
            LOG.log(Level.WARNING, settings.name() + ": the export size " + export.sizeBytes()
                    + " of " + server + " is not a multiple of " + alignment + " bytes; only the "
                    + "first " + sizeBytes + " bytes are used");
        }
    }

    // ------------------------------------------------------------------ BlockDevice

    @Override
    public long sizeBytes() {
        return sizeBytes;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int length = dst.remaining();
        checkRange(offset, length);
        if (length == 0) {
            checkUsable();
            return;
        }
        Deadline deadline = newDeadline();
        int base = dst.position();
        long end = offset + length;
        runParts(readParts(alignDown(offset, alignment), alignUp(end, alignment)), deadline,
                part -> {
                    long from = Math.max(part.offset, offset);
                    long to = Math.min(part.offset + part.length, end);
                    if (from < to) {
                        dst.put(base + (int) (from - offset), part.payload,
                                (int) (from - part.offset), (int) (to - from));
                    }
                });
        dst.position(base + length);
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        int length = src.remaining();
        checkRange(offset, length);
        checkWritable();
        if (length == 0) {
            return;
        }
        Deadline deadline = newDeadline();
        ByteBuffer data = src.slice();
        int flags = fua && initialExport.canFua() ? NbdWire.CMD_FLAG_FUA : 0;
        if (alignment == BlockDevice.SECTOR_SIZE) {
            runParts(writeParts(offset, offset + length, data, 0, flags), deadline, null);
        } else {
            try (RangeLock.Held held = lockBlocks(offset, offset + length, deadline)) {
                writeBlocks(offset, length, data, flags, deadline);
            }
        }
        src.position(src.position() + length);
        if (fua && flags == 0 && initialExport.canFlush()) {
            flush(deadline); // FUA emulated: the flush covers this acknowledged write
        }
    }

    @Override
    public void flush() throws IOException {
        checkUsable();
        if (!initialExport.canFlush()) {
            return; // nothing we can do; warned at connect (durableFlush() == false)
        }
        flush(newDeadline());
    }

    @Override
    public void trim(long offset, long length) throws IOException {
        checkRange(offset, length);
        checkWritable();
        if (!initialExport.canTrim()) {
            return; // trims are hints; a device may ignore them
        }
        long from = alignUp(offset, alignment);
        long to = alignDown(offset + length, alignment);
        if (from < to) {
            runParts(payloadlessParts(NbdCommand.TRIM, from, to, 0), newDeadline(), null);
        }
    }

    @Override
    public void writeZeroes(long offset, long length, boolean fua) throws IOException {
        checkRange(offset, length);
        checkWritable();
        if (length == 0) {
            return;
        }
        Deadline deadline = newDeadline();
        int flags = fua && initialExport.canFua() ? NbdWire.CMD_FLAG_FUA : 0;
        if (alignment == BlockDevice.SECTOR_SIZE) {
            runParts(zeroParts(offset, offset + length, flags), deadline, null);
        } else {
            try (RangeLock.Held held = lockBlocks(offset, offset + length, deadline)) {
                writeBlocks(offset, length, null, flags, deadline);
            }
        }
        if (fua && flags == 0 && initialExport.canFlush()) {
            flush(deadline);
        }
    }

    // ------------------------------------------------------------------ BackingDevice

    @Override
    public BackingIdentity identity() {
        return new BackingIdentity(sizeBytes, settings.identityId());
    }

    @Override
    public String description() {
        StringBuilder text = new StringBuilder(server);
        if (initialExport.readOnly()) {
            text.append(" (read-only)");
        } else if (!initialExport.canFlush()) {
            text.append(" (flush not durable: the server does not support NBD_CMD_FLUSH)");
        }
        return text.toString();
    }

    @Override
    public BackingState state() {
        return state;
    }

    /**
     * Whether {@link #flush()} really makes data durable: false when the server does not
     * advertise NBD_FLAG_SEND_FLUSH.
     */
    public boolean durableFlush() {
        return initialExport.canFlush();
    }

    /** The configured name. */
    public String name() {
        return settings.name();
    }

    /** What the handshake of the first connection reported. */
    ExportInfo export() {
        return initialExport;
    }

    /** Number of successful reconnects so far. */
    int reconnectCount() {
        return reconnects.get();
    }

    /**
     * Disconnects (NBD_CMD_DISC), closes the socket, stops reconnecting and fails waiting
     * requests with {@link DeviceClosedException}. Idempotent.
     */
    @Override
    public void close() {
        List<NbdRequest> waiting = new ArrayList<>();
        NbdConnection connection;
        NbdConnection lost;
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            state = BackingState.UNAVAILABLE;
            connection = current;
            current = null;
            lost = lostConnection;
            lostConnection = null;
            waiting.addAll(parked);
            parked.clear();
            if (connection != null) {
                waiting.addAll(connection.drainUnanswered());
            }
        }
        DeviceClosedException closing = closedException();
        for (NbdRequest request : waiting) {
            request.abandon(closing);
        }
        if (connection != null) {
            connection.disconnect(GRACE_MILLIS);
        }
        if (lost != null) {
            lost.awaitThreads(0);
        }
        scheduler.shutdownNow();
        try {
            scheduler.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        LOG.log(Level.INFO, () -> settings.name() + ": disconnected from " + server);
    }

    @Override
    public String toString() {
        return "NbdBackingDevice[" + settings.name() + " " + server + " " + state + "]";
    }

    // ------------------------------------------------------------------ request plumbing

    /** Produces the parts of one caller request, lazily; null when there are no more. */
    private interface PartSource {
        NbdRequest next();
    }

    /** Consumes completed parts in order. */
    private interface PartSink {
        void accept(NbdRequest part) throws IOException;
    }

    /**
     * Sends the parts of one caller request pipelined, at most {@link #WINDOW_REQUESTS} and
     * {@link #WINDOW_BYTES} of payload at a time, and waits for all of them. If one fails, the
     * others are abandoned (never re-sent) and the failure is thrown.
     */
    private void runParts(PartSource parts, Deadline deadline, PartSink sink) throws IOException {
        ArrayDeque<NbdRequest> window = new ArrayDeque<>();
        long windowBytes = 0;
        try {
            for (NbdRequest part = parts.next(); part != null; part = parts.next()) {
                while (!window.isEmpty() && (window.size() >= WINDOW_REQUESTS
                        || windowBytes + part.payloadBytes() > WINDOW_BYTES)) {
                    NbdRequest done = window.removeFirst();
                    windowBytes -= done.payloadBytes();
                    await(done, deadline);
                    if (sink != null) {
                        sink.accept(done);
                    }
                }
                dispatch(part);
                window.addLast(part);
                windowBytes += part.payloadBytes();
            }
            while (!window.isEmpty()) {
                NbdRequest done = window.removeFirst();
                await(done, deadline);
                if (sink != null) {
                    sink.accept(done);
                }
            }
        } catch (IOException | RuntimeException e) {
            for (NbdRequest left : window) {
                left.abandon(new BackingDeviceException(server + ": " + left + " abandoned because "
                        + "another part of the same request failed"));
            }
            throw e;
        }
    }

    private PartSource readParts(long from, long to) {
        long[] next = {from};
        return () -> {
            if (next[0] >= to) {
                return null;
            }
            int length = (int) Math.min(maxIoBytes, to - next[0]);
            NbdRequest part = NbdRequest.read(next[0], length);
            next[0] += length;
            return part;
        };
    }

    /** WRITE parts for {@code [from, to)}; byte {@code from} is {@code data[dataIndex]}. */
    private PartSource writeParts(long from, long to, ByteBuffer data, int dataIndex, int flags) {
        long[] next = {from};
        return () -> {
            if (next[0] >= to) {
                return null;
            }
            int length = (int) Math.min(maxIoBytes, to - next[0]);
            byte[] copy = new byte[length]; // private copy: see NbdRequest
            data.get(dataIndex + (int) (next[0] - from), copy, 0, length);
            NbdRequest part = NbdRequest.write(next[0], flags, copy, 0, length);
            next[0] += length;
            return part;
        };
    }

    private PartSource zeroParts(long from, long to, int flags) {
        if (initialExport.canWriteZeroes()) {
            return payloadlessParts(NbdCommand.WRITE_ZEROES, from, to, flags);
        }
        int chunk = (int) Math.min(ZEROES.length, maxIoBytes);
        long[] next = {from};
        return () -> {
            if (next[0] >= to) {
                return null;
            }
            int length = (int) Math.min(chunk, to - next[0]);
            NbdRequest part = NbdRequest.write(next[0], flags, ZEROES, 0, length);
            next[0] += length;
            return part;
        };
    }

    private PartSource payloadlessParts(NbdCommand command, long from, long to, int flags) {
        int chunk = (int) alignDown(MAX_PAYLOADLESS_BYTES, alignment);
        long[] next = {from};
        return () -> {
            if (next[0] >= to) {
                return null;
            }
            int length = (int) Math.min(chunk, to - next[0]);
            NbdRequest part = NbdRequest.payloadless(command, flags, next[0], length);
            next[0] += length;
            return part;
        };
    }

    private static PartSource concat(PartSource first, PartSource second) {
        boolean[] firstDone = {false};
        return () -> {
            if (!firstDone[0]) {
                NbdRequest part = first.next();
                if (part != null) {
                    return part;
                }
                firstDone[0] = true;
            }
            return second.next();
        };
    }

    /**
     * Writes {@code [offset, offset + length)} (data, or zeroes when {@code data} is null) to a
     * server whose blocks are larger than 512 bytes: partial blocks at the head and tail are
     * read, patched and written whole. The caller holds the block lock of the whole range.
     */
    private void writeBlocks(long offset, long length, ByteBuffer data, int flags, Deadline deadline)
            throws IOException {
        long end = offset + length;
        long firstFull = alignUp(offset, alignment);
        long lastFull = alignDown(end, alignment);
        List<Long> partial = new ArrayList<>(2);
        if (firstFull > lastFull) {
            partial.add(lastFull); // head and tail in one block
        } else {
            if (offset != firstFull) {
                partial.add(firstFull - alignment);
            }
            if (end != lastFull) {
                partial.add(lastFull);
            }
        }
        List<NbdRequest> blocks = new ArrayList<>(2);
        int[] i = {0};
        runParts(() -> i[0] < partial.size() ? NbdRequest.read(partial.get(i[0]++), alignment)
                : null, deadline, blocks::add);
        for (NbdRequest block : blocks) {
            long from = Math.max(block.offset, offset);
            long to = Math.min(block.offset + alignment, end);
            int at = (int) (from - block.offset);
            if (data == null) {
                Arrays.fill(block.payload, at, at + (int) (to - from), (byte) 0);
            } else {
                data.get((int) (from - offset), block.payload, at, (int) (to - from));
            }
        }
        int[] j = {0};
        PartSource patched = () -> j[0] < blocks.size()
                ? NbdRequest.write(blocks.get(j[0]).offset, flags, blocks.get(j[0]++).payload, 0,
                        alignment)
                : null;
        PartSource middle = firstFull >= lastFull ? () -> null
                : data == null ? zeroParts(firstFull, lastFull, flags)
                : writeParts(firstFull, lastFull, data, (int) (firstFull - offset), flags);
        runParts(concat(patched, middle), deadline, null);
    }

    private RangeLock.Held lockBlocks(long from, long to, Deadline deadline) throws IOException {
        long start = alignDown(from, alignment);
        long end = alignUp(to, alignment);
        try {
            RangeLock.Held held = blockLocks.lock(start, end, deadline.remainingNanosOrMax());
            if (held == null) {
                throw new BackingUnavailableException(server + ": could not lock blocks [" + start
                        + ", " + end + ") for read-modify-write within " + deadline.elapsedMillis()
                        + " ms (io_timeout_ms); another write to them is stuck");
            }
            return held;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException(server + ": interrupted while waiting to write ["
                    + from + ", " + to + ")");
        }
    }

    private void flush(Deadline deadline) throws IOException {
        NbdRequest flush = NbdRequest.payloadless(NbdCommand.FLUSH, 0, 0, 0);
        synchronized (lock) {
            flush.flushTicket = durability.flushStarted();
        }
        try {
            dispatch(flush);
            await(flush, deadline);
        } finally {
            synchronized (lock) {
                durability.flushFinished(flush.flushTicket);
            }
        }
    }

    /** Hands a request to the live connection, or parks it while reconnecting. */
    private void dispatch(NbdRequest request) throws IOException {
        synchronized (lock) {
            if (closed) {
                throw closedException();
            }
            if (refusal != null) {
                throw new BackingDeviceException(refusal);
            }
            if (current != null) {
                current.submit(request, ++cookies);
            } else {
                if (parked.size() >= 1024 && Integer.bitCount(parked.size()) == 1) {
                    parked.removeIf(NbdRequest::isDone); // callers that timed out
                }
                parked.add(request);
            }
        }
    }

    private void await(NbdRequest request, Deadline deadline) throws IOException {
        try {
            if (deadline.unbounded()) {
                request.completion.get();
            } else {
                request.completion.get(Math.max(0, deadline.remainingNanos()), TimeUnit.NANOSECONDS);
            }
        } catch (TimeoutException e) {
            BackingUnavailableException timeout = timedOut(request, deadline);
            if (request.abandon(timeout)) {
                dropSilentConnection();
                throw timeout;
            }
            outcome(request); // it completed just now
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            InterruptedIOException interrupted = new InterruptedIOException(server
                    + ": interrupted while waiting for " + request);
            request.abandon(interrupted);
            throw interrupted;
        } catch (ExecutionException e) {
            throw asIOException(e.getCause());
        }
    }

    /**
     * A request timed out. If the server has sent nothing at all for a whole io_timeout while
     * requests wait, the connection is presumed dead (a vanished host leaves a TCP connection
     * open for hours): drop it and reconnect, which re-sends the other waiting requests.
     */
    private void dropSilentConnection() {
        NbdConnection connection;
        synchronized (lock) {
            connection = current;
        }
        long timeoutNanos = settings.ioTimeout().toNanos();
        if (connection != null && timeoutNanos > 0 && connection.inFlightCount() > 0
                && connection.silenceNanos() >= timeoutNanos) {
            connection.fail(new BackingDeviceException(server + ": the server sent nothing for "
                    + TimeUnit.NANOSECONDS.toMillis(connection.silenceNanos()) + " ms while "
                    + "requests were waiting (io_timeout_ms " + settings.ioTimeout().toMillis()
                    + "); presumed dead"), false);
        }
    }

    private void outcome(NbdRequest request) throws IOException {
        try {
            request.completion.getNow(null);
        } catch (java.util.concurrent.CompletionException e) {
            throw asIOException(e.getCause());
        }
    }

    private IOException asIOException(Throwable cause) {
        if (cause instanceof IOException io) {
            return io;
        }
        return new BackingDeviceException(server + ": " + cause, cause);
    }

    private BackingUnavailableException timedOut(NbdRequest request, Deadline deadline) {
        String why;
        synchronized (lock) {
            if (state == BackingState.RECONNECTING) {
                why = "the connection was lost " + TimeUnit.NANOSECONDS.toMillis(
                        System.nanoTime() - lostAtNanos) + " ms ago and " + attempts
                        + " reconnect attempt(s) failed"
                        + (lastConnectError == null ? "" : "; last error: " + lastConnectError);
            } else {
                why = "the server did not answer";
            }
        }
        return new BackingUnavailableException(server + ": " + request + " did not complete within "
                + deadline.elapsedMillis() + " ms (io_timeout_ms " + settings.ioTimeout().toMillis()
                + "); " + why);
    }

    private Deadline newDeadline() {
        return new Deadline(System.nanoTime(), settings.ioTimeout().toNanos());
    }

    /** When a caller's request must be done by; a zero timeout waits forever. */
    private record Deadline(long startNanos, long timeoutNanos) {
        boolean unbounded() {
            return timeoutNanos == 0;
        }

        long remainingNanos() {
            return startNanos + timeoutNanos - System.nanoTime();
        }

        long remainingNanosOrMax() {
            return unbounded() ? Long.MAX_VALUE : Math.max(0, remainingNanos());
        }

        long elapsedMillis() {
            return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
        }
    }

    // ------------------------------------------------------------------ checks

    private void checkRange(long offset, long length) throws IOException {
        BlockDevice.checkRange(server, sizeBytes, BlockDevice.SECTOR_SIZE, offset, length);
    }

    private void checkUsable() throws IOException {
        synchronized (lock) {
            if (closed) {
                throw closedException();
            }
            if (refusal != null) {
                throw new BackingDeviceException(refusal);
            }
        }
    }

    private void checkWritable() throws IOException {
        checkUsable();
        if (initialExport.readOnly()) {
            throw new ReadOnlyDeviceException(server + ": the export is read-only (the server "
                    + "does not accept writes, trims or write-zeroes); serve it writable");
        }
    }

    private DeviceClosedException closedException() {
        return new DeviceClosedException(server + ": the NBD backing device '" + settings.name()
                + "' is closed");
    }

    private static long alignDown(long value, int alignment) {
        return value & -alignment;
    }

    private static long alignUp(long value, int alignment) {
        return (value + alignment - 1) & -alignment;
    }

    // ------------------------------------------------------------------ connection events

    private final NbdConnection.Listener listener = new NbdConnection.Listener() {
        @Override
        public void replied(NbdConnection connection, NbdRequest request, IOException error) {
            IOException failure = error;
            synchronized (lock) {
                if (connection.isLost()) {
                    return; // it stays unanswered and is sent again after the reconnect
                }
                connection.answered(request);
                if (error == null) {
                    boolean fua = (request.flags & NbdWire.CMD_FLAG_FUA) != 0;
                    if ((request.command == NbdCommand.WRITE
                            || request.command == NbdCommand.WRITE_ZEROES) && !fua) {
                        durability.writeAcknowledged(connection.durability);
                    } else if (request.command == NbdCommand.FLUSH && request.flushTicket != null) {
                        String lossReason = durability.flushAcknowledged(connection.durability,
                                request.coverageAtSend, request.flushTicket);
                        if (lossReason != null) {
                            failure = new BackingDeviceException(server + ": flush failed: "
                                    + lossReason);
                        }
                    }
                }
            }
            if (failure == null) {
                request.completion.complete(null);
            } else {
                request.completion.completeExceptionally(failure);
            }
        }

        @Override
        public void flushSending(NbdConnection connection, NbdRequest flush) {
            synchronized (lock) {
                flush.coverageAtSend = durability.acknowledgedSoFar();
            }
        }

        @Override
        public void lost(NbdConnection connection, IOException cause) {
            int waiting;
            synchronized (lock) {
                if (connection != current) {
                    return;
                }
                current = null;
                durability.connectionLost(connection.durability, cause.getMessage());
                parked.addAll(0, connection.drainUnanswered());
                waiting = parked.size();
                if (closed) {
                    return;
                }
                state = BackingState.RECONNECTING;
                lostConnection = connection;
                lostAtNanos = System.nanoTime();
                attempts = 0;
                backoffMillis = settings.reconnectInitialBackoff().toMillis();
                lastConnectError = null;
                schedule(0);
            }
            LOG.log(Level.WARNING, settings.name() + ": " + cause.getMessage() + "; reconnecting, "
                    + waiting + " request(s) wait for the new connection");
        }
    };

    /** Schedules a reconnect attempt; the caller holds the lock. */
    private void schedule(long delayMillis) {
        try {
            scheduler.schedule(this::reconnectAttempt, delayMillis, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            // only after close(), which shuts the scheduler down
        }
    }

    private void reconnectAttempt() {
        NbdConnection old;
        synchronized (lock) {
            if (closed || state != BackingState.RECONNECTING) {
                return;
            }
            old = lostConnection;
            lostConnection = null;
            attempts++;
        }
        if (old != null) {
            old.awaitThreads(GRACE_MILLIS); // nothing of it may touch a request we re-send
        }
        Connector.Link link;
        try {
            link = Connector.connect(settings.uri(), settings.connectTimeout(), scheduler);
        } catch (NbdConnectException e) {
            retryLater(e);
            return;
        }
        String incompatible = incompatibility(link.export());
        if (incompatible != null) {
            refuse(link, incompatible);
            return;
        }
        NbdConnection connection = new NbdConnection(settings.name(), server, link, listener);
        int resent = 0;
        long downMillis;
        synchronized (lock) {
            if (closed) {
                Connector.closeQuietly(link.channel());
                return;
            }
            current = connection;
            connection.start();
            for (NbdRequest request : parked) {
                if (!request.isDone()) {
                    connection.submit(request, ++cookies);
                    resent++;
                }
            }
            parked.clear();
            state = BackingState.ONLINE;
            downMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - lostAtNanos);
        }
        reconnects.incrementAndGet();
        int count = resent;
        LOG.log(Level.INFO, () -> settings.name() + ": reconnected to " + server + " after "
                + downMillis + " ms (" + attempts + " attempt(s)); re-sent " + count + " request(s)");
    }

    private void retryLater(NbdConnectException e) {
        boolean news;
        synchronized (lock) {
            if (closed) {
                return;
            }
            news = !e.getMessage().equals(lastConnectError);
            lastConnectError = e.getMessage();
            long delay = backoffMillis;
            backoffMillis = Math.min(backoffMillis * 2, settings.reconnectMaxBackoff().toMillis());
            schedule(delay);
        }
        LOG.log(news ? Level.WARNING : Level.DEBUG, () -> settings.name()
                + ": reconnect attempt failed: " + e.getMessage());
    }

    /** Why a new connection cannot replace the old one, or null if it can. */
    private String incompatibility(ExportInfo now) {
        ExportInfo was = initialExport;
        if (now.sizeBytes() != was.sizeBytes()) {
            return "the export size changed from " + was.sizeBytes() + " to " + now.sizeBytes()
                    + " bytes, so it is probably not the same disk";
        }
        if (now.readOnly() && !was.readOnly()) {
            return "the export became read-only";
        }
        if ((was.canFlush() && !now.canFlush()) || (was.canFua() && !now.canFua())
                || (was.canTrim() && !now.canTrim())
                || (was.canWriteZeroes() && !now.canWriteZeroes())) {
            return "the server no longer offers all of the commands it offered before (was: "
                    + was.summary() + "; now: " + now.summary() + ")";
        }
        if (now.minimumBlock() > alignment || now.maximumPayload() < maxIoBytes) {
            return "the server's block size constraints became stricter (now minimum "
                    + now.minimumBlock() + ", maximum payload " + now.maximumPayload() + ")";
        }
        return null;
    }

    private void refuse(Connector.Link link, String reason) {
        List<NbdRequest> waiting;
        String message = server + ": refusing the reconnected server: " + reason + "; the "
                + "backing device '" + settings.name() + "' stays failed until it is reconfigured";
        synchronized (lock) {
            if (closed) {
                Connector.closeQuietly(link.channel());
                return;
            }
            refusal = message;
            state = BackingState.FAILING;
            waiting = new ArrayList<>(parked);
            parked.clear();
        }
        Connector.disconnect(link);
        BackingDeviceException failure = new BackingDeviceException(message);
        for (NbdRequest request : waiting) {
            request.abandon(failure);
        }
        LOG.log(Level.ERROR, message);
    }
}
