package pcache.engine.internal.engine;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import pcache.api.BackingState;
import pcache.api.BlockDevice;
import pcache.api.BlockExtent;
import pcache.api.format.PcacheFormat;
import pcache.api.spi.BackingDevice;
import pcache.api.spi.CacheKey;
import pcache.api.spi.ExtentVisitor;
import pcache.api.spi.KeySlice;
import pcache.engine.internal.media.ExtensionCodec.Range;

/**
 * Block status of one open cache: what is allocated or zero ({@code base:allocation}) and what is
 * not yet written back ({@code pcache:dirty}). Only the requested range is walked, one slice at a
 * time under its lock (slices never used are skipped without locking), and the walk stops as soon
 * as the answer has its maximum number of extents, so a request costs what it asks for, never a
 * scan of the index.
 *
 * <p>Allocation: a range the index holds dirty is data (flags 0), or {@link BlockExtent#ZERO}
 * when its key holds only zeroes: written by write-zeroes (a mark kept in memory only), or found
 * so by looking at its bytes the first time a block status walks it (keys replayed after a
 * restart, data written as zero bytes; a look at the first bytes settles most data, and each key
 * is looked at once); a range it holds clean
 * (the same bytes are on the backing device), or does not hold (never cached, trimmed, or a read
 * miss in progress), takes the backing device's own answer (rounded to whole sectors, data where
 * it cannot tell), with {@link BlockExtent#HOLE} added where a trim waits for write-back to
 * pass it on ({@link PendingTrims}): the client gave that range up, so it is not allocated, though
 * the backing device still holds (and reads return) its old bytes until the trim reaches it, after
 * which the backing device's answer is its own again. Write-back sends zeroes as write-zeroes, which
 * a file backing turns into a hole of zeroes, so a zeroed range still shows as zero after a restart
 * once written back.
 * Dirty: a range held by a key not yet written back is
 * {@link BlockExtent#DIRTY}, and so is a quarantined range (its newest data failed its CRC and was
 * never written back, so the backing device lacks it); everything else is on the backing device
 * already. Both are snapshots
 * taken slice by slice: each slice's answer was true while its lock was held; the quarantine is
 * taken after the walk and the waiting trims just before each question to the backing device.
 */
final class BlockStatusWalk {

    private static final int SECTOR = BlockDevice.SECTOR_SIZE;
    /** A piece of the walk the index does not hold: the backing device answers for it. */
    private static final int GAP = -1;

    private final OpenCache cache;

    BlockStatusWalk(OpenCache cache) {
        this.cache = cache;
    }

    /** {@code pcache:dirty}: see the class comment. */
    List<BlockExtent> dirty(long offset, long length, int maxExtents) throws IOException {
        check(offset, length);
        ExtentList out = new ExtentList(offset, maxExtents);
        long end = offset + length;
        for (long pos = offset; pos < end; ) {
            long partEnd = Math.min(end, cache.sliceEnd(pos));
            KeySlice slice = cache.index().existingSlice(sliceIndex(pos));
            boolean more;
            if (slice == null) {
                more = out.add(partEnd - pos, 0);
            } else {
                slice.lock();
                try {
                    more = slice.walk(pos, (int) (partEnd - pos), cache.validity(), new ExtentVisitor() {
                        @Override
                        public boolean hit(CacheKey key, long position, int len) {
                            return !key.isEmpty() && !key.isClean() ? out.add(len, BlockExtent.DIRTY)
                                    : out.add(len, 0);
                        }

                        @Override
                        public boolean gap(long position, int len) {
                            return out.add(len, 0);
                        }
                    });
                } finally {
                    slice.unlock();
                }
            }
            if (!more) {
                break;
            }
            pos = partEnd;
        }
        // after the walk, as for base:allocation: write-back quarantines a range under the slice
        // lock and marks it clean later, so a snapshot taken before the walk could miss a range
        // the walk then saw clean, and call its lost data written back
        return withLost(out.toList(), quarantineSnapshot(), maxExtents, BlockExtent.DIRTY);
    }

    private List<Range> quarantineSnapshot() {
        List<Range> lost = new ArrayList<>(cache.quarantine().snapshot());
        lost.sort(Comparator.comparingLong(Range::offset));
        return lost;
    }

    /**
     * Appends {@code [position, position + length)} with {@code flags}, except where it meets a
     * quarantined range ({@code lost}, sorted by offset), which gets {@code lostFlags}; false when
     * the extent limit was reached.
     */
    private static boolean addSplitAtLost(ExtentList out, long position, long length, int flags, int lostFlags,
            List<Range> lost) {
        long at = position;
        long end = position + length;
        for (Range r : lost) {
            if (r.end() <= at) {
                continue;
            }
            if (r.offset() >= end) {
                break;
            }
            if (r.offset() > at && !out.add(r.offset() - at, flags)) {
                return false;
            }
            long lostEnd = Math.min(end, r.end());
            if (!out.add(lostEnd - Math.max(at, r.offset()), lostFlags)) {
                return false;
            }
            at = lostEnd;
        }
        return at >= end || out.add(end - at, flags);
    }

