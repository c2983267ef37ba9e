package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * nbdkit as the backing server of a cache ({@code cache.b.backing_dev = nbd+unix:///?socket=...},
 * pcache.backing.nbd): written data reaches nbdkit once the cache is clean, also over TLS
 * ({@code nbds+unix://} with a PSK, the distribution's pcache.tls); faults injected by
 * nbdkit's error and delay filters stay invisible to clients and write-back completes once they
 * are gone; a crash of nbdkit during write-back loses nothing.
 */
@Timeout(180)
class NbdkitBackingIT {

    private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration CLEAN_TIMEOUT = Duration.ofSeconds(90);
    private static final int DISK_BYTES = 32 << 20;

    @TempDir
    Path dir;

    private final List<AutoCloseable> resources = new ArrayList<>();
    private ExternalTools tools;

    @BeforeEach
    void tools() {
        tools = new ExternalTools(dir);
        resources.add(tools);
    }

    /** pcache first (it flushes to nbdkit when it stops), then the nbdkit servers. */
    @AfterEach
    void cleanUp() throws Exception {
        for (int i = resources.size() - 1; i >= 0; i--) {
            resources.get(i).close();
        }
    }

    private NbdkitProcess nbdkit(String... args) throws Exception {
        NbdkitProcess server = NbdkitProcess.start(dir, "kit", args);
        resources.add(server);
        return server;
    }

    private PcacheProcess pcacheOn(NbdkitProcess backing) throws Exception {
        return pcacheOn(backing.uri());
    }

    private PcacheProcess pcacheOn(String backingUri) throws Exception {
        PcacheProcess pcache = PcacheProcess.configure(dir, Optional.empty(), """
                cache.b.cache_dev = b.cache
                cache.b.cache_dev_size = 512M
                cache.b.backing_dev = %s
                """.formatted(backingUri));
        resources.add(pcache);
        return pcache.startServing("b");
    }

    private Path sparseImage() throws Exception {
        Path image = dir.resolve("disk.img");
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw")) {
            file.setLength(DISK_BYTES);
        }
        return image;
    }

    private Path randomFile(String name, int bytes, long seed) throws Exception {
        byte[] data = new byte[bytes];
        new Random(seed).nextBytes(data);
        return Files.write(dir.resolve(name), data);
    }

    @Test
    void memoryPluginReceivesWhatWasWrittenOnceTheCacheIsClean() throws Exception {
        ExternalTools.assumeInstalled("nbdcopy");
        NbdkitProcess kit = nbdkit("memory", "size=" + DISK_BYTES);
        PcacheProcess pcache = pcacheOn(kit);
        Path in = randomFile("in.bin", DISK_BYTES, 1);
        tools.run(TOOL_TIMEOUT, "nbdcopy", "--flush", in.toString(), pcache.unixUri("b")).assertSucceeded();
        pcache.awaitClean("b", CLEAN_TIMEOUT);
        Path fromKit = dir.resolve("from-nbdkit.bin");
        tools.run(TOOL_TIMEOUT, "nbdcopy", kit.uri(), fromKit.toString()).assertSucceeded();
        assertEquals(-1, Files.mismatch(in, fromKit), "nbdkit's memory holds what the client wrote");
    }

    @Test
    void filePluginFileHoldsTheFlushedPatternsOnceTheCacheIsClean() throws Exception {
        ExternalTools.assumeInstalled("qemu-io");
        Path image = sparseImage();
        PcacheProcess pcache = pcacheOn(nbdkit("file", image.toString()));
        PatternModel model = new PatternModel(0, DISK_BYTES);
        List<PatternModel.PatternWrite> writes = model.randomWrites(new Random(2), 64);
        writes.forEach(model::apply);
        List<String> commands = new ArrayList<>(writes.stream().map(PatternModel.PatternWrite::qemuIoWrite).toList());
        commands.add("flush");
        tools.qemuIo(TOOL_TIMEOUT, pcache.unixUri("b"), true, commands);
        tools.qemuIo(TOOL_TIMEOUT, pcache.unixUri("b"), false, model.qemuIoChecks());
        pcache.awaitClean("b", CLEAN_TIMEOUT);
        assertImageEquals(model.expected(), image);
    }

    @Test
    void errorAndDelayFiltersAreInvisibleToClientsAndWriteBackCompletesWithoutThem() throws Exception {
        ExternalTools.assumeInstalled("qemu-io", "fio", "nbdcopy");
        Path image = sparseImage();
        // error outermost, delay under it: 10 % of writes and zeroes fail with EIO, all are slow
        NbdkitProcess kit = nbdkit("--filter=error", "--filter=delay", "file", image.toString(), "error=EIO",
                "error-pwrite-rate=10%", "error-zero-rate=10%", "delay-write=2ms", "delay-zero=2ms");
        PcacheProcess pcache = pcacheOn(kit);
        PatternModel model = new PatternModel(0, 16 << 20);
        List<PatternModel.PatternWrite> writes = model.randomWrites(new Random(3), 48);
        writes.forEach(model::apply);
        tools.qemuIo(TOOL_TIMEOUT, pcache.unixUri("b"), false,
                writes.stream().map(PatternModel.PatternWrite::qemuIoWrite).toList());
        tools.run(TOOL_TIMEOUT, "fio", "--name=faults", "--ioengine=nbd", "--uri=" + pcache.unixUri("b"),
                "--rw=randwrite", "--bs=4k", "--iodepth=16", "--offset=16M", "--size=8M", "--fsync=32",
                "--verify=crc32c", "--do_verify=1", "--verify_fatal=1").assertSucceeded();
        tools.qemuIo(TOOL_TIMEOUT, pcache.unixUri("b"), false, model.qemuIoChecks());
        awaitLog(kit, "injecting EIO error", Duration.ofSeconds(60));
        long injected = kit.log().lines().filter(l -> l.contains("injecting EIO error")).count();

        kit.restart("file", image.toString()); // the same socket, no filters
        pcache.awaitClean("b", CLEAN_TIMEOUT);
        assertImageEquals(model.expected(), image);
        Path view = dir.resolve("view.bin");
        tools.run(TOOL_TIMEOUT, "nbdcopy", pcache.unixUri("b"), view.toString()).assertSucceeded();
        assertEquals(-1, Files.mismatch(view, image), "what clients read is what nbdkit's file holds");
        assertTrue(pcache.log().contains("will retry with back-off"), pcache.log());
        String stats = pcache.ctl("pcache:stats b").out();
        System.out.println("backing faults: nbdkit injected " + injected + " EIO errors; pcache:stats b after the"
                + " write-back completed:\n" + stats);
        Matcher failed = Pattern.compile("backing\\s+(\\d+) failed operations").matcher(stats);
        assertTrue(failed.find() && Long.parseLong(failed.group(1)) > 0, "statistics count the backing errors:\n" + stats);
    }

    @Test
    void killingNbdkitDuringWriteBackLosesNothing() throws Exception {
        ExternalTools.assumeInstalled("nbdcopy");
        Path image = sparseImage();
        // slow enough that write-back is still under way at both kills, however long nbdcopy took
        // on a loaded machine: ordered write-back coalesces the 32 MiB into runs of up to 4 MiB,
        // so as few as 8 writes, 16 s at 2 s each; the last restart is at full speed
        String[] slow = {"--filter=delay", "file", image.toString(), "delay-write=2000ms"};
        NbdkitProcess kit = nbdkit(slow);
        PcacheProcess pcache = pcacheOn(kit);
        Path in = randomFile("in.bin", DISK_BYTES, 4);
        tools.run(TOOL_TIMEOUT, "nbdcopy", "--flush", in.toString(), pcache.unixUri("b")).assertSucceeded();
        for (int crash = 0; crash < 2; crash++) {
            Thread.sleep(500); // write-back is under way, slowed down by the delay filter
            assertTrue(!pcache.isClean("b"), "still writing back when nbdkit is killed");
            kit.kill();
            Thread.sleep(300);
            kit.restart(crash == 0 ? slow : new String[] {"file", image.toString()});
        }
        pcache.awaitClean("b", CLEAN_TIMEOUT);
        assertEquals(-1, Files.mismatch(in, image), "nbdkit's file holds everything the client wrote");
    }

    private static void awaitLog(NbdkitProcess kit, String text, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!kit.log().contains(text)) {
            if (System.nanoTime() > deadline) {
                fail("nbdkit never logged '" + text + "' within " + timeout + ":\n" + kit.log());
            }
            Thread.sleep(100);
        }
    }

    @Test
    void anNbdsBackingDeviceWritesBackOverTls() throws Exception {
        ExternalTools.assumeInstalled("nbdcopy");
        byte[] key = new byte[32];
        new Random(5).nextBytes(key);
        Path keys = Files.createFile(dir.resolve("keys.psk"), PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rw-------")));
        Files.writeString(keys, "alice:" + HexFormat.of().formatHex(key) + "\n");
        Path image = sparseImage();
        NbdkitProcess kit = nbdkit("--tls=require", "--tls-psk=" + keys, "file", image.toString());
        // the launcher's backing_dev takes the URI as libnbd spells it, credentials in the query
        PcacheProcess pcache = pcacheOn(kit.uri().replace("nbd+unix:///", "nbds+unix://alice@/")
                + "&tls-psk-file=" + keys);
        Path in = randomFile("in.bin", DISK_BYTES, 6);
        tools.run(TOOL_TIMEOUT, "nbdcopy", "--flush", in.toString(), pcache.unixUri("b")).assertSucceeded();
        pcache.awaitClean("b", CLEAN_TIMEOUT);
        // --tls=require: nbdkit serves nothing to a client that did not negotiate TLS
        assertEquals(-1, Files.mismatch(in, image), "nbdkit's file holds what the client wrote, sent over TLS");
    }

    private static void assertImageEquals(byte[] expected, Path image) throws Exception {
        byte[] actual = Arrays.copyOf(Files.readAllBytes(image), expected.length);
        int at = Arrays.mismatch(expected, actual);
        assertEquals(-1, at, () -> "backing file differs at byte " + at + ": expected "
                + (expected[at] & 0xff) + ", found " + (actual[at] & 0xff));
    }
}
