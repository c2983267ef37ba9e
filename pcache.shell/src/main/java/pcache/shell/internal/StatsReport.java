package pcache.shell.internal;

import java.util.Locale;

import pcache.api.CacheStatistics;

/** The text of {@code pcache:stats}: a cache's counters, readable, with hit ratios. */
final class StatsReport {

    private StatsReport() {
    }

    static String format(String name, CacheStatistics s) {
        StringBuilder out = new StringBuilder();
        out.append("cache ").append(name).append(" (counters since it was opened)\n");
        row(out, "reads", s.readRequests() + " requests: " + s.readHits() + " hits, " + s.readMisses() + " misses, "
                + s.readPartialHits() + " partial hits");
        row(out, "hit ratio", percent(s.readHits(), s.readRequests()) + " of requests, "
                + percent(s.bytesReadFromCache(), s.bytesRead()) + " of bytes");
        row(out, "bytes read", s.bytesRead() + " (" + Sizes.human(s.bytesRead()) + "), "
                + s.bytesReadFromCache() + " from the cache");
        row(out, "writes", s.writeRequests() + " requests (" + s.fuaWrites() + " FUA), " + s.bytesWritten() + " bytes ("
                + Sizes.human(s.bytesWritten()) + ")");
        row(out, "flushes", Long.toString(s.flushes()));
        row(out, "trims", Long.toString(s.trims()));
        row(out, "deferred", s.deferredRequests() + " requests waited for cache space");
        row(out, "dirty", s.dirtyBytes() + " bytes (" + Sizes.human(s.dirtyBytes()) + ") to write back");
        row(out, "index", s.keys() + " extents");
        row(out, "segments", s.segmentsUsed() + " of " + s.segmentsTotal() + " in use");
        row(out, "write-back", s.writebackKsets() + " ksets, " + s.writebackBytes() + " bytes ("
                + Sizes.human(s.writebackBytes()) + "), " + s.writebackErrors() + " failed attempts");
        row(out, "gc", s.gcKsets() + " ksets, " + s.gcSegmentsReclaimed() + " segments reclaimed");
        row(out, "data crc", s.crcErrors() + " errors, " + s.crcRecovered() + " recovered from the backing device, "
                + s.quarantinedExtents() + " extents quarantined");
        row(out, "backing", s.backingErrors() + " failed operations");
        return out.toString();
    }

    /** {@code part / whole} as a percentage, or {@code n/a} when {@code whole} is 0. */
    static String percent(long part, long whole) {
        return whole == 0 ? "n/a" : String.format(Locale.ROOT, "%.1f %%", 100.0 * part / whole);
    }

    private static void row(StringBuilder out, String key, String value) {
        out.append(String.format(Locale.ROOT, "  %-12s %s%n", key, value));
    }
}
