package pcache.bench.nbd;

/** Result tables of made-up runs. */
final class Tables {

    private Tables() {
    }

    /** A table of a run. */
    static ResultTable table(BenchSettings settings) {
        return new ResultTable(Transport.UNIX, settings, settings.peers());
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
