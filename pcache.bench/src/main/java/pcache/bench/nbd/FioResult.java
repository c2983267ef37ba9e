package pcache.bench.nbd;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

/**
 * What one fio job measured, read from its JSON output ({@code --output-format=json}).
 *
 * @param iops operations per second
 * @param bandwidthBytes bytes per second
 * @param clatP50Nanos completion latency, median
 * @param clatP99Nanos completion latency, 99th percentile
 * @param errors fio's error count for the job (0 when every I/O succeeded)
 */
record FioResult(double iops, double bandwidthBytes, long clatP50Nanos, long clatP99Nanos, int errors) {

    /** Parses the first job of fio's JSON output; {@code read} picks the read or the write section. */
    static FioResult parse(Path json, boolean read) throws IOException {
        String text = Files.readString(json, StandardCharsets.UTF_8);
        // fio may print notes before the JSON document
        int start = text.indexOf('{');
        if (start < 0) {
            throw new IOException(json + " holds no fio JSON output: " + text);
        }
        JsonObject job = JsonParser.parseString(text.substring(start)).getAsJsonObject()
                .getAsJsonArray("jobs").get(0).getAsJsonObject();
        JsonObject section = job.getAsJsonObject(read ? "read" : "write");
        JsonObject clat = section.getAsJsonObject("clat_ns");
        JsonObject percentiles = clat.has("percentile") ? clat.getAsJsonObject("percentile") : new JsonObject();
        return new FioResult(section.get("iops").getAsDouble(), section.get("bw_bytes").getAsDouble(),
                percentile(percentiles, "50.000000"), percentile(percentiles, "99.000000"),
                job.get("error").getAsInt());
    }

    private static long percentile(JsonObject percentiles, String key) {
        return percentiles.has(key) ? percentiles.get(key).getAsLong() : -1;
    }
}
