package pcache.backing.nbd.internal;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledThreadPoolExecutor;

import pcache.api.BackingDeviceException;
import pcache.api.BackingState;
import pcache.api.BackingUnavailableException;
import pcache.api.BlockDevice;
import pcache.api.BlockExtent;
import pcache.api.DeviceClosedException;
import pcache.api.ReadOnlyDeviceException;
import pcache.api.nbd.NbdWire;
import pcache.api.spi.BackingDevice;
import pcache.api.spi.BackingIdentity;
import pcache.api.tls.TlsEndpoint;
import pcache.io.log.Log;

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
 *
 * <h2>Pieces</h2>
 * This class checks callers' requests and chooses the NBD commands; {@link WireGeometry} holds
 * what the first handshake fixed, {@link RequestParts} cuts requests into parts,
 * {@link RequestPipeline} sends them pipelined and waits for them, {@link ReadModifyWrite}
 * patches partial blocks, and {@link ConnectionManager} owns the connection, the parked
 * requests and reconnecting.
 */
public final class NbdBackingDevice implements BackingDevice, AutoCloseable {

    private static final System.Logger LOG = Log.of(NbdBackingDevice.class);
    /** The largest range one block status request asks the server about. */
    private static final long MAX_BLOCK_STATUS_BYTES = 1L << 30;

    private final NbdSettings settings;
    private final String server;
    private final WireGeometry geometry;
    private final ExportInfo initialExport;
    private final ConnectionManager connections;

    /** Requests waiting for the next connection (tests). */
    int parkedCount() {
        return connections.parkedCount();
    }
    private final RequestParts parts;
    private final RequestPipeline pipeline;
    private final ReadModifyWrite readModifyWrite;

    private NbdBackingDevice(NbdSettings settings, WireGeometry geometry,
            ConnectionManager connections) {
        this.settings = settings;
        this.server = settings.uri().location();
        this.geometry = geometry;
        this.initialExport = geometry.export();
        this.connections = connections;
        this.parts = new RequestParts(geometry);
        this.pipeline = new RequestPipeline(settings, connections);
        this.readModifyWrite = new ReadModifyWrite(server, geometry, parts, pipeline);
    }

    /**
     * Connects to the clear-text export named by {@code settings} and returns the device, online.
     *
     * @throws NbdConnectException if the server cannot be reached or refuses (no retries here:
     *         callers that want to wait for a server retry this call)
     */
    public static NbdBackingDevice connect(NbdSettings settings) throws IOException {
        return connect(settings, null);
    }

    /**
     * Connects to the export named by {@code settings} and returns the device, online.
     *
     * @param tls the client's TLS credentials, loaded from {@code settings.tls()} and used by
     *        this and every later connection; null exactly when the URI is clear text
     * @throws NbdConnectException if the server cannot be reached or refuses, TLS included (no
     *         retries here: callers that want to wait for a server retry this call)
     */
    public static NbdBackingDevice connect(NbdSettings settings, TlsEndpoint tls)
            throws IOException {
        if ((settings.tls() != null) != (tls != null)) {
            throw new IllegalArgumentException(settings.name() + ": " + (tls == null
                    ? settings.uri().location() + " needs TLS credentials (a TlsEndpoint)"
                    : "TLS credentials for the clear-text " + settings.uri()));
        }
        ScheduledThreadPoolExecutor scheduler = ConnectionManager.newScheduler(settings.name());
        try {
            Connector.Link link = Connector.connect(settings.uri(), tls,
                    settings.connectTimeout(), scheduler);
            WireGeometry geometry;
            try {
                geometry = WireGeometry.of(settings.uri().location(), link.export());
            } catch (IOException e) {
                Connector.closeQuietly(link.channel());
                throw e;
            }
            NbdBackingDevice device = new NbdBackingDevice(settings, geometry,
                    new ConnectionManager(settings, tls, geometry, scheduler));
            device.attachFirst(link);
            return device;
        } catch (IOException | RuntimeException e) {
            scheduler.shutdownNow();
            throw e;
        }
    }

