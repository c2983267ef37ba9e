package pcache.api.spi;

import java.io.IOException;
import java.util.List;

import org.osgi.annotation.versioning.ProviderType;

import pcache.api.CachePos;

/**
 * What a {@link WritebackPolicy} works with; supplied by the cache target for one step. All
 * methods are called from the cache's write-back thread.
 */
@ProviderType
public interface WritebackContext {

    /** First kset not yet written back. */
    CachePos dirtyTail();

    /** Where the next kset will be written; write-back is complete when dirty_tail reaches it. */
    CachePos keyHead();

    /**
     * The kset at {@code position}, or null at the end of the log. The end a step sees may come
     * before the durable end: where a trim waits to be passed on to the backing device, the log
     * ends for the step until dirty_tail reaches that place (the context then passes the trim on
     * and reads on).
     */
    Kset readKset(CachePos position) throws IOException;

    /** An empty index for resolving overlaps among keys of the ksets being written back. */
    KeyIndex scratchIndex();

    /**
     * Writes the data of {@code extent} — keys whose logical ranges are adjacent and ascending —
     * to the backing device as one write. Data CRCs are verified first (when enabled); a key
     * that fails is quarantined and reported, and the rest is still written.
     *
     * @throws IOException when the backing device fails; the step should end and be retried
     */
    void writeBack(List<CacheKey> extent) throws IOException;

    /**
     * Whether a client's flush or FUA write lies between {@code kset} and the kset after it (see
     * {@link KeyLog#flushBarrierAfter}): only then must the backing device be flushed before the
     * next kset's data is written, for it to be consistent on its own. True when not known.
     *
     * @since 1.3
     */
    default boolean flushBarrierAfter(Kset kset) {
        return true;
    }

    /** Flushes the backing device (data sync). */
    void flushBacking() throws IOException;

    /**
     * Persists dirty_tail past {@code passed} (ksets in log order starting at the current
     * dirty_tail) after their data reached the backing device and it was flushed.
     */
    void advanceDirtyTail(List<Kset> passed) throws IOException;

    /** Bytes still to write back. */
    long dirtyBytes();

    /** Percentage of cache segments in use. */
    int usedPercent();

    /** Bytes the cache can hold: its segments' data areas. */
    long capacityBytes();

    /** Whether a drain (or a mode switch) asks for everything to be written back now. */
    boolean draining();

    /**
     * Whether writers wait for cache space. GC frees only what is written back, so a policy that
     * holds dirty data back (below its watermarks, until it is old) should write back now: the
     * cache may be full of clean or written-back data behind dirty data at dirty_tail, with far
     * less dirty data than any watermark.
     *
     * @since 1.9
     */
    default boolean spaceWanted() {
        return false;
    }
}
