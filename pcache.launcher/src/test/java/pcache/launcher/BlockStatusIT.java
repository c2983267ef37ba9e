package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Block status of a real cache, end to end: the distribution over a sparse backing file (2 MiB of
 * data at 8 MiB in 64 MiB), read by {@code nbdinfo --map}, {@code nbdinfo --map=pcache:dirty},
 * {@code qemu-img map} and {@code nbdcopy}. The holes come from the file (SEEK_HOLE through the
 * JNA bundle), zero areas from write-zeroes, dirty ranges from writes not yet written back, which
 * {@code pcache:drain} makes clean. The tests run in order on one instance.
 */
@Timeout(120)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class BlockStatusIT {

    private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(60);
    private static final long SIZE = 64L << 20;
    private static final long MIB = 1 << 20;

    @TempDir
    static Path dir;

    /** The batching policy's default max_age_ms: below its high watermark nothing is written back sooner. */
    private static final long BATCHING_MAX_AGE_MILLIS = 30_000;

    private static PcacheProcess pcache;
    private ExternalTools tools;

    @BeforeAll
    static void startPcache() throws Exception {
        Path data = Files.createDirectories(dir.resolve("data"));
        byte[] random = new byte[(int) (2 * MIB)];
        new Random(1).nextBytes(random);
        try (RandomAccessFile f = new RandomAccessFile(data.resolve("bs.backing").toFile(), "rw")) {
            f.setLength(SIZE);
            f.seek(8 * MIB);
            f.write(random);
        }
        // batching write-back: a few MiB stay dirty until drained (or 30 s, max_age_ms)
        pcache = PcacheProcess.configure(dir, Optional.empty(), """
                cache.bs.cache_dev = bs.cache
                cache.bs.cache_dev_size = 512M
                cache.bs.backing_dev = file:bs.backing
                cache.bs.writeback_policy = batching
                """);
        pcache.startServing("bs");
    }

    @AfterAll
    static void stopPcache() throws Exception {
        if (pcache != null && pcache.isAlive()) {
            assertEquals(0, pcache.stop(), "clean stop on SIGTERM:\n" + pcache.log());
        }
    }

    @BeforeEach
    void tools() {
        ExternalTools.assumeInstalled("nbdinfo", "qemu-io", "qemu-img", "nbdcopy");
        tools = new ExternalTools(dir);
    }

    @AfterEach
    void killTools() throws InterruptedException {
        tools.close();
    }

    /** The cache's counter of bytes read by clients ({@code pcache:stats}). */
    private static long bytesRead() {
        String stats = pcache.ctl("pcache:stats bs").out();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("bytes read\\s+(\\d+)").matcher(stats);
        assertTrue(m.find(), stats);
        return Long.parseLong(m.group(1));
    }

    /** The map nbdinfo prints, one "offset length flags" string per extent. */
    private List<String> map(String context) throws Exception {
        ExternalTools.Result r = tools.run(TOOL_TIMEOUT, "nbdinfo", "--map=" + context, pcache.unixUri("bs"))
                .assertSucceeded();
        List<String> extents = new ArrayList<>();
        for (String line : r.stdout().split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 3) {
                extents.add(f[0] + " " + f[1] + " " + f[2]);
            }
        }
        return extents;
    }

    @Test
    @Order(1)
    void theBackingFilesHolesShowThroughAnEmptyCache() throws Exception {
        assertEquals(List.of("0 8388608 3", "8388608 2097152 0", "10485760 56623104 3"), map("base:allocation"));
        assertEquals(List.of("0 67108864 0"), map("pcache:dirty"));
    }

    @Test
    @Order(2)
    void writesAndWriteZeroesShowAsDataZeroesAndDirtyUntilDrained() throws Exception {
        long beforeWrites = System.nanoTime();
        tools.run(TOOL_TIMEOUT, "qemu-io", "-f", "raw", "-c", "write -P 0x5a 0 1M", "-c", "write -z 4M 2M",
                pcache.unixUri("bs")).assertSucceeded();
        assertEquals(List.of("0 1048576 0", "1048576 3145728 3", "4194304 2097152 2", "6291456 2097152 3",
                "8388608 2097152 0", "10485760 56623104 3"), map("base:allocation"));

        // the batching policy may write either range back at any moment (before the map as well as
        // during it), so the map must flag nothing but what was written; exactly both ranges when
        // nothing was written back (BlockStatusModelTest checks exact answers without that race)
        List<String> dirty = map("pcache:dirty");
        long[][] written = {{0, 1048576}, {4194304, 2097152}};
        long end = 0;
        for (String e : dirty) {
            String[] f = e.split(" ");
            long offset = Long.parseLong(f[0]);
            long length = Long.parseLong(f[1]);
            assertEquals(end, offset, "contiguous: " + dirty);
            end = offset + length;
            if (f[2].equals("1")) {
                assertTrue(java.util.Arrays.stream(written).anyMatch(w -> w[0] <= offset
                        && offset + length <= w[0] + w[1]), "only written ranges are dirty: " + dirty);
            }
        }
        assertEquals(SIZE, end, dirty.toString());
        long afterMapMillis = (System.nanoTime() - beforeWrites) / 1_000_000;
        System.out.println("BlockStatusIT: pcache:dirty after the writes (" + afterMapMillis + " ms after them): "
                + dirty);
        if (afterMapMillis < BATCHING_MAX_AGE_MILLIS) {
            // far below batching's high watermark, nothing is written back before max_age_ms has passed
            assertEquals(List.of("0 1048576 1", "1048576 3145728 0", "4194304 2097152 1", "6291456 60817408 0"),
                    dirty, "both written ranges are dirty, and nothing else");
        }

        assertEquals(0, pcache.ctl("pcache:drain bs").status());
        assertEquals(List.of("0 67108864 0"), map("pcache:dirty"), "clean after write-back");
        // still cached: data and zeroes as before
        assertEquals("0 1048576 0", map("base:allocation").get(0));
    }

    @Test
    @Order(3)
    void qemuImgMapShowsHolesAndZeroes() throws Exception {
        String json = tools.run(TOOL_TIMEOUT, "qemu-img", "map", "--output=json", "-f", "raw", pcache.unixUri("bs"))
                .assertSucceeded().stdout().replaceAll("\\s+", "");
        assertTrue(json.contains("{\"start\":0,\"length\":1048576,\"depth\":0,\"present\":true,\"zero\":false,"
                + "\"data\":true"), json);
        assertTrue(json.contains("{\"start\":1048576,\"length\":3145728,\"depth\":0,\"present\":true,\"zero\":true,"
                + "\"data\":false"), json);
        assertTrue(json.contains("{\"start\":4194304,\"length\":2097152,\"depth\":0,\"present\":true,\"zero\":true,"
                + "\"data\":true"), json);
    }

    @Test
    @Order(4)
    void nbdcopySkipsTheHoles() throws Exception {
        Path copy = dir.resolve("copy.img");
        long readBefore = bytesRead();
        tools.run(TOOL_TIMEOUT, "nbdcopy", pcache.unixUri("bs"), copy.toString()).assertSucceeded();
        long read = bytesRead() - readBefore;
        System.out.println("BlockStatusIT: nbdcopy read " + read + " bytes of the export");
        // 3 MiB of data (1 MiB written, 2 MiB of the backing file); the zeroes and holes are not read
        assertTrue(read >= 3 * MIB && read <= 8 * MIB, "nbdcopy read " + read + " bytes of the 64 MiB export");
        assertEquals(SIZE, Files.size(copy));
        String[] blocks = tools.run(TOOL_TIMEOUT, "stat", "-c", "%b %B", copy.toString()).assertSucceeded()
                .stdout().trim().split(" ");
        long allocated = Long.parseLong(blocks[0]) * Long.parseLong(blocks[1]);
        assertTrue(allocated <= 6 * MIB, "the copy of 3 MiB of data in 64 MiB stays sparse: " + allocated
                + " bytes allocated");
        tools.run(TOOL_TIMEOUT, "qemu-img", "compare", "-f", "raw", "-F", "raw", copy.toString(),
                pcache.unixUri("bs")).assertSucceeded();
    }

    /**
     * The zero mark is kept in memory only, but write-back sent the zeroes as write-zeroes, which
     * the backing file (ext4 or XFS) turned into a hole of zeroes: after a restart the cache holds
     * the range clean, takes the backing file's answer for it, and it still shows as zero. The
     * data written at 0 stays data.
     */
    @Test
    @Order(5)
    void afterARestartTheZeroesWrittenBackShowThroughTheBackingFile() throws Exception {
        String type = Files.getFileStore(dir).type();
        assertEquals(0, pcache.ctl("pcache:drain bs").status());
        assertEquals(0, pcache.stop(), "clean stop on SIGTERM:\n" + pcache.log());
        pcache.startServing("bs");
        List<String> map = map("base:allocation");
        assertEquals("0 1048576 0", map.get(0), map.toString());
        if (type.equals("ext4") || type.equals("xfs")) {
            assertEquals(List.of("0 1048576 0", "1048576 7340032 3", "8388608 2097152 0", "10485760 56623104 3"),
                    map, "the zeroes at 4 MiB are part of the backing file's hole now (" + type + ")");
        } else {
            System.out.println("BlockStatusIT: " + type + " has no FALLOC_FL_ZERO_RANGE; the map after a restart: "
                    + map);
        }
        assertEquals(List.of("0 67108864 0"), map("pcache:dirty"));
    }
    /**
     * A client's trim of the backing file's data (8 MiB to 10 MiB, read once above, so cached
     * clean) reaches the backing file through write-back, which punches a hole there (ext4, XFS,
     * tmpfs): after a drain the map shows that range as part of the file's hole.
     */
    @Test
    @Order(6)
    void aTrimReachesTheBackingFileAsAHole() throws Exception {
        String type = Files.getFileStore(dir).type();
        tools.run(TOOL_TIMEOUT, "qemu-io", "-f", "raw", "--discard=unmap", "-c", "discard 8M 2M",
                pcache.unixUri("bs")).assertSucceeded();
        assertEquals(0, pcache.ctl("pcache:drain bs").status());
        List<String> map = map("base:allocation");
        if (type.equals("ext4") || type.equals("xfs") || type.equals("tmpfs")) {
            assertEquals(List.of("0 1048576 0", "1048576 66060288 3"), map,
                    "the trimmed 2 MiB at 8 MiB are part of the backing file's hole (" + type + ")");
        } else {
            System.out.println("BlockStatusIT: the map after a trim on " + type + ": " + map);
        }
        assertEquals(List.of("0 67108864 0"), map("pcache:dirty"));
    }
}
