package pcache.bench.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import pcache.testkit.ExternalTools;

/**
 * The flushed writes as the harness runs them, with the real fio against nbdkit's memory plugin:
 * fio at QD16 replays the I/O logs with exactly one flush per 32 writes (fio's own
 * {@code --fsync=32} issues about 15 at that depth), on one connection and on several, and the
 * harness's check finds the run as logged. The logs are long enough for 600,000 writes per second
 * on one connection and 300,000 on each of three (nbdkit memory took 120,000–131,000 on one here).
 */
class FlushedWritesReplayTest {

    @TempDir
    Path dir;

    private Process nbdkit;
    private String uri;

    @BeforeEach
    void startNbdkit() throws IOException, InterruptedException {
        ExternalTools.require("fio", "nbdkit");
        Path socket = dir.resolve("m.sock");
        nbdkit = new ProcessBuilder("nbdkit", "--foreground", "--exit-with-parent", "--unix", socket.toString(),
                "memory", "64M").redirectErrorStream(true).redirectOutput(dir.resolve("nbdkit.log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!Files.exists(socket)) {
            assertTrue(nbdkit.isAlive(), () -> "nbdkit exited: " + read(dir.resolve("nbdkit.log")));
            assertTrue(System.nanoTime() < deadline, "nbdkit made no socket in 20 s");
            Thread.sleep(20);
        }
        uri = "nbd+unix:///?socket=" + socket;
    }

    @AfterEach
    void stopNbdkit() throws InterruptedException {
        nbdkit.destroy();
        nbdkit.waitFor(10, TimeUnit.SECONDS);
    }

    @Test
    void oneConnection() throws IOException, InterruptedException {
        check(FioWorkload.FLUSHED_RANDWRITE_4K);
    }

    @Test
    void threeConnections() throws IOException, InterruptedException {
        check(FioWorkload.FLUSHED_RANDWRITE_4K_MULTI);
    }

    private void check(FioWorkload workload) throws IOException, InterruptedException {
        BenchSettings s = BenchSettings.parse("--runtime=1", "--ramp=0", "--range=64M", "--backing=64M",
                "--connections=3");
        System.out.println(workload + ": I/O log seed " + s.seed());
        try (FlushedWriteLogs logs = FlushedWriteLogs.create(dir, s, 600_000, 300_000)) {
            Path json = dir.resolve(workload + ".json");
            Tools.Result r = Tools.run(dir, Duration.ofSeconds(60), workload.fioCommand(uri, s, json.toString(), logs));
            assertEquals(0, r.exitCode(), r::stderr);
            FioResult result = FioResult.parse(json, false, workload.queueDepth(s));
            assertEquals(0, result.errors());
            assertTrue(result.writes() > 1000, () -> "only " + result.writes() + " writes");
            assertNull(NbdBench.notAsLogged(workload, s, result, logs));
            // fio counts what it issues; each job issues a flush after its 32nd, 64th, ... write, and the
            // measured second ends at any point of a job's group of 32
            int jobs = workload.jobs(s);
            long perGroup = result.writes() / FlushedWriteLogs.WRITES_PER_FLUSH;
            String counts = result.writes() + " writes, " + result.flushes() + " flushes";
            assertTrue(result.flushes() >= perGroup - 2L * jobs, counts);
            assertTrue(result.flushes() <= perGroup, counts);
        }
        try (Stream<Path> left = Files.list(dir)) {
            assertEquals(List.of(), left.filter(p -> p.getFileName().toString().startsWith("nbdbench-iologs"))
                    .toList(), "the logs are deleted");
        }
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return e.toString();
        }
    }
}
