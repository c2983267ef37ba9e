package pcache.engine.internal.image;

import pcache.api.CachePos;
import pcache.api.format.PcacheFormat;

/**
 * Where each cache segment of an image lies on the device and which generation it is in, as the
 * segment chain scan found them: what the key log scan needs to find ksets and data and to tell
 * stale keys from live ones.
 */
final class SegmentMap {

    private final int[] physical;
    private final long[] generation;
    private final boolean[] generationKnown;

    SegmentMap(int cacheSegments) {
        physical = new int[cacheSegments];
        generation = new long[cacheSegments];
        generationKnown = new boolean[cacheSegments];
    }

    int cacheSegments() {
        return physical.length;
    }

    /** Places cache segment {@code cacheSegment} at physical segment {@code physicalId}. */
    void place(int cacheSegment, int physicalId) {
        physical[cacheSegment] = physicalId;
    }

    /** Marks the place of {@code cacheSegment} and every later one as unknown. */
    void unknownFrom(int cacheSegment) {
        for (int j = cacheSegment; j < physical.length; j++) {
            physical[j] = -1;
        }
    }

    /** The physical segment of a mapped cache segment. */
    int physical(int cacheSegment) {
        return physical[cacheSegment];
    }

    void generation(int cacheSegment, long gen) {
        generation[cacheSegment] = gen;
        generationKnown[cacheSegment] = true;
    }

    /** The segment's generation; meaningful when {@link #generationKnown} says so. */
    long generation(int cacheSegment) {
        return generation[cacheSegment];
    }

    boolean generationKnown(int cacheSegment) {
        return generationKnown[cacheSegment];
    }

    /** Whether {@code cacheSegment} is a segment of the cache whose place on the device is known. */
    boolean mapped(int cacheSegment) {
        return cacheSegment >= 0 && cacheSegment < physical.length && physical[cacheSegment] >= 0;
    }

    /** Device offset of a position in a mapped segment's data area. */
    long dataOffset(CachePos pos) {
        return PcacheFormat.segmentOffset(physical[pos.segment()]) + PcacheFormat.SEG_DATA_OFF + pos.offset();
    }
}
