package pcache.api.spi;

import org.osgi.annotation.versioning.ConsumerType;

/** Receives reclamation events from a {@link SegmentAllocator}. */
@ConsumerType
@FunctionalInterface
public interface SegmentListener {

    /**
     * Cache segment {@code segment} was reclaimed: keys of older generations pointing into it are
     * now invalid and it can be allocated again. Called without allocator locks held; must not
     * block for long.
     */
    void segmentReclaimed(int segment);
}
