package pcache.shell.internal;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.Locale;

import pcache.api.CacheConditions;
import pcache.api.CacheStatistics;
import pcache.api.LatencyHistogram;

/** The text of {@code pcache:stats}: a cache's counters, readable, with hit ratios. */
final class StatsReport {

    private StatsReport() {
    }

    /** The counters of cache {@code name}; {@code c} (null when the cache did not tell) adds what is current. */
    static String format(String name, CacheStatistics s, CacheConditions c) {
        StringBuilder out = new StringBuilder();
        out.append("cache ").append(name).append(" (counters since it was opened)\n");
        row(out, "reads", s.readRequests() + " requests: " + s.readHits() + " hits (" + s.lentReads()
                + " sent straight from the cache), " + s.readMisses() + " misses, " + s.readPartialHits()
                + " partial hits");
        row(out, "hit ratio", percent(s.readHits(), s.readRequests()) + " of requests, "
                + percent(s.bytesReadFromCache(), s.bytesRead()) + " of bytes");
        row(out, "bytes read", s.bytesRead() + " (" + Sizes.human(s.bytesRead()) + "), "
                + s.bytesReadFromCache() + " from the cache");
        row(out, "writes", s.writeRequests() + " requests (" + s.fuaWrites() + " FUA, " + s.placedWrites()
                + " received straight into the cache), " + s.bytesWritten() + " bytes (" + Sizes.human(s.bytesWritten()) + ")");
        row(out, "flushes", Long.toString(s.flushes()));
        row(out, "trims", Long.toString(s.trims()));
        row(out, "deferred", s.deferredRequests() + " requests waited for cache space"
                + (c == null ? "" : ", " + c.requestsWaitingForSpace() + " waiting now"));
        row(out, "dirty", s.dirtyBytes() + " bytes (" + Sizes.human(s.dirtyBytes()) + ") to write back, "
                + String.format(Locale.ROOT, "%.1f %%", s.dirtyPercent()) + " of the data capacity ("
                + Sizes.human(s.capacityBytes()) + ")");
        row(out, "index", s.keys() + " extents");
        row(out, "segments", s.segmentsUsed() + " of " + s.segmentsTotal() + " in use");
        row(out, "write-back", s.writebackKsets() + " ksets, " + s.writebackBytes() + " bytes ("
                + Sizes.human(s.writebackBytes()) + "), " + s.writebackErrors() + " failed attempts");
        row(out, "gc", s.gcKsets() + " ksets, " + s.gcSegmentsReclaimed() + " segments reclaimed"
                + (c == null ? "" : ", " + c.gcErrors() + " failed passes"));
        row(out, "data crc", s.crcErrors() + " errors, " + s.crcRecovered() + " recovered from the backing device, "
                + s.quarantinedExtents() + " extents quarantined");
        row(out, "backing", s.backingErrors() + " failed operations");
        row(out, "read time", latency(s.readLatency()));
        row(out, "write time", latency(s.writeLatency()));
        row(out, "flush time", latency(s.flushLatency()));
        return out.toString();
    }

    /**
     * A latency histogram in one line: how many requests, their mean, and the bucket bound that
     * 99 % of them stayed within (or that the slowest 1 % took longer than the highest bound).
     */
    static String latency(LatencyHistogram h) {
        long count = h.count();
        if (count == 0) {
            return "no requests measured";
        }
        long within = (long) Math.ceil(count * 0.99);
        long seen = 0;
        String p99 = null;
        for (int i = 0; i < h.bucketCounts().size() && p99 == null; i++) {
            seen += h.bucketCounts().get(i);
            if (seen >= within) {
                p99 = i < h.upperBoundsNanos().size() ? "99 % within " + duration(h.upperBoundsNanos().get(i))
                        : i == 0 ? "no bucket bounds"
                        : "the slowest 1 % over " + duration(h.upperBoundsNanos().get(i - 1));
            }
        }
        return count + " requests, mean " + duration(h.sumNanos() / count) + ", " + p99;
    }

    /** Nanoseconds as µs, ms or s, with at most three significant digits. */
    static String duration(long nanos) {
        if (nanos < 1_000_000L) {
            return significant(nanos / 1e3) + " µs";
        }
        if (nanos < 1_000_000_000L) {
            return significant(nanos / 1e6) + " ms";
        }
        return significant(nanos / 1e9) + " s";
    }

    private static String significant(double value) {
        return new BigDecimal(value).round(new MathContext(3)).stripTrailingZeros().toPlainString();
    }

    /** {@code part / whole} as a percentage, or {@code n/a} when {@code whole} is 0. */
    static String percent(long part, long whole) {
        return whole == 0 ? "n/a" : String.format(Locale.ROOT, "%.1f %%", 100.0 * part / whole);
    }

    private static void row(StringBuilder out, String key, String value) {
        out.append(String.format(Locale.ROOT, "  %-12s %s%n", key, value));
    }
}
