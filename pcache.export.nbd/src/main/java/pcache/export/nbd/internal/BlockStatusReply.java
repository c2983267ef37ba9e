package pcache.export.nbd.internal;

import static pcache.api.nbd.NbdWire.CMD_FLAG_REQ_ONE;
import static pcache.export.nbd.internal.NbdProtocol.DIRTY_STATE_DIRTY;
import static pcache.export.nbd.internal.NbdProtocol.MAX_BLOCK_STATUS_EXTENTS;
import static pcache.export.nbd.internal.NbdProtocol.META_BASE_ALLOCATION_ID;
import static pcache.export.nbd.internal.NbdProtocol.META_PCACHE_DIRTY_ID;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

import pcache.api.BlockDevice;
import pcache.api.BlockExtent;
import pcache.api.CacheDevice;

/**
 * Answers BLOCK_STATUS (design doc §3.6): one BLOCK_STATUS chunk per selected metadata context,
 * in id order, the last one flagged DONE. {@code base:allocation} is the device's
 * {@link BlockDevice#blockStatus} ({@link BlockExtent#HOLE} and {@link BlockExtent#ZERO} are
 * NBD's bits); {@code pcache:dirty} is the cache's {@link CacheDevice#dirtyStatus}, with
 * {@link BlockExtent#DIRTY} sent as bit 0. Each chunk holds at most
 * {@value NbdProtocol#MAX_BLOCK_STATUS_EXTENTS} extents, one with REQ_ONE, and may end before the
 * requested length (the client asks again from there), as the protocol allows.
 */
final class BlockStatusReply {

    private final BlockDevice device;
    private final MetaContexts contexts;

    /** Contexts a reply can answer at most: {@code base:allocation} and {@code pcache:dirty}. */
    static final int CONTEXTS_MAX = 2;

    /**
     * The most bytes a reply takes: per context, a chunk header, its context id and 8 bytes per
     * extent. What a request holds of its connection's in-flight budget, so that replies a client
     * does not read stop the connection's reading as any others do.
     */
    static long maxReplyBytes(boolean reqOne) {
        int extents = reqOne ? 1 : MAX_BLOCK_STATUS_EXTENTS;
        return CONTEXTS_MAX * (pcache.api.nbd.NbdWire.STRUCTURED_REPLY_HEADER_BYTES + 4L + 8L * extents);
    }

    BlockStatusReply(BlockDevice device, MetaContexts contexts) {
        this.device = device;
        this.contexts = contexts;
    }

    /**
     * The chunks answering {@code request} (validated: in range, aligned, not empty, some
     * context selected).
     *
     * @throws IOException what the device threw; the caller sends an error reply instead
     */
    ByteBuffer[] reply(NbdRequest request) throws IOException {
        int maxExtents = request.has(CMD_FLAG_REQ_ONE) ? 1 : MAX_BLOCK_STATUS_EXTENTS;
        List<BlockExtent> allocation = contexts.allocation()
                ? device.blockStatus(request.offset(), request.length(), maxExtents) : null;
        List<BlockExtent> dirty = contexts.dirty()
                ? ((CacheDevice) device).dirtyStatus(request.offset(), request.length(), maxExtents) : null;
        ByteBuffer[] chunks = new ByteBuffer[(allocation != null ? 1 : 0) + (dirty != null ? 1 : 0)];
        int i = 0;
        if (allocation != null) {
            chunks[i++] = ReplyEncoder.blockStatus(request.cookie(), META_BASE_ALLOCATION_ID, allocation,
                    BlockStatusReply::allocationFlags, dirty == null);
        }
        if (dirty != null) {
            chunks[i] = ReplyEncoder.blockStatus(request.cookie(), META_PCACHE_DIRTY_ID, dirty,
                    BlockStatusReply::dirtyFlags, true);
        }
        return chunks;
    }

    private static int allocationFlags(BlockExtent e) {
        return e.flags() & (BlockExtent.HOLE | BlockExtent.ZERO);
    }

    private static int dirtyFlags(BlockExtent e) {
        return e.has(BlockExtent.DIRTY) ? DIRTY_STATE_DIRTY : 0;
    }
}
