package pcache.api.spi;

import java.util.concurrent.ScheduledExecutorService;

import org.osgi.annotation.versioning.ProviderType;

/** What a key log works with; supplied by the cache target. */
@ProviderType
public interface KeyLogContext {

    /** The cache device. */
    PmemRegion region();

    /** The CRC of the on-media format. */
    CrcProvider crc();

    /** The cache's segments; key segments are allocated with {@link SegmentUse#KEY_LOG}. */
    SegmentAllocator segments();

    /** Number of kset buffers (parallel streams). */
    int streams();

    /** Delay after the first key of an open buffer until it is persisted (dm-pcache: 1 s). */
    long flushDelayMillis();

    /** Runs the delayed flushes. */
    ScheduledExecutorService scheduler();

    /** Told when ksets are persisted and when a background flush fails. */
    KeyLogListener listener();
}
