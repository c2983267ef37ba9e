package pcache.bench.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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
        List<String> argv = FioWorkload.SEQWRITE_1M.fioCommand("nbd://x/bench", defaults, "out.json", null);
        assertTrue(argv.containsAll(List.of("--rw=write", "--bs=1m", "--iodepth=4", "--output=out.json")),
                argv::toString);
        assertFalse(argv.stream().anyMatch(a -> a.startsWith("--numjobs")), argv::toString);
    }

    @Test
    void multiConnectionRunsOneGroupReportedJobPerConnection() {
        List<String> argv = FioWorkload.RANDREAD_4K_HITS_MULTI.fioCommand("nbd://x/bench", defaults, "o.json", null);
        assertTrue(argv.containsAll(List.of("--rw=randread", "--bs=4k", "--iodepth=16", "--numjobs=4",
                "--group_reporting")), argv::toString);
        assertEquals(4, FioWorkload.FLUSHED_RANDWRITE_4K_MULTI.jobs(defaults));
        assertEquals(1, FioWorkload.FLUSHED_RANDWRITE_4K.jobs(defaults));
    }

    @Test
    void theFlushedWritesReplayOneLogPerConnectionNotFiosFsync(@TempDir Path dir) throws IOException {
        BenchSettings s = BenchSettings.parse("--runtime=1", "--ramp=0", "--range=1M", "--connections=3");
        try (FlushedWriteLogs logs = FlushedWriteLogs.create(dir, s, 100, 100)) {
            List<String> one = FioWorkload.FLUSHED_RANDWRITE_4K.fioCommand("u", s, "o", logs);
            assertTrue(one.containsAll(List.of("--iodepth=16", "--replay_no_stall=1", "--time_based",
                    "--name=flushed_randwrite_4k", "--read_iolog=" + logs.single())), one::toString);
            assertFalse(one.stream().anyMatch(a -> a.startsWith("--fsync") || a.startsWith("--rw=")
                    || a.startsWith("--numjobs") || a.equals("--group_reporting")), one::toString);
            List<String> multi = FioWorkload.FLUSHED_RANDWRITE_4K_MULTI.fioCommand("u", s, "o", logs);
            int group = multi.indexOf("--group_reporting");
            assertTrue(group > 0, multi::toString);
            for (int c = 0; c < 3; c++) {
                int name = multi.indexOf("--name=flushed_randwrite_4k_multi-" + c);
                assertTrue(name > group, "job " + c + " after the options every job shares: " + multi);
                assertEquals("--read_iolog=" + logs.multi(c), multi.get(name + 1));
            }
            assertEquals(3, multi.stream().filter(a -> a.startsWith("--name=")).count());
        }
        assertThrows(IllegalArgumentException.class, () -> FioWorkload.FLUSHED_RANDWRITE_4K.fioCommand("u", s, "o",
                null));
    }

    @Test
    void theWriteAfterRandomWritesIsTheSequentialWriteJob() {
        List<String> a = new ArrayList<>(FioWorkload.SEQWRITE_1M.fioCommand("u", defaults, "o", null));
        List<String> b = new ArrayList<>(FioWorkload.SEQWRITE_1M_AFTER_RANDWRITE.fioCommand("u", defaults, "o", null));
        assertTrue(a.remove("--name=seqwrite_1m"), a::toString);
        assertTrue(b.remove("--name=seqwrite_1m_after_randwrite"), b::toString);
        assertEquals(a, b);
    }
}
