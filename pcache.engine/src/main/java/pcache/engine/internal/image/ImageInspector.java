package pcache.engine.internal.image;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import pcache.api.CacheImageTool;
import pcache.api.spi.CrcProvider;

/**
 * {@link CacheImageTool} over a file or block device: {@code inspect} prints everything a scan of
 * the image finds, {@code fsck} verifies every CRC (with data CRC, of every current extent too) and
 * reports problems and dirty data. Plain Java; {@link CacheImageToolComponent} registers it.
 */
public final class ImageInspector implements CacheImageTool {

    private static final int DIRTY_RANGES_SHOWN = 20;

    private final CrcProvider crc;

    public ImageInspector(CrcProvider crc) {
        this.crc = crc;
    }

    @Override
    public String inspect(Path cacheDevice, boolean keys) throws IOException {
        try (ImageFile image = ImageFile.open(cacheDevice)) {
            ImageScan scan = new ImageScan(image, crc, new ImageScan.Options(keys, false)).run();
            StringBuilder out = new StringBuilder(scan.dump());
            if (!scan.summary().isEmpty()) {
                out.append("summary:\n");
                scan.summary().forEach(s -> out.append("  ").append(s).append('\n'));
            }
            out.append(scan.problems());
            return out.toString();
        }
    }

    @Override
    public FsckReport fsck(Path cacheDevice) throws IOException {
        try (ImageFile image = ImageFile.open(cacheDevice)) {
            return fsck(image);
        }
    }

    /** The check of an open image (tests give it an image held in memory). */
    public FsckReport fsck(ImageFile image) throws IOException {
        ImageScan scan = new ImageScan(image, crc, new ImageScan.Options(false, true)).run();
        List<String> errors = List.copyOf(scan.errors());
        List<String> warnings = List.copyOf(scan.warnings());
        StringBuilder out = new StringBuilder();
        out.append("fsck of ").append(image.name()).append(": ")
                .append(errors.isEmpty() ? "ok" : errors.size() + " error(s)")
                .append(warnings.isEmpty() ? "" : ", " + warnings.size() + " warning(s)").append('\n');
        scan.summary().forEach(s -> out.append("  ").append(s).append('\n'));
        if (!scan.dirtyRanges().isEmpty()) {
            out.append("dirty ranges:\n").append(scan.dirtyRangeLines(DIRTY_RANGES_SHOWN));
        }
        if (!errors.isEmpty() || !warnings.isEmpty()) {
            out.append(scan.problems());
        }
        return new FsckReport(image.name(), errors, warnings, scan.dirtyBytes(), List.copyOf(scan.dirtyRanges()),
                out.toString());
    }
}
