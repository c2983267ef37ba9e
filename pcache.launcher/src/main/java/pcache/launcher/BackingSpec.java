package pcache.launcher;

import java.net.URI;
import java.nio.file.Path;

/** Where a cache's backing device is: a file, or an NBD export. */
public sealed interface BackingSpec {

    /**
     * A file or block device.
     *
     * @param path absolute path
     * @param createSizeBytes size to create the file with when missing; 0 = it must exist
     */
    record FileBacking(Path path, long createSizeBytes) implements BackingSpec {
        /** Whether a missing file is created. */
        public boolean create() {
            return createSizeBytes > 0;
        }
    }

    /**
     * An NBD export, {@code nbd://HOST[:PORT]/EXPORT} or {@code nbd+unix:///EXPORT?socket=PATH}.
     *
     * @param uri the URI as configured
     */
    record NbdBacking(URI uri) implements BackingSpec {
    }
}
