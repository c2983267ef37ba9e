package pcache.api.spi;

import java.io.IOException;
import java.nio.file.Path;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * Opens cache devices as byte-addressable persistent regions. Registered as a service with the
 * property {@link #TYPE}.
 */
@ConsumerType
public interface PmemProvider {

    /** Service property: the kind of mapping, e.g. {@code mapped}, {@code fileio}, {@code heap}. */
    String TYPE = "pcache.pmem.type";

    /** The value of {@link #TYPE} for this provider. */
    String type();

    /**
     * Opens the cache device at {@code path}.
     *
     * @param path a file, a DAX file, or a block device
     * @param createSizeBytes when the path does not exist: create it with this size (must be
     *        positive); when it exists this is ignored and the device's own size is used. Zero
     *        means "must already exist".
     * @throws java.nio.file.NoSuchFileException if the path is missing and {@code createSizeBytes}
     *         is 0
     * @throws IOException naming the path and the problem otherwise (not writable, size unknown,
     *         mapping refused)
     */
    PmemRegion open(Path path, long createSizeBytes) throws IOException;
}
