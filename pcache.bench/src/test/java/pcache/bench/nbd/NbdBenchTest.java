package pcache.bench.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NbdBenchTest {

    @Test
    void theOrderOfThePeersAlternatesFromRoundToRound() {
        List<Peer> peers = List.of(Peer.PCACHE, Peer.NBDKIT_FILE, Peer.NBDKIT_MEMORY);
        List<Peer> reversed = List.of(Peer.NBDKIT_MEMORY, Peer.NBDKIT_FILE, Peer.PCACHE);
        assertEquals(peers, NbdBench.order(peers, 1));
        assertEquals(reversed, NbdBench.order(peers, 2));
        assertEquals(peers, NbdBench.order(peers, 3));
        assertEquals(reversed, NbdBench.order(peers, 4));
    }

    @Test
    void aReplayedLogCountsOnlyWhenEveryJobRanTheRuntimeAtItsDepthWithAFlushEvery32(@TempDir Path dir)
            throws IOException {
        BenchSettings s = BenchSettings.parse("--runtime=10", "--ramp=3", "--connections=4", "--range=1M");
        FioWorkload one = FioWorkload.FLUSHED_RANDWRITE_4K;
        FioWorkload four = FioWorkload.FLUSHED_RANDWRITE_4K_MULTI;
        try (FlushedWriteLogs logs = FlushedWriteLogs.create(dir, s, 10, 10)) {
            assertNull(NbdBench.notAsLogged(one, s, run(320_000, 10_000, 10_001, 0.999), logs));
            assertNull(NbdBench.notAsLogged(four, s, run(320_000, 10_000, 40_002, 0.95), logs));
            // fio's grouped entry adds up its jobs' runtimes: one job of four that ran out after 2.5 s
            String ranOut = NbdBench.notAsLogged(four, s, run(320_000, 10_000, 32_500, 0.999), logs);
            assertTrue(ranOut != null && ranOut.startsWith("fio's I/O log of 130 writes ran out: the 4 job(s) ran"
                    + " 32.5 s of the 40 s"), ranOut);
            assertTrue(ranOut.endsWith("raise WRITES_PER_SECOND_EACH in FlushedWriteLogs"), ranOut);
            assertTrue(NbdBench.notAsLogged(one, s, run(320_000, 10_000, 9_800, 0.999), logs)
                    .endsWith("raise WRITES_PER_SECOND in FlushedWriteLogs"));
            assertEquals("fio kept the queue at depth 16 only 50 % of the time",
                    NbdBench.notAsLogged(one, s, run(320_000, 10_000, 10_000, 0.5), logs));
            assertEquals("fio issued 320,000 writes and 150,000 flushes, where the log has a flush after every 32",
                    NbdBench.notAsLogged(one, s, run(320_000, 150_000, 10_000, 0.999), logs));
            assertTrue(NbdBench.notAsLogged(one, s, run(320_000, 0, 10_000, 0.999), logs)
                    .startsWith("fio issued 320,000 writes and 0 flushes"));
        }
    }

    private static FioResult run(long writes, long flushes, long runtimeMillis, double depthShare) {
        return new FioResult(writes / 10.0, writes * 409.6, 100_000, 1_000_000, 0, writes, flushes, runtimeMillis,
                depthShare);
    }
}
