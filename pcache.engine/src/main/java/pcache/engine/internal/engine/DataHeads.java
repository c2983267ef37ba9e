package pcache.engine.internal.engine;

import java.io.IOException;

import pcache.api.format.PcacheFormat;
import pcache.api.spi.SegmentAllocator;
import pcache.api.spi.SegmentUse;

/**
 * Where new data goes (reference §4.1 step 2): one head per stream, each filling its own data
 * segment front to back. A head holds one reference on its segment while it allocates from it;
 * every allocation takes one more for its key. When a segment is exhausted the head drops its
 * reference and takes a fresh segment next time.
 */
final class DataHeads {

    /** Thrown inside the engine when no segment is free; the caller waits or gives up. */
    static final class NoSpace extends Exception {
        private static final long serialVersionUID = 1L;

        NoSpace() {
            super(null, null, false, false);
        }
    }

    private static final NoSpace NO_SPACE = new NoSpace();

    private final SegmentAllocator segments;
    private final Head[] heads;
    /** Threads get heads round-robin on first use, so that two busy threads never share one. */
    private final java.util.concurrent.atomic.AtomicInteger nextStream = new java.util.concurrent.atomic.AtomicInteger();
    private final ThreadLocal<Head> mine;

    private static final class Head {
        int segment = -1;
        int offset;
    }

    DataHeads(SegmentAllocator segments, int streams) {
        this.segments = segments;
        this.heads = new Head[streams];
        for (int i = 0; i < streams; i++) {
            heads[i] = new Head();
        }
        this.mine = ThreadLocal.withInitial(() -> heads[Math.floorMod(nextStream.getAndIncrement(), heads.length)]);
    }

    /** The head the calling thread uses. */
    private Head mine() {
        return mine.get();
    }

    /**
     * Takes up to {@code wanted} bytes (fewer when the current segment ends first).
     *
     * @throws NoSpace when the head needs a segment and none is free
     */
    Allocation allocate(int wanted) throws NoSpace, IOException {
        Head h = mine();
        synchronized (h) {
            if (h.segment < 0) {
                int seg = segments.allocate(SegmentUse.DATA);
                if (seg < 0) {
                    throw NO_SPACE;
                }
                segments.get(seg);
                h.segment = seg;
                h.offset = 0;
            }
            int seg = h.segment;
            int length = Math.min(wanted, PcacheFormat.SEG_DATA_SIZE - h.offset);
            Allocation a = new Allocation(seg, h.offset, segments.generation(seg), length);
            segments.get(seg);
            h.offset += length;
            if (h.offset == PcacheFormat.SEG_DATA_SIZE) {
                h.segment = -1;
                segments.put(seg);
            }
            return a;
        }
    }

    /** Drops every head's segment reference (before purging or closing). */
    void retireAll() throws IOException {
        for (Head h : heads) {
            synchronized (h) {
                if (h.segment >= 0) {
                    int seg = h.segment;
                    h.segment = -1;
                    segments.put(seg);
                }
            }
        }
    }
}
