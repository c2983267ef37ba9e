package pcache.writeback.internal;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import org.osgi.service.component.annotations.Component;

import pcache.api.format.PcacheFormat;
import pcache.api.spi.CacheKey;
import pcache.api.spi.KeyIndex;
import pcache.api.spi.KeySlice;
import pcache.api.spi.Kset;
import pcache.api.spi.WritebackContext;
import pcache.api.spi.WritebackOutcome;
import pcache.api.spi.WritebackPolicy;

/**
 * dm-pcache's write-back (reference §5), with a backing flush per client flush instead of per
 * kset: from dirty_tail, one kset and the ksets after it that no client flush or FUA write
 * separates from it ({@link WritebackContext#flushBarrierAfter}; a client that never flushes
 * gives at most {@link #MAX_GROUP_BYTES} of dirty data and {@link #MAX_GROUP_KEYS} keys per
 * group). The group's keys are resolved against each other (newest wins), every non-CLEAN extent
 * is written (in offset order, adjacent
 * extents as one write: {@link DirtyRuns}), the backing device is flushed, and only then
 * dirty_tail moves past the group.
 *
 * <p>The backing device therefore sees every client flush as a barrier: everything written
 * before a flush reaches it, durably, before anything written after that flush, so on its own it
 * always holds a state the client could have seen after a crash. Writes between two client
 * flushes have no order a client could rely on, so merging the ksets they fill (one per stream,
 * closed at once by the flush, or closed early by size or timer) costs no guarantee. Ksets
 * replayed after a restart count as separated: the log does not record where flushes were.
 *
 * <h2>Versions a later write of the same flush interval replaces</h2>
 * When a group ends at its size limit and not at a client flush, the flush interval it belongs to
 * goes on in the ksets after it. A range those ksets write again need not be written back from
 * this group: between two client flushes the backing device may hold any mix of the interval's
 * versions, and the newer version follows before the interval's barrier. So the policy looks
 * ahead through the durable ksets of the same interval (up to {@link #LOOKAHEAD_KEYS} keys, and
 * never past a flush barrier or the durable end of the log) and leaves out of the group's writes
 * every range they write again ({@link #supersede}). A client that rewrites the same area between
 * flushes (a stream over a region smaller than the cache, a log, a file rewritten in place) then
 * writes it back once per interval, not once per version. Crash safety is unchanged: the newer
 * version's kset is durable before this group's dirty_tail move, so a replay finds it (after
 * dirty_tail, still dirty) over the older one.
 */
@Component(service = WritebackPolicy.class,
        property = WritebackPolicy.NAME + "=" + OrderedWritebackPolicy.NAME_VALUE)
public final class OrderedWritebackPolicy implements WritebackPolicy {

    static final String NAME_VALUE = "ordered";
    /** A group stops growing once it holds this much dirty data (bounds one step). */
    static final long MAX_GROUP_BYTES = 64L << 20;
    /**
     * Most keys of later ksets read to find replaced ranges: bounds the work a step adds (each
     * step reads them again) while covering a whole cache of large writes.
     */
    static final int LOOKAHEAD_KEYS = 65_536;
    /**
     * A group also stops growing once it holds this many keys, dirty or clean: read-miss fills
     * behind a little dirty data, with no client flush between, made a group read and copy every
     * kset to the end of the log, again at every retry while the backing device failed.
     */
    public static final int MAX_GROUP_KEYS = 65_536;

    private final long maxGroupBytes;
    private final int lookaheadKeys;
    private final int maxGroupKeys;

    public OrderedWritebackPolicy() {
        this(MAX_GROUP_BYTES, LOOKAHEAD_KEYS);
    }

    /** A policy with other limits (tests: small groups, so that intervals span several). */
    public OrderedWritebackPolicy(long maxGroupBytes, int lookaheadKeys) {
        this(maxGroupBytes, lookaheadKeys, MAX_GROUP_KEYS);
    }

    /** A policy with other limits, the keys of a group's too (tests). */
    public OrderedWritebackPolicy(long maxGroupBytes, int lookaheadKeys, int maxGroupKeys) {
        if (maxGroupBytes <= 0 || lookaheadKeys < 0 || maxGroupKeys <= 0) {
            throw new IllegalArgumentException("maxGroupBytes and maxGroupKeys must be positive and lookaheadKeys"
                    + " not negative: " + maxGroupBytes + ", " + lookaheadKeys + ", " + maxGroupKeys);
        }
        this.maxGroupBytes = maxGroupBytes;
        this.lookaheadKeys = lookaheadKeys;
        this.maxGroupKeys = maxGroupKeys;
    }

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
        long keys = 0;
        Kset k = first;
        Kset sameInterval = null;
        while (true) {
            group.add(k);
            keys += k.keys().size();
            if (!k.last()) {
                DirtyRuns.resolve(scratch, k);
                dirty += k.dirtyBytes();
            }
            // read the next kset before asking about the barrier: a flush marks its barrier
            // before any kset after it is logged, so once the next kset exists the answer is final
            Kset next = DirtyRuns.readAfter(context, k.next());
            if (next == null || context.flushBarrierAfter(k)) {
                break;
            }
            if (dirty >= maxGroupBytes) {
                sameInterval = next;
                break;
            }
            if (keys >= maxGroupKeys) {
                break; // without looking ahead (what follows is mostly clean): a backing flush more, no guarantee less
            }
            k = next;
        }
        if (sameInterval != null) {
            supersede(context, scratch, sameInterval, lookaheadKeys);
        }
        if (DirtyRuns.write(context, scratch) > 0) {
            context.flushBacking();
        }
        context.advanceDirtyTail(group);
        return WritebackOutcome.PROGRESS;
    }

    /**
     * Removes from {@code resolved} every range a dirty key of {@code from} or of the ksets after
     * it writes again, up to the first flush barrier, the durable end of the log or
     * {@code budget} keys, whichever comes first. {@code from} must belong to the same flush
     * interval as the ksets {@code resolved} was built from.
     */
    static void supersede(WritebackContext context, KeyIndex resolved, Kset from, int budget) throws IOException {
        int left = budget;
        Kset k = from;
        while (left > 0) {
            if (!k.last()) {
                for (CacheKey key : k.keys()) {
                    if (!key.isClean()) {
                        removeFrom(resolved, key);
                    }
                }
                left -= k.keys().size();
            }
            Kset next = DirtyRuns.readAfter(context, k.next());
            if (next == null || context.flushBarrierAfter(k)) {
                break;
            }
            k = next;
        }
    }

    /** Removes {@code key}'s range from {@code resolved} (a key never crosses a slice). */
    private static void removeFrom(KeyIndex resolved, CacheKey key) {
        KeySlice slice = resolved.existingSlice((int) (key.offset() >>> PcacheFormat.SUBTREE_SHIFT));
        if (slice == null) {
            return;
        }
        slice.lock();
        try {
            slice.removeRange(key.offset(), key.length());
        } finally {
            slice.unlock();
        }
    }
}
