package pcache.bench.nbd;

import java.util.Locale;

/** What a table row shows of a workload's result: its figure of merit or a completion latency. */
enum Metric {
    /** IOPS (4 KiB workloads) or MiB/s (1 MiB workloads): higher is better. */
    FIGURE,
    /** Completion latency, median, µs: lower is better. */
    CLAT_P50,
    /** Completion latency, 99th percentile, µs: lower is better. */
    CLAT_P99;

    /** The row's metric column. */
    String label(FioWorkload w) {
        return switch (this) {
            case FIGURE -> w.reportsIops() ? "IOPS" : "MiB/s";
            case CLAT_P50 -> "clat p50 µs";
            case CLAT_P99 -> "clat p99 µs";
        };
    }

    /** The value in this metric's unit. */
    double value(FioWorkload w, FioResult r) {
        return switch (this) {
            case FIGURE -> w.reportsIops() ? r.iops() : r.bandwidthBytes() / (1 << 20);
            case CLAT_P50 -> r.clatP50Nanos() / 1000.0;
            case CLAT_P99 -> r.clatP99Nanos() / 1000.0;
        };
    }

    boolean higherIsBetter() {
        return this == FIGURE;
    }

    /** The value as the tables print it. */
    String format(double v) {
        return String.format(Locale.ROOT, this == FIGURE ? "%,.0f" : "%,.1f", v);
    }
}