    private void attachFirst(Connector.Link link) {
        ExportInfo export = link.export();
        connections.attachFirst(link);
        String tls = link.tls() == null ? "" : ", " + link.tls().protocol() + " "
                + link.tls().cipherSuite() + (link.tls().peerIdentity() == null ? ""
                        : ", server " + link.tls().peerIdentity());
        LOG.log(Level.INFO, () -> settings.name() + ": connected to " + server + " ("
                + export.summary() + tls + ")");
        if (!export.canFlush() && !export.readOnly()) {
            LOG.log(Level.WARNING, settings.name() + ": " + server + " does not support "
                    + "NBD_CMD_FLUSH (no NBD_FLAG_SEND_FLUSH): flush() cannot make written data "
                    + "durable on this server, and data written back to it may be lost if the "
                    + "server crashes");
        }
        if (geometry.sizeBytes() != export.sizeBytes()) {
            LOG.log(Level.WARNING, settings.name() + ": the export size " + export.sizeBytes()
                    + " of " + server + " is not a multiple of " + geometry.alignment()
                    + " bytes; only the first " + geometry.sizeBytes() + " bytes are used");
        }
    }

    // ------------------------------------------------------------------ BlockDevice

    @Override
    public long sizeBytes() {
        return geometry.sizeBytes();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int length = dst.remaining();
        checkRange(offset, length);
        if (length == 0) {
            connections.checkUsable();
            return;
        }
        Deadline deadline = pipeline.newDeadline();
        int base = dst.position();
        long end = offset + length;
        pipeline.run(parts.reads(geometry.alignDown(offset), geometry.alignUp(end)), deadline,
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
        Deadline deadline = pipeline.newDeadline();
        ByteBuffer data = src.slice();
        int flags = fua && initialExport.canFua() ? NbdWire.CMD_FLAG_FUA : 0;
        EmulatedFua emulated = emulatedFua(fua, flags);
        if (geometry.sectorAligned()) {
            pipeline.run(parts.writes(offset, offset + length, data, 0, flags), deadline, emulated);
        } else {
            readModifyWrite.write(offset, length, data, flags, deadline, emulated);
        }
        src.position(src.position() + length);
        if (emulated != null) {
            emulated.complete("FUA write [" + offset + ", +" + length + ")", deadline);
        }
    }

    /** A FUA write's flush that stands in for FUA (the server lacks it), else null. */
    private EmulatedFua emulatedFua(boolean fua, int flags) {
        return fua && flags == 0 && initialExport.canFlush() ? new EmulatedFua() : null;
    }

    /**
     * FUA emulated where the server lacks it: as its parts are answered, where each was
     * acknowledged (not the parts themselves, which hold their payload's copies); then a flush
     * covers them, and each part must be covered by it or by another flush on the connection that
     * acknowledged it.
     */
    private final class EmulatedFua implements RequestPipeline.Sink {
        private final List<DurabilityTracker.Acknowledged> acknowledged = new ArrayList<>();

        @Override
        public void accept(NbdRequest part) {
            acknowledged.add(part.acknowledged());
        }

        void complete(String what, Deadline deadline) throws IOException {
            pipeline.flush(deadline);
            connections.checkFlushed(acknowledged, what);
        }
    }

    @Override
    public void flush() throws IOException {
        connections.checkUsable();
        if (!initialExport.canFlush()) {
            return; // nothing we can do; warned at connect (durableFlush() == false)
        }
        pipeline.flush(pipeline.newDeadline());
    }

    @Override
    public void trim(long offset, long length) throws IOException {
        checkRange(offset, length);
        checkWritable();
        if (!initialExport.canTrim()) {
            return; // trims are hints; a device may ignore them
        }
        long from = geometry.alignUp(offset);
        long to = geometry.alignDown(offset + length);
        if (from < to) {
            pipeline.run(parts.payloadless(NbdCommand.TRIM, from, to, 0), pipeline.newDeadline(), null);
        }
    }

    @Override
    public void writeZeroes(long offset, long length, boolean fua) throws IOException {
        checkRange(offset, length);
        checkWritable();
        if (length == 0) {
            return;
        }
        Deadline deadline = pipeline.newDeadline();
        int flags = fua && initialExport.canFua() ? NbdWire.CMD_FLAG_FUA : 0;
        EmulatedFua emulated = emulatedFua(fua, flags);
        if (geometry.sectorAligned()) {
            pipeline.run(parts.zeroes(offset, offset + length, flags), deadline, emulated);
        } else {
            readModifyWrite.write(offset, length, null, flags, deadline, emulated);
        }
        if (emulated != null) {
            emulated.complete("FUA write-zeroes [" + offset + ", +" + length + ")", deadline);
        }
    }

    /**
     * The server's {@code base:allocation} answer for the range (one BLOCK_STATUS of at most
     * 1 GiB), when the handshake selected that context; all data otherwise. Extents end on
     * sector boundaries: the answer stops before the first extent that does not (a sector of
     * mixed status is reported as data), and the caller asks again from there.
     */
    @Override
    public List<BlockExtent> blockStatus(long offset, long length, int maxExtents) throws IOException {
        checkRange(offset, length);
        if (length == 0) {
            throw new IllegalArgumentException(server + ": block status of an empty range at " + offset);
        }
        connections.checkUsable();
        if (!connections.canBlockStatus(initialExport)) {
            // the server (after a reconnect, maybe a restarted one) does not offer it: all data
            return List.of(new BlockExtent(offset, length, 0));
        }
        long end = offset + length;
        long from = geometry.alignDown(offset);
        long to = Math.min(geometry.alignUp(end), from + MAX_BLOCK_STATUS_BYTES);
        NbdRequest request = NbdRequest.payloadless(NbdCommand.BLOCK_STATUS, 0, from, (int) (to - from));
        pipeline.run(RequestParts.of(List.of(request)), pipeline.newDeadline(), null);
        if (request.extents == null) {
            throw new BackingDeviceException(server + " answered BLOCK_STATUS without a block status"
                    + " chunk (a simple reply, or none for base:allocation): it breaks the NBD protocol");
        }
        List<BlockExtent> out = new ArrayList<>();
        long pos = from;
        long reported = offset; // where the answer has got to
        for (long[] extent : request.extents) {
            long extentEnd = Math.min(end, pos + extent[0]);
            pos += extent[0];
            if (extentEnd <= reported) {
                continue;
            }
            int flags = (int) extent[1] & (BlockExtent.HOLE | BlockExtent.ZERO);
            long alignedEnd = extentEnd == end ? end : extentEnd & -SECTOR_SIZE;
            if (alignedEnd <= reported) {
                if (out.isEmpty()) {
                    out.add(new BlockExtent(reported, SECTOR_SIZE, 0));
                }
                break;
            }
            BlockExtent last = out.isEmpty() ? null : out.get(out.size() - 1);
            if (last != null && last.flags() == flags) {
                out.set(out.size() - 1, new BlockExtent(last.offset(), alignedEnd - last.offset(), flags));
            } else if (out.size() < Math.max(1, maxExtents)) {
                out.add(new BlockExtent(reported, alignedEnd - reported, flags));
            } else {
                break;
            }
            reported = alignedEnd;
            if (alignedEnd != extentEnd || reported >= end) {
                break;
            }
        }
        if (out.isEmpty()) {
            throw new BackingDeviceException(server + ": the block status reply for [" + offset + ", +" + length
                    + ") did not reach the range");
        }
        return out;
    }

    // ------------------------------------------------------------------ BackingDevice

    @Override
    public BackingIdentity identity() {
        return new BackingIdentity(geometry.sizeBytes(), settings.identityId());
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
        return connections.state();
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
        return connections.reconnectCount();
    }

    /**
     * Disconnects (NBD_CMD_DISC), closes the socket, stops reconnecting and fails waiting
     * requests with {@link DeviceClosedException}. Idempotent.
     */
    @Override
    public void close() {
        connections.close();
    }

    @Override
    public String toString() {
        return "NbdBackingDevice[" + settings.name() + " " + server + " " + state() + "]";
    }

    // ------------------------------------------------------------------ checks

    private void checkRange(long offset, long length) throws IOException {
        BlockDevice.checkRange(server, geometry.sizeBytes(), BlockDevice.SECTOR_SIZE, offset, length);
    }

    private void checkWritable() throws IOException {
        connections.checkUsable();
        if (initialExport.readOnly()) {
            throw new ReadOnlyDeviceException(server + ": the export is read-only (the server "
                    + "does not accept writes, trims or write-zeroes); serve it writable");
        }
    }
}
