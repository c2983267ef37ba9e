package pcache.api.spi;

import java.util.function.Consumer;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * The striped index of one cache (reference §3.2): one {@link KeySlice} per 4 MiB of the logical
 * device, each ordered and locked on its own, so requests on different slices never contend.
 * Because keys never cross a slice boundary, a request is handled slice by slice.
 */
@ConsumerType
public interface KeyIndex {

    /** Size of the logical device the index covers. */
    long logicalSizeBytes();

    /** Number of slices: ceil(logicalSizeBytes / 4 MiB). */
    int sliceCount();

    /** The slice holding logical offset {@code offset} (created on first use). */
    KeySlice slice(long offset);

    /** The slice with index {@code index} if it was ever used, else null. */
    KeySlice existingSlice(int index);

    /** Keys in the whole index (a sum over slices, not a snapshot). */
    long keyCount();

    /**
     * Calls {@code action} for every key in offset order, locking one slice at a time. The
     * action must not modify the index.
     */
    void forEach(Consumer<CacheKey> action);

    /** Removes every key (for scratch indexes between uses). */
    void clear();
}
