package pcache.backing.nbd.internal;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import pcache.api.BackingUnavailableException;

/**
 * Writes with 512-byte granularity to a server whose blocks are larger: partial blocks at the
 * head and tail of a range are read, patched and written whole, under a lock on the blocks
 * involved so that concurrent writers cannot undo each other.
 */
final class ReadModifyWrite {

    private final String server;
    private final WireGeometry geometry;
    private final RequestParts parts;
    private final RequestPipeline pipeline;
    private final RangeLock blockLocks = new RangeLock();

    ReadModifyWrite(String server, WireGeometry geometry, RequestParts parts,
            RequestPipeline pipeline) {
        this.server = server;
        this.geometry = geometry;
        this.parts = parts;
        this.pipeline = pipeline;
    }

    /**
     * Writes {@code [offset, offset + length)}: {@code data} from its index 0, or zeroes when
     * {@code data} is null; {@code written}, if not null, gets each write sent once it is answered.
     */
    void write(long offset, long length, ByteBuffer data, int flags, Deadline deadline,
            RequestPipeline.Sink written) throws IOException {
        pipeline.checkUsable(); // a refused or closed device fails at once, not after waiting for its blocks
        RangeLock.Held held = lockBlocks(offset, offset + length, deadline);
        List<NbdRequest> patched = new ArrayList<>(2);
        try {
            writeBlocks(offset, length, data, flags, deadline, patched, written);
        } catch (IOException | RuntimeException | Error e) {
            // a patched block given up on (a timeout) may still land, with the old bytes of the
            // sectors around this write in it: its blocks stay locked until it is answered or its
            // connection ends, or a write to those sectors in between would be undone by it.
            // Before, the lock went at once, and an acknowledged write to a neighbouring sector
            // could be lost. (A server that had read it before the connection ended may still
            // carry it out: NBD cannot fence an old connection.)
            CompletableFuture.allOf(patched.stream().filter(r -> r.dispatched).map(r -> r.settled)
                    .toArray(CompletableFuture[]::new))
                    .whenComplete((ignored, failure) -> held.close());
            throw e;
        }
        held.close();
    }

    /** The caller holds the block lock of the whole range; {@code patched} gets the patched blocks' writes. */
    private void writeBlocks(long offset, long length, ByteBuffer data, int flags, Deadline deadline,
            List<NbdRequest> patched, RequestPipeline.Sink written) throws IOException {
        int alignment = geometry.alignment();
        long end = offset + length;
        long firstFull = geometry.alignUp(offset);
        long lastFull = geometry.alignDown(end);
        List<NbdRequest> blocks = new ArrayList<>(2);
        pipeline.run(RequestParts.of(partialBlockReads(offset, end)), deadline, blocks::add);
        for (NbdRequest block : blocks) {
            long from = Math.max(block.offset, offset);
            long to = Math.min(block.offset + alignment, end);
            int at = (int) (from - block.offset);
            if (data == null) {
                Arrays.fill(block.payload, at, at + (int) (to - from), (byte) 0);
            } else {
                data.get((int) (from - offset), block.payload, at, (int) (to - from));
            }
            patched.add(NbdRequest.write(block.offset, flags, block.payload, 0, alignment));
        }
        RequestParts.Source middle = firstFull >= lastFull ? () -> null
                : data == null ? parts.zeroes(firstFull, lastFull, flags)
                : parts.writes(firstFull, lastFull, data, (int) (firstFull - offset), flags);
        pipeline.run(RequestParts.concat(RequestParts.of(patched), middle), deadline, written);
    }

    /** READs of the blocks that {@code [offset, end)} covers only in part (at most two). */
    private List<NbdRequest> partialBlockReads(long offset, long end) {
        int alignment = geometry.alignment();
        long firstFull = geometry.alignUp(offset);
        long lastFull = geometry.alignDown(end);
        List<NbdRequest> reads = new ArrayList<>(2);
        if (firstFull > lastFull) {
            reads.add(NbdRequest.read(lastFull, alignment)); // head and tail in one block
        } else {
            if (offset != firstFull) {
                reads.add(NbdRequest.read(firstFull - alignment, alignment));
            }
            if (end != lastFull) {
                reads.add(NbdRequest.read(lastFull, alignment));
            }
        }
        return reads;
    }

    private RangeLock.Held lockBlocks(long from, long to, Deadline deadline) throws IOException {
        long start = geometry.alignDown(from);
        long end = geometry.alignUp(to);
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
}
