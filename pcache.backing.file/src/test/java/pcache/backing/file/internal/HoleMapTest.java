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

    /**
     * A file shrunk under the device (by another program: the locks are advisory) has no hole past
     * its end: reads there fail, so block status reports data there, never a hole a copying tool
     * would skip. Before, the last hole reached the device's end.
     */
    @Test
    void pastTheEndOfAShrunkFileIsDataNotAHole() throws IOException {
        Path file = fileOfOnes("shrunk.img", 2 * MIB);
        try (FileBackingDevice device = FileBackingDevice.open(FileBackingSettings.of("disk", file.toString()))) {
            try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
                f.setLength(MIB);
            }
            assertEquals(List.of(new BlockExtent(0, 2 * MIB, 0)), device.blockStatus(0, 2 * MIB, 100));
            assertEquals(List.of(new BlockExtent(MIB + 4096, MIB - 4096, 0)),
                    device.blockStatus(MIB + 4096, MIB - 4096, 100));
            org.junit.jupiter.api.Assertions.assertThrows(IOException.class,
                    () -> device.read(MIB + 4096, java.nio.ByteBuffer.allocate(4096)));
        }
    }

    /**
     * A question that meets the hole map closed (the device closes it first) fails as the device's
     * close does, which a swap runs again on the device bound next; before, a plain I/O error,
     * counted against the device and passed to the client.
     */
    @Test
    void aQuestionAfterTheHoleMapClosedIsTheDevicesClose() throws IOException {
        Path file = dir.resolve("closed.img");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(MIB);
        }
        SeekHoles holes = SeekHoles.open(file);
        holes.close();
        org.junit.jupiter.api.Assertions.assertThrows(pcache.api.DeviceClosedException.class, () -> holes.nextData(0));
    }

    /**
     * Write-zeroes on a file system that zeroes ranges (ext4, XFS): the range reads as zeroes,
     * block status reports it as a hole of zeroes, and the file keeps its blocks (no later
     * write-back can fail for space). On one that cannot (tmpfs, below), zeroes are written.
     */
    @Test
    void writeZeroesLeavesAHoleOfZeroesAndKeepsTheBlocksAllocated() throws IOException, InterruptedException {
        Path file = fileOfOnes("full.img", 4 * MIB);
        String type = java.nio.file.Files.getFileStore(dir).type();
        boolean zeroesRanges = type.equals("ext4") || type.equals("xfs");
        try (FileBackingDevice device = FileBackingDevice.open(FileBackingSettings.of("disk", file.toString()))) {
            device.flush();
            long blocksBefore = allocatedBlocks(file);
            device.writeZeroes(MIB, 2 * MIB, true);
            if (zeroesRanges) {
                assertEquals(List.of(new BlockExtent(0, MIB, 0), new BlockExtent(MIB, 2 * MIB, 3),
                        new BlockExtent(3 * MIB, MIB, 0)), device.blockStatus(0, 4 * MIB, 100),
                        "block status after write-zeroes on " + type);
                assertEquals(blocksBefore, allocatedBlocks(file), "blocks allocated (stat %b) on " + type);
            } else {
                assertEquals(List.of(new BlockExtent(0, 4 * MIB, 0)), device.blockStatus(0, 4 * MIB, 100));
            }
            // after the block status: reading an unwritten range puts zero pages in the page
            // cache, and the file system then reports it as data (still correct, less precise)
            ByteBuffer back = ByteBuffer.allocate((int) (4 * MIB));
            device.read(0, back);
            for (int i = 0; i < back.capacity(); i++) {
                boolean zeroed = i >= MIB && i < 3 * MIB;
                if (back.get(i) != (zeroed ? 0 : 1)) {
                    throw new AssertionError("byte " + i + " is " + back.get(i) + " (file system " + type + ")");
                }
            }
        }
    }

    /** Write-zeroes where the file system refuses FALLOC_FL_ZERO_RANGE (tmpfs): zeroes written, exactly the range. */
    @Test
    void writeZeroesWritesZeroesWhereTheFileSystemCannotZeroARange() throws IOException {
        Path shm = Path.of("/dev/shm");
        Path file = java.nio.file.Files.createTempFile(java.nio.file.Files.isDirectory(shm) ? shm : dir,
                "pcache-zeroes", ".img");
        try {
            byte[] ones = new byte[(int) (3 * MIB)];
            java.util.Arrays.fill(ones, (byte) 1);
            java.nio.file.Files.write(file, ones);
            try (FileBackingDevice device = FileBackingDevice.open(FileBackingSettings.of("disk", file.toString()))) {
                device.writeZeroes(4096, MIB + 512, false);
                device.writeZeroes(2 * MIB, 4096, true); // a second call, after the refusal was remembered
            }
            byte[] bytes = java.nio.file.Files.readAllBytes(file);
            for (int i = 0; i < bytes.length; i++) {
                boolean zeroed = (i >= 4096 && i < 4096 + MIB + 512) || (i >= 2 * MIB && i < 2 * MIB + 4096);
                if (bytes[i] != (zeroed ? 0 : 1)) {
                    throw new AssertionError("byte " + i + " is " + bytes[i]);
                }
            }
        } finally {
            java.nio.file.Files.deleteIfExists(file);
        }
    }

    /**
     * A trim punches a hole where the file system can (ext4, XFS, tmpfs): the file gives the
     * range's blocks back, the range reads as zeroes and block status reports a hole; the rest of
     * the file keeps its data. A trim outside the device is refused.
     */
    @Test
    void trimGivesTheRangesBlocksBack() throws IOException, InterruptedException {
        Path file = fileOfOnes("trim.img", 4 * MIB);
        String type = java.nio.file.Files.getFileStore(dir).type();
        try (FileBackingDevice device = FileBackingDevice.open(FileBackingSettings.of("disk", file.toString()))) {
            device.flush();
            long blocksBefore = allocatedBlocks(file);
            device.trim(MIB, 2 * MIB);
            if (knownToPunch(type)) {
                assertEquals(blocksBefore - 2 * MIB / 512, allocatedBlocks(file), "blocks allocated (stat %b) on " + type);
                assertEquals(List.of(new BlockExtent(0, MIB, 0), new BlockExtent(MIB, 2 * MIB, 3),
                        new BlockExtent(3 * MIB, MIB, 0)), device.blockStatus(0, 4 * MIB, 100),
                        "block status after a trim on " + type);
            }
            ByteBuffer back = ByteBuffer.allocate((int) (4 * MIB));
            device.read(0, back);
            for (int i = 0; i < back.capacity(); i++) {
                boolean trimmed = i >= MIB && i < 3 * MIB;
                if (back.get(i) != (trimmed ? 0 : 1) && !(trimmed && back.get(i) == 1 && !knownToPunch(type))) {
                    throw new AssertionError("byte " + i + " is " + back.get(i) + " (file system " + type + ")");
                }
            }
            org.junit.jupiter.api.Assertions.assertThrows(pcache.api.OutOfRangeException.class,
                    () -> device.trim(4 * MIB, 4096));
        }
    }

    /** A file in the test's directory, {@code size} bytes of ones. */
    private Path fileOfOnes(String name, long size) throws IOException {
        byte[] ones = new byte[(int) size];
        java.util.Arrays.fill(ones, (byte) 1);
        return java.nio.file.Files.write(dir.resolve(name), ones);
    }

    private static boolean knownToPunch(String type) {
        return type.equals("ext4") || type.equals("xfs") || type.equals("tmpfs");
    }

    /** The file's allocated 512-byte blocks, as {@code stat %b} reports them. */
    private static long allocatedBlocks(Path file) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("stat", "-c", "%b", file.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII).trim();
        assertEquals(0, p.waitFor(), "stat: " + out);
        return Long.parseLong(out);
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
