package pcache.writeback.internal;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import org.osgi.service.component.annotations.Component;

import pcache.api.spi.KeyIndex;
import pcache.api.spi.Kset;
import pcache.api.spi.WritebackContext;
import pcache.api.spi.WritebackOutcome;
import pcache.api.spi.WritebackPolicy;

/**
 * dm-pcache's write-back (reference §5), with a backing flush per client flush instead of per
 * kset: from dirty_tail, one kset and the ksets after it that no client flush or FUA write
 * separates from it ({@link WritebackContext#flushBarrierAfter}; a client that never flushes
 * gives at most {@link #MAX_GROUP_BYTES} of dirty data per group). The group's keys are resolved
 * against each other (newest wins), every non-CLEAN extent is written (in offset order, adjacent
 * extents as one write: {@link DirtyRuns}), the backing device is flushed, and only then
 * dirty_tail moves past the group.
 *
 * <p>The backing device therefore sees every client flush as a barrier: everything written
 * before a flush reaches it, durably, before anything written after that flush, so on its own it
 * always holds a state the client could have seen after a crash. Writes between two client
 * flushes have no order a client could rely on, so merging the ksets they fill (one per stream,
 * closed at once by the flush, or closed early by size or timer) costs no guarantee. Ksets
 * replayed after a restart count as separated: the log does not record where flushes were.
 */
@Component(service = WritebackPolicy.class,
        property = WritebackPolicy.NAME + "=" + OrderedWritebackPolicy.NAME_VALUE)
public final class OrderedWritebackPolicy implements WritebackPolicy {

    static final String NAME_VALUE = "ordered";
    /** A group stops growing once it holds this much dirty data (bounds one step). */
    static final long MAX_GROUP_BYTES = 64L << 20;

    @Override
    public String name() {
        return NAME_VALUE;
    }

    @Override
    public WritebackOutcome step(WritebackContext context) throws IOException {
        Kset first = context.readKset(context.dirtyTail());
        if (first == null) {
            return WritebackOutcome.IDLE;
        }
        List<Kset> group = new ArrayList<>();
        KeyIndex scratch = context.scratchIndex();
        long dirty = 0;
        Kset k = first;
        while (true) {
            group.add(k);
            if (!k.last()) {
                DirtyRuns.resolve(scratch, k);
                dirty += k.dirtyBytes();
            }
            if (dirty >= MAX_GROUP_BYTES) {
                break;
            }
            // read the next kset before asking about the barrier: a flush marks its barrier
            // before any kset after it is logged, so once the next kset exists the answer is final
            Kset next = context.readKset(k.next());
            if (next == null || context.flushBarrierAfter(k)) {
                break;
            }
            k = next;
        }
        if (DirtyRuns.write(context, scratch) > 0) {
            context.flushBacking();
        }
        context.advanceDirtyTail(group);
        return WritebackOutcome.PROGRESS;
    }
}
