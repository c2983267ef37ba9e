package pcache.api.spi;

import java.io.IOException;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * The segment layer of one cache (reference §2.5, §6.3): a chain of 16 MiB segments addressed by
 * cache segment id, each with a generation that is bumped when it is reclaimed, a used/free
 * bitmap with FIFO-style search (next free bit after a moving hint), and reference counts held by
 * data heads and by keys.
 *
 * <p>Reclamation: when a data segment's reference count drops to zero, its generation is
 * incremented and persisted <em>before</em> its bit is freed, then the listener is told; keys
 * carrying the old generation are invalid from then on.
 *
 * <p>Thread-safety: all methods are thread-safe.
 */
@ConsumerType
public interface SegmentAllocator {

    /**
     * Formats a new chain of {@code count} segments starting at physical segment
     * {@code firstPhysical}: each segment gets zeroed info and control areas, generation 0, its
     * segment_info (with the link to the next), and a zero kset header at its data start.
     */
    void format(int firstPhysical, int count) throws IOException;

    /**
     * Loads an existing chain: follows next_seg links from {@code firstPhysical}, loading each
     * segment's info and generation. Every segment starts free; replay marks the used ones.
     *
     * @throws pcache.api.CorruptMediaException naming the segment and slot offsets when a
     *         segment_info has no valid slot, a link points outside the device, or the chain is
     *         shorter than {@code count}
     */
    void load(int firstPhysical, int count) throws IOException;

    /** Cache segments in the chain. */
    int segmentCount();

    /** Physical segment id of cache segment {@code segment}. */
    int physicalId(int segment);

    /** Device offset of the data area of cache segment {@code segment}. */
    long dataOffset(int segment);

    /** Allocates a free segment and marks it used; -1 when none is available for {@code use}. */
    int allocate(SegmentUse use);

    /** Marks a segment used (replay). */
    void markUsed(int segment);

    /** Frees a segment that holds no references (a key-log segment passed by GC). */
    void release(int segment);

    /** Whether the segment's bit is set. */
    boolean isUsed(int segment);

    /** Segments whose bit is set (dm-pcache's segs_used). */
    int usedCount();

    /** Current generation of the segment. */
    long generation(int segment);

    /** Takes one reference on a data segment. */
    void get(int segment);

    /**
     * Takes one reference on a data segment only if it still holds data of {@code generation}:
     * it is not reclaimed and its reference count is above zero. A caller that read a key's
     * position and generation under its slice lock pins the key's data this way, so that the
     * segment cannot be reclaimed and reused until the matching {@link #put}; when it returns
     * false nothing was taken. Like {@link #put}, a failed pin may drop the last reference to a
     * segment's newer life and reclaim it on the calling thread (persisting its generation and
     * telling the listener); a failure there is logged, not thrown.
     *
     * <p>The default takes nothing and returns false: an allocator without it is still correct,
     * its callers copy the data instead.
     *
     * @since 1.6
     */
    default boolean tryGet(int segment, long generation) {
        return false;
    }

    /**
     * Drops one reference; at zero the segment is reclaimed (generation bumped and persisted,
     * bit freed, listener told).
     */
    void put(int segment) throws IOException;

    /** Current reference count. */
    int references(int segment);

    /**
     * A replicated record at a fixed device location, e.g. cache_info or key_tail, using this
     * layer's slot machinery.
     *
     * @param structure name for error messages
     * @param deviceOffset offset of slot 0
     * @param slotStride distance between the slots
     * @param structSize bytes of the structure, header included
     */
    ReplicatedRecord record(String structure, long deviceOffset, int slotStride, int structSize);
}
