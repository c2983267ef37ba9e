package pcache.api;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import org.osgi.annotation.versioning.ProviderType;

/**
 * Offline examination of a cache device image (a file or block device not opened by a running
 * cache): a readable dump of its metadata and key log, and a consistency check. Never writes.
 */
@ProviderType
public interface CacheImageTool {

    /**
     * A readable dump: superblock, both slots of cache_info and of the tail positions, pcache's
     * extension record, the segment chain with generations, and every kset (and, with
     * {@code keys}, every key) of the log from key_tail to its end, with CRC verdicts.
     */
    String inspect(Path cacheDevice, boolean keys) throws IOException;

    /** Verifies every CRC and reference of the image; see {@link FsckReport}. */
    FsckReport fsck(Path cacheDevice) throws IOException;

    /**
     * What a check found.
     *
     * @param device the image checked
     * @param errors problems that make the cache unusable or lose data (each names the structure
     *        and offset)
     * @param warnings problems the cache recovers from (a damaged spare slot, a torn kset at the
     *        end of the log)
     * @param dirtyBytes bytes not yet written back (between dirty_tail and the end of the log)
     * @param dirtyRanges the logical ranges those bytes cover, merged, as {@code [offset, length]}
     * @param report the full readable report
     */
    record FsckReport(String device, List<String> errors, List<String> warnings, long dirtyBytes,
            List<long[]> dirtyRanges, String report) {

        /** True when nothing is wrong beyond warnings. */
        public boolean ok() {
            return errors.isEmpty();
        }
    }
}
