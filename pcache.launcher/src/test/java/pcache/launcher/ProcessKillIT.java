package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGKILL of the pcache process, then a start on the same files: everything acknowledged with FUA
 * (qemu-io's default writethrough mode) or followed by a flush reads back, cycle after cycle,
 * while another client is writing (unflushed) at the moment of the kill. At the end the cache
 * writes everything back and the backing file holds exactly what was acknowledged.
 *
 * <p>{@code -Dpcache.e2e.kill.cycles=N} sets the number of kills (default 3, or 100 with
 * {@code -Dpcache.test.long=true}); {@code -Dpcache.e2e.seed=S} replays a run (CI uses a fixed
 * seed, the long run a random one, printed in any failure).
 */
@Timeout(value = 3, unit = TimeUnit.HOURS) // each step below is bounded on its own; this only caps the long run
class ProcessKillIT {

    private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(60);
    private static final int CHECKED_BYTES = 56 << 20;
    private static final int WRITES_PER_MODE = 12;

    @TempDir
    Path dir;

    private static int cycles() {
        int configured = Integer.getInteger("pcache.e2e.kill.cycles", 0);
        if (configured > 0) {
            return configured;
        }
        return Boolean.getBoolean("pcache.test.long") ? 100 : 3;
    }

    @Test
    void acknowledgedAndFlushedWritesSurviveSigkill() throws Exception {
        ExternalTools.assumeInstalled("qemu-io", "fio");
        // CI replays one fixed seed; the long run draws a new one each time
        long seed = Long.getLong("pcache.e2e.seed", Boolean.getBoolean("pcache.test.long") ? System.nanoTime() : 4);
        int cycles = cycles();
        String context = "seed " + seed + " (-Dpcache.e2e.seed=" + seed + " replays it), " + cycles + " cycles";
        PatternModel model = new PatternModel(0, CHECKED_BYTES);
        try (PcacheProcess pcache = PcacheProcess.configure(dir, Optional.empty(), """
                cache.k.cache_dev = k.cache
                cache.k.cache_dev_size = 512M
                cache.k.backing_dev = file:k.backing
                cache.k.backing_dev_size = 64M
                """); ExternalTools tools = new ExternalTools(dir)) {
            Random random = new Random(seed);
            for (int cycle = 0; cycle < cycles; cycle++) {
                try {
                    writeThenKill(pcache, tools, model, random);
                } catch (AssertionError e) {
                    throw new AssertionError("cycle " + cycle + ", " + context + ": " + e.getMessage(), e);
                }
            }
            try {
                pcache.startServing("k");
                tools.qemuIo(TOOL_TIMEOUT, pcache.unixUri("k"), false, model.qemuIoChecks());
                pcache.awaitClean("k", Duration.ofSeconds(120));
                assertEquals(0, pcache.stop(), pcache.log());
            } catch (AssertionError e) {
                throw new AssertionError("after the last kill, " + context + ": " + e.getMessage(), e);
            }
        }
        byte[] backing = Arrays.copyOf(Files.readAllBytes(dir.resolve("data/k.backing")), CHECKED_BYTES);
        byte[] expected = model.expected();
        int at = Arrays.mismatch(expected, backing);
        assertEquals(-1, at, () -> "after write-back the backing file differs at byte " + at + " ("
                + context + "): expected " + (expected[at] & 0xff) + ", found " + (backing[at] & 0xff));
    }

    /**
     * One cycle: start on the files the last cycle left, check everything acknowledged so far,
     * write with FUA and with write-back caching plus a flush, then SIGKILL the process while an
     * unflushed writer past the checked range is busy.
     */
    private static void writeThenKill(PcacheProcess pcache, ExternalTools tools, PatternModel model, Random random)
            throws Exception {
        String uri = pcache.unixUri("k");
        pcache.startServing("k");
        tools.qemuIo(TOOL_TIMEOUT, uri, false, model.qemuIoChecks());

        List<PatternModel.PatternWrite> fua = model.randomWrites(random, WRITES_PER_MODE);
        tools.qemuIo(TOOL_TIMEOUT, uri, false, fua.stream().map(PatternModel.PatternWrite::qemuIoWrite).toList());
        fua.forEach(model::apply);
        List<PatternModel.PatternWrite> flushed = model.randomWrites(random, WRITES_PER_MODE);
        List<String> commands = new ArrayList<>(flushed.stream().map(PatternModel.PatternWrite::qemuIoWrite).toList());
        commands.add("flush");
        tools.qemuIo(TOOL_TIMEOUT, uri, true, commands);
        flushed.forEach(model::apply);

        Process busy = tools.start("fio", "--name=busy", "--ioengine=nbd", "--uri=" + uri, "--rw=randwrite",
                "--bs=64k", "--iodepth=8", "--offset=" + CHECKED_BYTES, "--size=8M", "--time_based", "--runtime=60");
        Thread.sleep(200 + random.nextInt(500));
        pcache.kill();
        busy.waitFor(30, TimeUnit.SECONDS);
    }
}
