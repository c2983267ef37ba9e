package pcache.bench.nbd;

import java.util.ArrayList;
import java.util.List;

/**
 * The workloads of the NBD comparison (issue 4), as fio jobs on the {@code nbd} engine (libnbd),
 * one job, time-based over the same range on every server.
 */
enum FioWorkload {
    /** 4 KiB random writes, queue depth 16, a flush (NBD_CMD_FLUSH) after every 32 writes. */
    FLUSHED_RANDWRITE_4K("flushed 4 KiB random writes (QD16, flush every 32)", "randwrite", "4k", true, false,
            "--fsync=32"),
    /** 4 KiB random reads of a range written (and so cached) beforehand, queue depth 16. */
    RANDREAD_4K_HITS("4 KiB random read hits (QD16)", "randread", "4k", true, true),
    /** 1 MiB sequential reads, queue depth 16. */
    SEQREAD_1M("1 MiB sequential reads (QD16)", "read", "1m", false, true),
    /** 1 MiB sequential writes, queue depth 16, no flush. */
    SEQWRITE_1M("1 MiB sequential writes (QD16)", "write", "1m", false, false);

    private final String title;
    private final String rw;
    private final String blockSize;
    private final boolean small;
    private final boolean read;
    private final List<String> extra;

    FioWorkload(String title, String rw, String blockSize, boolean small, boolean read, String... extra) {
        this.title = title;
        this.rw = rw;
        this.blockSize = blockSize;
        this.small = small;
        this.read = read;
        this.extra = List.of(extra);
    }

    /** What the table calls it. */
    String title() {
        return title;
    }

    /** Whether fio's read section holds the result (else the write section). */
    boolean isRead() {
        return read;
    }

    /** Whether the figure of merit is IOPS (small blocks) rather than bandwidth. */
    boolean reportsIops() {
        return small;
    }

    /** The fio command line for this workload against {@code uri}. */
    List<String> fioCommand(String uri, long rangeBytes, int runtimeSeconds, int rampSeconds, String jsonOutput) {
        List<String> argv = new ArrayList<>(List.of("fio", "--name=" + name().toLowerCase(java.util.Locale.ROOT),
                "--ioengine=nbd", "--uri=" + uri, "--rw=" + rw, "--bs=" + blockSize, "--iodepth=16",
                "--size=" + rangeBytes, "--time_based", "--runtime=" + runtimeSeconds, "--ramp_time=" + rampSeconds,
                "--norandommap", "--randrepeat=0", "--output-format=json", "--output=" + jsonOutput));
        argv.addAll(extra);
        return argv;
    }

    /** Sequential 1 MiB writes over the whole range, then a flush: makes every later read a hit. */
    static List<String> prefillCommand(String uri, long rangeBytes, String jsonOutput) {
        return List.of("fio", "--name=prefill", "--ioengine=nbd", "--uri=" + uri, "--rw=write", "--bs=1m",
                "--iodepth=16", "--size=" + rangeBytes, "--end_fsync=1", "--output-format=json",
                "--output=" + jsonOutput);
    }
}
