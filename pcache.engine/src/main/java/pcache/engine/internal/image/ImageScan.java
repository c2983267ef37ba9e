package pcache.engine.internal.image;

import java.io.IOException;
import java.util.List;

import pcache.api.format.PcacheFormat;
import pcache.api.spi.CrcProvider;

/**
 * One pass over a cache device image: reads every metadata structure and the key log the way a
 * cache would at start-up (reference §2.3-§3.6), but never stops at the first problem. It writes a
 * readable dump as it goes and collects errors (the cache cannot be used or data is lost) and
 * warnings (the cache recovers: a damaged spare slot, a torn kset at the end of the log, stale
 * keys). Read-only.
 *
 * <p>The pass has three parts, in the order a cache reads the device: {@link MetadataScan} (the
 * cache-wide records), {@link SegmentChainScan} (the segment chain and generations) and
 * {@link KeyLogScan} (the key log and the dirty data); they write to one {@link ScanReport}.
 */
final class ImageScan {

    /** How deep to go. */
    record Options(boolean keys, boolean verifyData) {
    }

    private final ImageFile image;
    private final CrcProvider crc;
    private final Options options;
    private final ScanReport report = new ScanReport();

    private long dirtyBytes;
    private List<long[]> dirtyRanges = List.of();

    ImageScan(ImageFile image, CrcProvider crc, Options options) {
        this.image = image;
        this.crc = crc;
        this.options = options;
    }

    /** Runs the scan; the results are in the accessors. */
    ImageScan run() throws IOException {
        report.line("cache device image %s: %d bytes (%s), room for %d segments", image.name(), image.sizeBytes(),
                ScanReport.human(image.sizeBytes()), PcacheFormat.segmentsFor(image.sizeBytes()));
        MetadataScan metadata = new MetadataScan(image, crc, report);
        if (!metadata.run()) {
            return this;
        }
        SegmentMap segments = new SegmentChainScan(image, crc, report, metadata.segNum(), metadata.info()).run();
        KeyLogScan log = new KeyLogScan(image, crc, options, report, segments, metadata).run();
        dirtyBytes = log.dirtyBytes();
        dirtyRanges = log.dirtyRanges();
        return this;
    }

    // ---------------------------------------------------------------- results

    /** The readable dump (structures, ksets, keys when asked for). */
    String dump() {
        return report.dump();
    }

    /** Summary lines: log extent, segments, dirty data, data CRC. */
    List<String> summary() {
        return report.summary();
    }

    List<String> errors() {
        return report.errors();
    }

    List<String> warnings() {
        return report.warnings();
    }

    long dirtyBytes() {
        return dirtyBytes;
    }

    /** Merged logical ranges of dirty data, {@code [offset, length]}. */
    List<long[]> dirtyRanges() {
        return dirtyRanges;
    }

    /** Problems as a readable block ({@code problems: none} when there are none). */
    String problems() {
        return report.problems();
    }

    /** The dirty ranges as lines, at most {@code max} of them. */
    String dirtyRangeLines(int max) {
        StringBuilder out = new StringBuilder();
        int shown = 0;
        for (long[] r : dirtyRanges) {
            if (shown++ == max) {
                out.append("  ... ").append(dirtyRanges.size() - max).append(" more\n");
                break;
            }
            out.append("  [").append(r[0]).append(", +").append(r[1]).append(")\n");
        }
        return out.toString();
    }
}
