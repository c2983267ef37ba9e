package pcache.backing.file.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import pcache.api.BlockDevice;
import pcache.api.BlockExtent;
import pcache.io.log.Log;

/**
 * Where a sparse file's holes are, for {@link FileBackingDevice#blockStatus}: the file
 * system's own answer ({@code lseek} with {@code SEEK_DATA} and {@code SEEK_HOLE}, through
 * {@link SeekHoles}), turned into extents flagged {@link BlockExtent#HOLE} and
 * {@link BlockExtent#ZERO} (a hole reads as zeroes) or data.
 *
 * <p>Where it cannot tell (a block device, a platform or file system without
 * {@code SEEK_HOLE}, JNA missing) every range is data, which is always true.
 */
abstract class HoleMap implements AutoCloseable {

    private static final System.Logger LOG = Log.of(HoleMap.class);

    /** The map that knows nothing: every range is data. */
    static final HoleMap ALL_DATA = new HoleMap() {
        @Override
        long nextData(long offset) {
            return offset;
        }

        @Override
        long nextHole(long offset, long end) {
            return end;
        }

        @Override
        public void close() {
        }
    };

    /**
     * The best map for {@code file}: the file system's answer for a regular file where the
     * platform offers it, {@link #ALL_DATA} otherwise (logged once at DEBUG with the reason).
     */
    static HoleMap of(Path file, String description) {
        if (!Files.isRegularFile(file)) {
            return ALL_DATA;
        }
        try {
            return SeekHoles.open(file);
        } catch (IOException | LinkageError | RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "{0}: holes cannot be found ({1}); block status reports all data",
                    description, e.toString());
            return ALL_DATA;
        }
    }

    /** The first offset at or after {@code offset} that holds data; {@code Long.MAX_VALUE} if none. */
    abstract long nextData(long offset) throws IOException;

    /** The first offset at or after {@code offset} (which holds data) that is a hole, at most {@code end}. */
    abstract long nextHole(long offset, long end) throws IOException;

    /**
     * The extents of {@code [offset, offset + length)} of a device of {@code sizeBytes} bytes,
     * sector-aligned (a hole is reported from the first whole sector to the last, a partial
     * sector counts as data), at most {@code max(1, maxExtents)}.
     */
    final List<BlockExtent> extents(long offset, long length, int maxExtents) throws IOException {
        int sector = BlockDevice.SECTOR_SIZE;
        long end = offset + length;
        List<BlockExtent> out = new ArrayList<>();
        long pos = offset;
        while (pos < end && out.size() < Math.max(1, maxExtents)) {
            long data = Math.min(end, nextData(pos));
            long holeEnd = data == end ? end : data & -sector; // data begins in this sector: count it as data
            if (holeEnd > pos) {
                add(out, pos, holeEnd, BlockExtent.HOLE | BlockExtent.ZERO);
                pos = holeEnd;
                continue;
            }
            long hole = Math.min(end, Math.max(pos + 1, nextHole(pos, end)));
            long dataEnd = hole == end ? end : (hole + sector - 1) & -sector;
            add(out, pos, Math.max(dataEnd, pos + sector), 0);
            pos = Math.max(dataEnd, pos + sector);
        }
        return out;
    }

    /** Appends {@code [from, to)}, merged with the last extent when the flags agree. */
    private static void add(List<BlockExtent> out, long from, long to, int flags) {
        BlockExtent last = out.isEmpty() ? null : out.get(out.size() - 1);
        if (last != null && last.flags() == flags && last.end() == from) {
            out.set(out.size() - 1, new BlockExtent(last.offset(), to - last.offset(), flags));
        } else {
            out.add(new BlockExtent(from, to - from, flags));
        }
    }

    @Override
    public abstract void close();
}
