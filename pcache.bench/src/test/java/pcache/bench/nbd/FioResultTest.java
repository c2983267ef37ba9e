package pcache.bench.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

class FioResultTest {

    /**
     * fio 3.33's output of {@code --rw=randread --bs=4k --iodepth=16 --numjobs=4 --group_reporting
     * --runtime=2} on the nbd engine: one entry for the four jobs, the totals (123,746 reads in 2 s
     * of each job: 61.8 K IOPS).
     */
    @Test
    void groupReportedJobsAreOneEntryWithTheTotals() throws IOException {
        FioResult r = FioResult.parse(resource("fio-group-reporting.json"), true);
        assertEquals(61811.188811, r.iops(), 1e-6);
        assertEquals(253178629, r.bandwidthBytes(), 1e-6);
        assertEquals(325632, r.clatP50Nanos());
        assertEquals(12386304, r.clatP99Nanos());
        assertEquals(0, r.errors());
        assertEquals(0, r.writes());
        assertEquals(0, r.flushes());
        assertEquals(8002, r.runtimeMillis());
        assertEquals(-1, r.depthShare(), "not read");
        assertEquals(0.99951514, FioResult.parse(resource("fio-group-reporting.json"), true, 16).depthShare(), 1e-9);
        assertEquals(0.001, FioResult.parse(resource("fio-group-reporting.json"), true, 8).depthShare(), 1e-9);
        assertEquals(0.99951514, FioResult.parse(resource("fio-group-reporting.json"), true, 24).depthShare(), 1e-9,
                "depth 24 is in fio's bucket 16–31");
    }

    @Test
    void theWriteSectionOfTheSameOutput() throws IOException {
        FioResult r = FioResult.parse(resource("fio-group-reporting.json"), false);
        assertEquals(0, r.iops());
        assertEquals(-1, r.clatP99Nanos());
    }

    @Test
    void jobsNotGroupedAreAddedUpTheirPercentilesTheHighest() {
        String json = "{\"jobs\": [" + job(1000, 4096000, 200, 900, 0, 96, 3, 2000) + ", "
                + job(3000, 12288000, 100, 1500, 2, 64, 2, 1999) + "]}";
        FioResult r = FioResult.parse(json, false);
        assertEquals(4000, r.iops(), 1e-9);
        assertEquals(16384000, r.bandwidthBytes(), 1e-9);
        assertEquals(200, r.clatP50Nanos());
        assertEquals(1500, r.clatP99Nanos());
        assertEquals(2, r.errors());
        assertEquals(96 + 64, r.writes());
        assertEquals(3 + 2, r.flushes());
        assertEquals(2000 + 1999, r.runtimeMillis(), "the jobs' runtimes added, as fio's --group_reporting does");
    }

    @Test
    void notesBeforeTheDocumentAreSkipped() {
        FioResult r = FioResult.parse("fio: some note\n{\"jobs\": [" + job(5, 5, 1, 2, 0) + "]}", false);
        assertEquals(5, r.iops(), 1e-9);
    }

    @Test
    void outputWithoutJsonOrJobsIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> FioResult.parse("fio: failed", true));
        assertThrows(IllegalArgumentException.class, () -> FioResult.parse("{\"jobs\": []}", true));
    }

    private static String job(double iops, double bw, long p50, long p99, int errors) {
        return "{\"error\": " + errors + ", \"read\": {\"iops\": 0, \"bw_bytes\": 0, \"clat_ns\": {}}, \"write\": {"
                + "\"iops\": " + iops + ", \"bw_bytes\": " + bw + ", \"clat_ns\": {\"percentile\": {\"50.000000\": "
                + p50 + ", \"99.000000\": " + p99 + "}}}}";
    }

    private static String job(double iops, double bw, long p50, long p99, int errors, long writes, long flushes,
            long runtime) {
        String j = job(iops, bw, p50, p99, errors);
        return j.substring(0, j.length() - 2) + ", \"total_ios\": " + writes + "}, \"sync\": {\"total_ios\": "
                + flushes + "}, \"job_runtime\": " + runtime + "}";
    }

    private static String resource(String name) throws IOException {
        try (InputStream in = FioResultTest.class.getResourceAsStream(name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
