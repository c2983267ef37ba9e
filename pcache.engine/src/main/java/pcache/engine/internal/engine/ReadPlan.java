package pcache.engine.internal.engine;

import java.util.ArrayList;
import java.util.List;

import pcache.api.spi.CacheKey;
import pcache.api.spi.ExtentVisitor;

/**
 * The pieces of one slice's part of a read, collected under the slice lock: hits to copy from
 * pmem and misses to read from the backing device. What a hit needs after the lock is released is
 * copied out of its key, because the key may change (be split, cut, removed) meanwhile.
 */
final class ReadPlan implements ExtentVisitor {

    /** One piece of a read: a hit to copy, or a miss to read from the backing device. */
    static final class Piece {
        final long position;
        final int length;
        /** A hit: the key; a miss: the placeholder (ours or another reader's). */
        final CacheKey key;
        final boolean hit;
        final boolean ownPlaceholder;
        int segment;
        int segmentOffset;
        long generation;
        boolean clean;
        int dataCrc;
        int crcSegmentOffset;
        int crcLength;
        /** The key holds zeroes (a write-zeroes, or zero bytes whose CRC held): checked so on a hit. */
        boolean zeroes;

        Piece(long position, int length, CacheKey key, boolean hit, boolean ownPlaceholder) {
            this.position = position;
            this.length = length;
            this.key = key;
            this.hit = hit;
            this.ownPlaceholder = ownPlaceholder;
        }
    }

    final List<Piece> pieces = new ArrayList<>(4);
    /** Set for a plan that may only hold hits ({@link #hitsOnly}): the walk stops at a miss. */
    private final boolean hitsOnly;
    /** In a hits-only plan: a gap or another reader's placeholder was found. */
    boolean missing;

    ReadPlan() {
        this(false);
    }

    private ReadPlan(boolean hitsOnly) {
        this.hitsOnly = hitsOnly;
    }

    /** A plan for a read that must not wait: the walk stops at the first piece that is not a hit. */
    static ReadPlan hitsOnly() {
        return new ReadPlan(true);
    }

    @Override
    public boolean hit(CacheKey key, long position, int length) {
        if (hitsOnly && key.isEmpty()) {
            missing = true;
            return false;
        }
        Piece p = new Piece(position, length, key, !key.isEmpty(), false);
        if (p.hit) {
            p.segment = key.segment();
            p.segmentOffset = key.segmentOffset() + (int) (position - key.offset());
            p.generation = key.generation();
            p.clean = key.isClean();
            p.dataCrc = key.dataCrc();
            p.crcSegmentOffset = key.crcSegmentOffset();
            p.crcLength = key.crcLength();
            p.zeroes = key.isZeroes();
        }
        pieces.add(p);
        return true;
    }

    @Override
    public boolean gap(long position, int length) {
        if (hitsOnly) {
            missing = true;
            return false;
        }
        pieces.add(new Piece(position, length, CacheKey.placeholder(position, length), false, true));
        return true;
    }
}