    /** {@code base:allocation}: see the class comment. */
    List<BlockExtent> allocation(long offset, long length, int maxExtents) throws IOException {
        check(offset, length);
        List<BlockExtent> fromKeys = allocationOfKeys(offset, length, maxExtents);
        // after the walk: a range write-back quarantined (and marked clean) during it is still
        // data here; taken later, the snapshot can only turn more of the answer into data
        return withLostAsData(fromKeys, quarantineSnapshot(), maxExtents);
    }

    /**
     * {@code extents} with every quarantined range ({@code lost}, sorted by offset) reported as
     * data. Its newest data is lost and its reads fail; once write-back has passed it (or after a
     * restart) the index no longer holds it, and the backing device may call it a hole. A copying
     * tool skips holes and zero ranges and would write zeroes there without an error, where a read
     * would have failed. Stops at {@code maxExtents}.
     */
    static List<BlockExtent> withLostAsData(List<BlockExtent> extents, List<Range> lost, int maxExtents) {
        return withLost(extents, lost, maxExtents, 0);
    }

    /** {@code extents} with every range of {@code lost} (sorted by offset) given {@code lostFlags}. */
    private static List<BlockExtent> withLost(List<BlockExtent> extents, List<Range> lost, int maxExtents,
            int lostFlags) {
        if (lost.isEmpty()) {
            return extents;
        }
        ExtentList out = new ExtentList(extents.get(0).offset(), maxExtents);
        for (BlockExtent x : extents) {
            if (!addSplitAtLost(out, x.offset(), x.lengthBytes(), x.flags(), lostFlags, lost)) {
                break;
            }
        }
        return out.toList();
    }

    /**
     * The backing device's answer (pass-through mode, where the cache holds nothing) with every
     * quarantined range reported as data, as {@link #allocation} does: write-back passed it, the
     * backing device never got it, and its reads fail. Before, a sparse backing file's hole there
     * let copying tools write zeroes without an error.
     */
    List<BlockExtent> backingWithLostAsData(List<BlockExtent> answer, int maxExtents) {
        return withLostAsData(answer, quarantineSnapshot(), maxExtents);
    }

    /** {@code base:allocation} from the index, the waiting trims and the backing device. */
    private List<BlockExtent> allocationOfKeys(long offset, long length, int maxExtents) throws IOException {
        ExtentList out = new ExtentList(offset, maxExtents);
        long end = offset + length;
        long gapStart = -1; // start of the run of pieces the backing device answers for, or -1
        long walked = offset; // the pieces up to here were looked at
        List<long[]> pieces = new ArrayList<>();
        walk:
        while (walked < end) {
            long partEnd = Math.min(end, cache.sliceEnd(walked));
            pieces.clear();
            slicePieces(walked, partEnd, Math.max(1, maxExtents) == Integer.MAX_VALUE ? Integer.MAX_VALUE
                    : Math.max(1, maxExtents) + 1, pieces);
            for (long[] piece : pieces) {
                long len = piece[0];
                int kind = (int) piece[1];
                if (kind == GAP) {
                    if (gapStart < 0) {
                        gapStart = walked;
                    }
                } else {
                    boolean room = gapStart < 0 || fromBacking(out, gapStart, walked);
                    gapStart = -1;
                    if (!room || !out.add(len, kind)) {
                        break walk;
                    }
                }
                walked += len;
            }
            if (walked < partEnd) {
                break; // the slice has more pieces than the answer can take
            }
        }
        if (gapStart >= 0) {
            fromBacking(out, gapStart, walked);
        }
        return out.toList();
    }

    /**
     * The pieces of {@code [from, to)} (one slice) as {@code [length, flags or GAP]}, neighbours of
     * the same kind merged, at most {@code maxPieces}; taken under the slice's lock.
     */
    private void slicePieces(long from, long to, int maxPieces, List<long[]> pieces) {
        KeySlice slice = cache.index().existingSlice(sliceIndex(from));
        if (slice == null) {
            pieces.add(new long[] {to - from, GAP});
            return;
        }
        slice.lock();
        try {
            slice.walk(from, (int) (to - from), cache.validity(), new ExtentVisitor() {
                @Override
                public boolean hit(CacheKey key, long position, int len) {
                    // a clean key's bytes are on the backing device too: its answer holds for them
                    // (a range zeroed there shows as zero after a restart, which forgets zero marks)
                    if (!key.isEmpty() && !key.isClean()) {
                        lookForZeroes(key);
                    }
                    return piece(len, key.isEmpty() ? GAP : key.isZeroes() ? BlockExtent.ZERO
                            : key.isClean() ? GAP : 0);
                }

                @Override
                public boolean gap(long position, int len) {
                    return piece(len, GAP);
                }

                private boolean piece(int len, int kind) {
                    long[] last = pieces.isEmpty() ? null : pieces.get(pieces.size() - 1);
                    if (last != null && last[1] == kind) {
                        last[0] += len;
                        return true;
                    }
                    if (pieces.size() >= maxPieces) {
                        return false;
                    }
                    pieces.add(new long[] {len, kind});
                    return true;
                }
            });
        } finally {
            slice.unlock();
        }
    }

