package pcache.bench.nbd;

/** Result tables of made-up rounds. */
final class Tables {

    private Tables() {
    }

    /** A table of a run of one round. */
    static ResultTable table(BenchSettings settings) {
        return round(settings, 1);
    }

    /** The table of {@code round} (from 1) of a run of several. */
    static ResultTable round(BenchSettings settings, int round) {
        return new ResultTable(Transport.UNIX, settings, settings.peers(), round,
                NbdBench.order(settings.peers(), round));
    }

    /** A 4 KiB result of {@code iops}. */
    static FioResult iops(double iops) {
        return new FioResult(iops, iops * 4096, 100_000, 1_000_000, 0);
    }

    /** A 1 MiB result of {@code bytesPerSecond} and clat p99 {@code p99Nanos}. */
    static FioResult result(double bytesPerSecond, long p99Nanos) {
        return new FioResult(bytesPerSecond / (1 << 20), bytesPerSecond, p99Nanos / 2, p99Nanos, 0);
    }
}
