package pcache.backing.file.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import pcache.api.BlockExtent;

/**
 * A sparse backing file's block status: the holes the file system reports (SEEK_HOLE through
 * JNA) on a real sparse file, and, against a plain model of byte-granular data ranges, the
 * rounding to whole sectors (a sector holding any data is data), the extent limit and the shape
 * of every answer. A failure prints the jqwik seed ({@code -Dpcache.jqwik.seed=S} replays it).
 */
class HoleMapTest {

    private static final int SECTOR = 512;
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    @Test
    void aSparseFileReportsItsHolesAndItsData() throws IOException {
        Path file = dir.resolve("sparse.img");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(8 * MIB);
        }
        try (FileBackingDevice device = FileBackingDevice.open(FileBackingSettings.of("disk", file.toString()))) {
            assertEquals(List.of(new BlockExtent(0, 8 * MIB, BlockExtent.HOLE | BlockExtent.ZERO)),
                    device.blockStatus(0, 8 * MIB, 100));
            device.write(MIB, ByteBuffer.wrap(new byte[4096]), false);
            device.write(5 * MIB, ByteBuffer.allocate(64 << 10).put(0, (byte) 1), false);
            device.flush();
            List<BlockExtent> extents = device.blockStatus(0, 8 * MIB, 100);
            assertEquals(List.of(
                    new BlockExtent(0, MIB, 3), new BlockExtent(MIB, 4096, 0),
                    new BlockExtent(MIB + 4096, 4 * MIB - 4096, 3), new BlockExtent(5 * MIB, 64 << 10, 0),
                    new BlockExtent(5 * MIB + (64 << 10), 3 * MIB - (64 << 10), 3)), extents);
            // a limit, and a range starting inside a hole
            assertEquals(List.of(new BlockExtent(MIB / 2, MIB / 2, 3)), device.blockStatus(MIB / 2, 7 * MIB, 1));
        }
    }

    @Test
    void theMapThatKnowsNothingSaysData() throws IOException {
        assertEquals(List.of(new BlockExtent(4096, MIB, 0)), HoleMap.ALL_DATA.extents(4096, MIB, 10));
    }

    /** Data at byte granularity: start -> end of each data range, disjoint. */
    @Provide
    Arbitrary<TreeMap<Long, Long>> dataRanges() {
        return Arbitraries.longs().between(0, 64 * 1024).list().ofMaxSize(24).map(points -> {
            List<Long> sorted = new ArrayList<>(points.stream().distinct().sorted().toList());
            TreeMap<Long, Long> ranges = new TreeMap<>();
            for (int i = 0; i + 1 < sorted.size(); i += 2) {
                ranges.put(sorted.get(i), sorted.get(i + 1));
            }
            return ranges;
        });
    }

    @Property(tries = 300)
    void extentsAreSectorAlignedAndNeverCallDataAHole(@ForAll("dataRanges") TreeMap<Long, Long> data,
            @ForAll @IntRange(min = 0, max = 127) int startSector, @ForAll @IntRange(min = 1, max = 128) int sectors,
            @ForAll @IntRange(min = 1, max = 6) int maxExtents) throws IOException {
        long offset = (long) startSector * SECTOR;
        long length = (long) sectors * SECTOR;
        HoleMap map = new ModelMap(data);
        List<BlockExtent> answer = map.extents(offset, length, maxExtents);
        assertFalse(answer.isEmpty());
        assertTrue(answer.size() <= maxExtents, answer.toString());
        long pos = offset;
        for (BlockExtent e : answer) {
            assertEquals(pos, e.offset(), answer.toString());
            assertEquals(0, e.lengthBytes() % SECTOR, answer.toString());
            assertTrue(e.end() <= offset + length, answer.toString());
            if (e.flags() != 0) {
                assertEquals(BlockExtent.HOLE | BlockExtent.ZERO, e.flags());
                assertFalse(holdsData(data, e.offset(), e.end()), "a hole holding data: " + e + " in " + data);
            } else {
                // a data extent starts and ends with a sector that holds data (else it would be a hole)
                assertTrue(holdsData(data, e.offset(), e.offset() + SECTOR), e + " in " + data);
                assertTrue(holdsData(data, e.end() - SECTOR, e.end()), e + " in " + data);
            }
            pos = e.end();
        }
        if (answer.size() < maxExtents) {
            assertEquals(offset + length, pos, "an answer below the limit covers the range");
        }
    }

    private static boolean holdsData(TreeMap<Long, Long> data, long from, long to) {
        var before = data.lowerEntry(to);
        return before != null && before.getValue() > from;
    }

    /** The model as a {@link HoleMap}. */
    private static final class ModelMap extends HoleMap {
        private final TreeMap<Long, Long> data;

        ModelMap(TreeMap<Long, Long> data) {
            this.data = data;
        }

        @Override
        long nextData(long offset) {
            var at = data.floorEntry(offset);
            if (at != null && at.getValue() > offset) {
                return offset;
            }
            Long next = data.higherKey(offset);
            return next == null ? Long.MAX_VALUE : next;
        }

        @Override
        long nextHole(long offset, long end) {
            var at = data.floorEntry(offset);
            return at != null && at.getValue() > offset ? Math.min(end, at.getValue()) : offset;
        }

        @Override
        public void close() {
        }
    }
}