    /**
     * Marks a dirty key of zeroes that no write-zeroes marked, once: one replayed after a restart
     * (the mark is kept in memory only), or data written as zero bytes. Ordinary data is told apart
     * by its first bytes; a key that cannot be read now stays data and is looked at again next time.
     */
    private void lookForZeroes(CacheKey key) {
        if (key.isZeroes() || key.zeroesChecked()) {
            return;
        }
        try {
            // with data CRCs, zeroes that fail the key's CRC are damage, not zeroes: said to be
            // ZERO, copying tools would skip the range and write zeroes, where a read fails
            if (ZeroBytes.holdsOnlyZeroes(cache, key) && crcHolds(key)) {
                key.markZeroes();
            }
            key.markZeroesChecked();
        } catch (IOException | RuntimeException e) {
            // data is always a true answer
        }
    }

    /** Whether {@code key}'s data matches its CRC (true without data CRCs). */
    private boolean crcHolds(CacheKey key) throws IOException {
        if (!cache.config().dataCrc()) {
            return true;
        }
        return cache.dataCrcOf(key.segment(), key.crcSegmentOffset(), key.crcLength()) == key.dataCrc();
    }

    /**
     * Appends the backing device's answer for {@code [from, to)}, which starts at
     * {@code out.end()}, with a hole where a trim waits. A device that is
     * missing, offline or failing, or whose answer does not fit, makes the rest data (flags 0),
     * which is always true.
     *
     * @return false when the answer is full
     */
    private boolean fromBacking(ExtentList out, long from, long to) {
        // the waiting trims of this stretch, taken now, just before the backing device is asked:
        // taken before the walk, a trim that write-back passed on during it showed as a hole over
        // a newer write to its range that write-back passed too (then on the backing device, its
        // key clean), and qemu maps a hole as not allocated
        Trimmed trimmed = new Trimmed(cache.trims().within(from, to));
        BackingDevice device = cache.backing().peek();
        if (device == null || cache.backing().state() != BackingState.ONLINE) {
            return trimmed.add(out, to - from, 0);
        }
        long pos = from;
        while (pos < to) {
            List<BlockExtent> answer;
            try {
                answer = device.blockStatus(pos, to - pos, 1024);
            } catch (IOException | RuntimeException e) {
                CacheEngine.LOG.log(System.Logger.Level.DEBUG, "cache {0}: block status of the backing device"
                        + " failed at {1} (reported as data): {2}", cache.name(), pos, e.toString());
                return trimmed.add(out, to - pos, 0);
            }
            if (answer.isEmpty() || answer.get(0).offset() != pos) {
                return trimmed.add(out, to - pos, 0);
            }
            for (BlockExtent e : answer) {
                if (e.offset() != pos || e.end() > to) {
                    return trimmed.add(out, to - pos, 0);
                }
                long alignedEnd = e.end() & -SECTOR;
                if (alignedEnd <= pos) {
                    // a sector with mixed status: data is true of all of it
                    if (!trimmed.add(out, SECTOR, 0)) {
                        return false;
                    }
                    pos += SECTOR;
                    break;
                }
                if (!trimmed.add(out, alignedEnd - pos, e.flags() & (BlockExtent.HOLE | BlockExtent.ZERO))) {
                    return false;
                }
                pos = alignedEnd;
                if (alignedEnd != e.end()) {
                    break; // ask again from the sector boundary
                }
            }
        }
        return true;
    }

    /**
     * The trims waiting in one stretch the backing device answers for (sorted, joined, sector
     * aligned as every trim is), laid over its runs in the order they are appended.
     */
    private static final class Trimmed {
        private final List<long[]> ranges;
        private int next;

        Trimmed(List<long[]> ranges) {
            this.ranges = ranges;
        }

        /**
         * Appends {@code [out.end(), out.end() + length)} with {@code flags}, and
         * {@link BlockExtent#HOLE} added where a trim waits.
         *
         * @return false when the answer is full
         */
        boolean add(ExtentList out, long length, int flags) {
            long at = out.end();
            long end = at + length;
            while (next < ranges.size() && ranges.get(next)[1] <= at) {
                next++;
            }
            for (int i = next; i < ranges.size() && at < end; i++) {
                long[] t = ranges.get(i);
                if (t[0] >= end) {
                    break;
                }
                if (t[0] > at) {
                    if (!out.add(t[0] - at, flags)) {
                        return false;
                    }
                    at = t[0];
                }
                long holeEnd = Math.min(end, t[1]);
                if (!out.add(holeEnd - at, flags | BlockExtent.HOLE)) {
                    return false;
                }
                at = holeEnd;
            }
            return at >= end || out.add(end - at, flags);
        }
    }

    private static int sliceIndex(long pos) {
        return (int) (pos / PcacheFormat.SUBTREE_SIZE);
    }

    private void check(long offset, long length) throws IOException {
        BlockDevice.checkRange(cache.name(), cache.logicalSize(), SECTOR, offset, length);
        if (length == 0) {
            throw new IllegalArgumentException(cache.name() + ": block status of an empty range at " + offset);
        }
    }
}
