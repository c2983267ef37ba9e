package pcache.bench.nbd;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

/**
 * What one fio run measured, read from its JSON output ({@code --output-format=json}). With
 * {@code --numjobs=N --group_reporting} fio reports the N jobs as one entry of {@code jobs} whose
 * IOPS and bandwidth are the totals and whose percentiles are those of all completions; entries
 * that are not grouped are added up (IOPS, bandwidth, errors), their percentiles then the highest
 * of the entries (an upper bound of the percentile of all completions).
 *
 * @param iops operations per second
 * @param bandwidthBytes bytes per second
 * @param clatP50Nanos completion latency, median
 * @param clatP99Nanos completion latency, 99th percentile
 * @param errors fio's error count for the job (0 when every I/O succeeded)
 * @param writes writes issued in the measured time ({@code total_ios}), all entries together
 * @param flushes flushes issued in the measured time ({@code sync}), all entries together
 * @param runtimeMillis how long the measured part ran ({@code job_runtime}) added up over the jobs:
 *     fio's {@code --group_reporting} entry already holds the sum of its jobs', other entries are
 *     added
 * @param depthShare the share of the time the queue was at the job's depth (fio's {@code
 *     iodepth_level} bucket holding that depth, 0 to 1; the lowest of the entries), or -1 if not read
 */
record FioResult(double iops, double bandwidthBytes, long clatP50Nanos, long clatP99Nanos, int errors, long writes,
        long flushes, long runtimeMillis, double depthShare) {

    /** A result without counts of writes and flushes, runtime or depth (tests of the tables). */
    FioResult(double iops, double bandwidthBytes, long clatP50Nanos, long clatP99Nanos, int errors) {
        this(iops, bandwidthBytes, clatP50Nanos, clatP99Nanos, errors, 0, 0, 0, -1);
    }

    /** Parses fio's JSON output; {@code read} picks the read or the write section. */
    static FioResult parse(Path json, boolean read) throws IOException {
        return parse(json, read, 0);
    }

    /** {@link #parse(Path, boolean)}, and the share of the time at queue depth {@code depth} (0: not read). */
    static FioResult parse(Path json, boolean read, int depth) throws IOException {
        String text = Files.readString(json, StandardCharsets.UTF_8);
        try {
            return parse(text, read, depth);
        } catch (RuntimeException e) { // not fio's JSON (gson's exceptions, missing members)
            throw new IOException(json + ": " + e, e);
        }
    }

    /** Parses fio's JSON output held in {@code text} (notes before the document are skipped). */
    static FioResult parse(String text, boolean read) {
        return parse(text, read, 0);
    }

    /** {@link #parse(String, boolean)}, and the share of the time at queue depth {@code depth} (0: not read). */
    static FioResult parse(String text, boolean read, int depth) {
        // fio may print notes before the JSON document
        int start = text.indexOf('{');
        if (start < 0) {
            throw new IllegalArgumentException("no fio JSON output: " + text);
        }
        JsonArray jobs = JsonParser.parseString(text.substring(start)).getAsJsonObject().getAsJsonArray("jobs");
        if (jobs == null || jobs.isEmpty()) {
            throw new IllegalArgumentException("fio JSON output without jobs");
        }
        double iops = 0;
        double bandwidth = 0;
        long p50 = -1;
        long p99 = -1;
        int errors = 0;
        long writes = 0;
        long flushes = 0;
        long runtime = 0;
        double depthShare = depth > 0 ? 1 : -1;
        for (JsonElement element : jobs) {
            JsonObject job = element.getAsJsonObject();
            JsonObject section = job.getAsJsonObject(read ? "read" : "write");
            JsonObject clat = section.getAsJsonObject("clat_ns");
            JsonObject percentiles = clat != null && clat.has("percentile") ? clat.getAsJsonObject("percentile")
                    : new JsonObject();
            iops += section.get("iops").getAsDouble();
            bandwidth += section.get("bw_bytes").getAsDouble();
            p50 = Math.max(p50, percentile(percentiles, "50.000000"));
            p99 = Math.max(p99, percentile(percentiles, "99.000000"));
            errors += job.get("error").getAsInt();
            writes += count(job, "write");
            flushes += count(job, "sync");
            runtime += job.has("job_runtime") ? job.get("job_runtime").getAsLong() : 0;
            if (depth > 0) {
                JsonObject levels = job.getAsJsonObject("iodepth_level");
                String key = depth >= 64 ? ">=64" : Integer.toString(Integer.highestOneBit(depth));
                double share = levels != null && levels.has(key) ? levels.get(key).getAsDouble() / 100 : 0;
                depthShare = Math.min(depthShare, share);
            }
        }
        return new FioResult(iops, bandwidth, p50, p99, errors, writes, flushes, runtime, depthShare);
    }

    /** Writes issued per flush issued; infinite without flushes. */
    double writesPerFlush() {
        return flushes == 0 ? Double.POSITIVE_INFINITY : (double) writes / flushes;
    }

    /** {@code total_ios} of a section of {@code job}, 0 if it has none. */
    private static long count(JsonObject job, String section) {
        JsonObject s = job.getAsJsonObject(section);
        return s != null && s.has("total_ios") ? s.get("total_ios").getAsLong() : 0;
    }

    private static long percentile(JsonObject percentiles, String key) {
        return percentiles.has(key) ? percentiles.get(key).getAsLong() : -1;
    }
}
