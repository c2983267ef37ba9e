package pcache.api.spi;

import org.osgi.annotation.versioning.ProviderType;

/** What a segment allocator works with; supplied by the cache target. */
@ProviderType
public interface SegmentContext {

    /** The cache device. */
    PmemRegion region();

    /** The CRC of the on-media format. */
    CrcProvider crc();

    /** Physical segments on the device (seg_num of the superblock). */
    int deviceSegments();

    /** Told when a segment has been reclaimed (its generation bumped and persisted, its bit freed). */
    SegmentListener listener();
}
