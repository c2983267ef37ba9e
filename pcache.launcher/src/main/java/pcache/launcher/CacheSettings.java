package pcache.launcher;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * The validated configuration of one cache ({@code cache.<name>.*}).
 *
 * @param name the cache's name ({@code [A-Za-z0-9_-]+}); also its NBD export name
 * @param cacheDev absolute path of the cache device
 * @param cacheDevSizeBytes size to create the cache device with when missing; 0 = must exist
 * @param backing the backing device
 * @param cacheMode {@code writeback}, {@code writethrough} or {@code passthrough}
 * @param dataCrc whether cached data carries a CRC
 * @param gcPercent the GC threshold, 0..90
 * @param parts the pmem mapping, write-back policy, CRC provider, key index and allocator, by name
 * @param backingIdentity an explicit identity label for the backing device, if configured
 * @param forceIdentity accept a backing device whose identity differs from the recorded one
 * @param backingTimeout how long requests wait for an unavailable backing device
 */
public record CacheSettings(String name, Path cacheDev, long cacheDevSizeBytes, BackingSpec backing,
        String cacheMode, boolean dataCrc, int gcPercent, CacheParts parts, Optional<String> backingIdentity, boolean forceIdentity, Duration backingTimeout) {

    /** The name of this cache's backing-device configuration and service. */
    public String backingName() {
        return name + ".backing";
    }
}
