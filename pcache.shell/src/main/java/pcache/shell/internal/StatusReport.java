package pcache.shell.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import pcache.api.CacheConditions;
import pcache.api.CacheStatistics;
import pcache.api.CacheStatus;
import pcache.api.NbdExports;
import pcache.api.format.PcacheLayout;

/** The text of {@code pcache:status}: dm-pcache's status fields and what pcache adds. */
final class StatusReport {

    /** What the NBD export of a cache is, when the NBD export service is there. */
    sealed interface Export {
        /** No NBD export service. */
        record Absent() implements Export {
        }

        /** The export service knows the cache; {@code tls} is the server's TLS. */
        record Known(NbdExports.ExportInfo info, NbdExports.TlsInfo tls) implements Export {
        }

        /** The export service does not list this cache. */
        record Unknown() implements Export {
        }
    }

    private StatusReport() {
    }

    /** The readable status of one cache; {@code conditions} null when the cache could not tell them. */
    static String format(CacheStatus s, CacheStatistics st, CacheConditions conditions, Export export) {
        StringBuilder out = new StringBuilder();
        out.append("cache ").append(s.name()).append('\n');
        row(out, "mode", s.mode().configName());
        row(out, "state", s.clean() ? "clean" : "dirty: " + (st == null ? "?" : Sizes.human(st.dirtyBytes()))
                + " not yet written back");
        row(out, "data_crc", Boolean.toString(s.dataCrc()));
        row(out, "backing", s.backing() + " (" + s.backingState().name().toLowerCase(Locale.ROOT) + ")");
        row(out, "cache device", cacheDevice(s));
        row(out, "nbd export", exportText(export));
        List<String> attention = attention(conditions);
        row(out, "attention", attention.isEmpty() ? "nothing" : attention.get(0));
        attention.stream().skip(1).forEach(a -> row(out, "", a));
        out.append("  dm-pcache status: ").append(s.dmStatusLine()).append('\n');
        field(out, "sb_flags", "0x" + Integer.toHexString(s.sbFlags())
                + ((s.sbFlags() & PcacheLayout.Superblock.FLAG_BIGENDIAN) != 0 ? " (formatted big-endian)" : ""));
        field(out, "seg_total", Integer.toUnsignedString(s.segTotal()));
        field(out, "cache_segs", Integer.toUnsignedString(s.cacheSegs()));
        field(out, "segs_used", s.segsUsed() + (s.cacheSegs() > 0 ? String.format(Locale.ROOT, " (%.1f %%)",
                100.0 * s.segsUsed() / s.cacheSegs()) : ""));
        field(out, "gc_percent", Integer.toString(s.gcPercent()));
        field(out, "cache_flags", "0x" + Integer.toHexString(s.cacheFlags()) + " (" + describeFlags(s.cacheFlags()) + ")");
        field(out, "key_head", s.keyHead().toString());
        field(out, "dirty_tail", s.dirtyTail().toString());
        field(out, "key_tail", s.keyTail().toString());
        if (st != null) {
            out.append("  statistics since opened (pcache:stats ").append(s.name()).append(" for all):\n");
            field(out, "reads", st.readRequests() + " requests, " + Sizes.human(st.bytesRead()) + ", hit ratio "
                    + StatsReport.percent(st.readHits(), st.readRequests()));
            field(out, "writes", st.writeRequests() + " requests, " + Sizes.human(st.bytesWritten()));
            field(out, "dirty", Sizes.human(st.dirtyBytes()) + String.format(Locale.ROOT, " (%.1f %% of the data"
                    + " capacity), ", st.dirtyPercent()) + st.keys() + " extents in the index");
            field(out, "write-back", Sizes.human(st.writebackBytes()) + " in " + st.writebackKsets() + " ksets, "
                    + st.writebackErrors() + " errors");
            field(out, "data crc", st.crcErrors() + " errors, " + st.quarantinedExtents() + " extents quarantined");
        }
        return out.toString();
    }

    /**
     * What needs attention, one line each (what the health checks also report, besides the
     * backing device's state and the statistics); empty when nothing does.
     */
    static List<String> attention(CacheConditions c) {
        if (c == null) {
            return List.of("unknown (the cache did not answer)");
        }
        List<String> lines = new ArrayList<>();
        if (c.requestsWaitingForSpace() > 0) {
            lines.add(c.requestsWaitingForSpace() + " request(s) waiting for free cache space");
        }
        if (c.cacheDeviceProblem() != null) {
            lines.add(c.cacheDeviceProblem());
        }
        if (c.writebackError() != null) {
            lines.add("write-back failing, retried with back-off: " + c.writebackError());
        }
        if (c.gcError() != null) {
            lines.add("GC failing, retried: " + c.gcError());
        }
        if (c.keyLogDamage() != null) {
            lines.add("key log damaged: " + c.keyLogDamage());
        }
        return lines;
    }

    /** The cache device's description without the words "cache device" the pmem providers start it with. */
    static String cacheDevice(CacheStatus s) {
        String d = s.cacheDevice();
        return d != null && d.startsWith("cache device ") ? d.substring("cache device ".length()) : d;
    }

    /** The decoded cache_flags bits (reference §1.3). */
    static String describeFlags(int flags) {
        List<String> parts = new ArrayList<>();
        if ((flags & PcacheLayout.CacheInfo.FLAG_DATA_CRC) != 0) {
            parts.add("data_crc");
        }
        if ((flags & PcacheLayout.CacheInfo.FLAG_INIT_DONE) != 0) {
            parts.add("init_done");
        }
        int mode = PcacheLayout.CacheInfo.mode(flags);
        String modeName = PcacheLayout.CacheInfo.modeName(mode);
        parts.add("mode " + (modeName != null ? modeName : Integer.toString(mode)));
        parts.add("gc_percent " + PcacheLayout.CacheInfo.gcPercent(flags));
        return String.join(", ", parts);
    }

    private static String exportText(Export export) {
        if (export instanceof Export.Known k) {
            NbdExports.ExportInfo i = k.info();
            return i.exported() ? "exported, " + i.connections() + " connection(s)" + tlsText(k.tls())
                    : "withdrawn (pcache:export " + i.name() + " exports it again)";
        }
        if (export instanceof Export.Unknown) {
            return "not exported";
        }
        return "no NBD export service";
    }

    /** Nothing when TLS is off; else the mode, the credentials and how many connections use TLS. */
    private static String tlsText(NbdExports.TlsInfo tls) {
        if (tls == null || tls.mode().equals("off")) {
            return "";
        }
        return "; TLS " + tls.mode() + (tls.credentials().isEmpty() ? "" : " (" + tls.credentials() + ")") + ", "
                + tls.connections() + " TLS connection(s) to all exports";
    }

    private static void row(StringBuilder out, String key, String value) {
        out.append(String.format(Locale.ROOT, "  %-14s%s%n", key, value));
    }

    private static void field(StringBuilder out, String key, String value) {
        out.append(String.format(Locale.ROOT, "    %-12s%s%n", key, value));
    }
}
