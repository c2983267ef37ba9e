package pcache.bench.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

class FioWorkloadTest {

    private final BenchSettings defaults = BenchSettings.parse();

    @Test
    void titlesShowTheQueueDepthOfTheSettings() {
        assertEquals("flushed 4 KiB random writes (QD16, flush every 32)",
                FioWorkload.FLUSHED_RANDWRITE_4K.title(defaults));
        assertEquals("4 KiB random read hits (QD16)", FioWorkload.RANDREAD_4K_HITS.title(defaults));
        assertEquals("1 MiB sequential reads (QD4)", FioWorkload.SEQREAD_1M.title(defaults));
        assertEquals("1 MiB sequential writes (QD4)", FioWorkload.SEQWRITE_1M.title(defaults));
        assertEquals("1 MiB sequential writes directly after random writes (QD4)",
                FioWorkload.SEQWRITE_1M_AFTER_RANDWRITE.title(defaults));
        BenchSettings other = BenchSettings.parse("--qd-small=8", "--qd-large=2", "--connections=3");
        assertEquals("1 MiB sequential writes (QD2)", FioWorkload.SEQWRITE_1M.title(other));
        assertEquals("4 KiB random read hits, 3 connections (QD8 each)",
                FioWorkload.RANDREAD_4K_HITS_MULTI.title(other));
    }

    @Test
    void multiConnectionTitles() {
        assertEquals("4 KiB random read hits, 4 connections (QD16 each)",
                FioWorkload.RANDREAD_4K_HITS_MULTI.title(defaults));
        assertEquals("flushed 4 KiB random writes, 4 connections (QD16 each, flush every 32)",
                FioWorkload.FLUSHED_RANDWRITE_4K_MULTI.title(defaults));
    }

    @Test
    void largeBlocksRunAtTheLargeQueueDepth() {
        List<String> argv = FioWorkload.SEQWRITE_1M.fioCommand("nbd://x/bench", defaults, "out.json");
        assertTrue(argv.containsAll(List.of("--rw=write", "--bs=1m", "--iodepth=4", "--output=out.json")),
                argv::toString);
        assertFalse(argv.stream().anyMatch(a -> a.startsWith("--numjobs")), argv::toString);
    }

    @Test
    void multiConnectionRunsOneGroupReportedJobPerConnection() {
        List<String> argv = FioWorkload.FLUSHED_RANDWRITE_4K_MULTI.fioCommand("nbd://x/bench", defaults, "o.json");
        assertTrue(argv.containsAll(List.of("--rw=randwrite", "--bs=4k", "--iodepth=16", "--numjobs=4",
                "--group_reporting", "--fsync=32")), argv::toString);
        assertEquals(4, FioWorkload.FLUSHED_RANDWRITE_4K_MULTI.jobs(defaults));
        assertEquals(1, FioWorkload.FLUSHED_RANDWRITE_4K.jobs(defaults));
    }

    @Test
    void theWriteAfterRandomWritesIsTheSequentialWriteJob() {
        List<String> a = FioWorkload.SEQWRITE_1M.fioCommand("u", defaults, "o");
        List<String> b = FioWorkload.SEQWRITE_1M_AFTER_RANDWRITE.fioCommand("u", defaults, "o");
        assertEquals(a.subList(2, a.size()), b.subList(2, b.size())); // all but fio and --name
    }
}
