package pcache.bench.nbd;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The workloads of the NBD comparison (issue 4), as fio jobs on the {@code nbd} engine (libnbd),
 * time-based over the same range on every server. 4 KiB workloads run at {@code --qd-small}, 1 MiB
 * workloads at {@code --qd-large}; the multi-connection ones run {@code --connections} fio jobs
 * (one libnbd connection each) reported as one ({@code --group_reporting}). The flushed random
 * writes are replayed from I/O logs ({@link FlushedWriteLogs}), a log per connection, so that
 * exactly one flush follows every 32 writes.
 */
enum FioWorkload {
    /** 4 KiB random writes, a flush (NBD_CMD_FLUSH) after every 32 writes, replayed from an I/O log. */
    FLUSHED_RANDWRITE_4K("flushed 4 KiB random writes", "randwrite", true, false, false, true),
    /** {@link #FLUSHED_RANDWRITE_4K} over several connections at once, each replaying its own log. */
    FLUSHED_RANDWRITE_4K_MULTI("flushed 4 KiB random writes", "randwrite", true, false, true, true),
    /** 4 KiB random reads of a range written (and so cached) beforehand. */
    RANDREAD_4K_HITS("4 KiB random read hits", "randread", true, true, false, false),
    /** {@link #RANDREAD_4K_HITS} over several connections at once. */
    RANDREAD_4K_HITS_MULTI("4 KiB random read hits", "randread", true, true, true, false),
    /** 1 MiB sequential reads. */
    SEQREAD_1M("1 MiB sequential reads", "read", false, true, false, false),
    /** 1 MiB sequential writes, no flush, after a settle. */
    SEQWRITE_1M("1 MiB sequential writes", "write", false, false, false, false),
    /**
     * The job of {@link #SEQWRITE_1M} started right after {@link #FLUSHED_RANDWRITE_4K}, without
     * settling: while pcache still writes the random writes back.
     */
    SEQWRITE_1M_AFTER_RANDWRITE("1 MiB sequential writes directly after random writes", "write", false, false,
            false, false);

    private final String description;
    private final String rw;
    private final boolean small;
    private final boolean read;
    private final boolean multiConnection;
    private final boolean flushed;

    FioWorkload(String description, String rw, boolean small, boolean read, boolean multiConnection,
            boolean flushed) {
        this.description = description;
        this.rw = rw;
        this.small = small;
        this.read = read;
        this.multiConnection = multiConnection;
        this.flushed = flushed;
    }

    /**
     * What the table calls it, with the queue depth and connections of {@code settings}, e.g.
     * "4 KiB random read hits, 4 connections (QD16 each)".
     */
    String title(BenchSettings settings) {
        StringBuilder t = new StringBuilder(description);
        if (multiConnection) {
            t.append(", ").append(settings.connections()).append(" connections");
        }
        t.append(" (QD").append(queueDepth(settings)).append(multiConnection ? " each" : "");
        if (flushed) {
            t.append(", flush every ").append(FlushedWriteLogs.WRITES_PER_FLUSH);
        }
        return t.append(')').toString();
    }

    /** Whether fio replays {@link FlushedWriteLogs}: random writes, a flush after every 32. */
    boolean replaysFlushedWriteLogs() {
        return flushed;
    }

    /** Whether fio's read section holds the result (else the write section). */
    boolean isRead() {
        return read;
    }

    /** Whether the figure of merit is IOPS (small blocks) rather than bandwidth. */
    boolean reportsIops() {
        return small;
    }

    /** Whether this runs {@code --connections} fio jobs at once. */
    boolean multiConnection() {
        return multiConnection;
    }

    /** Queue depth per connection. */
    int queueDepth(BenchSettings settings) {
        return small ? settings.smallQueueDepth() : settings.largeQueueDepth();
    }

    /** fio jobs (each its own NBD connection). */
    int jobs(BenchSettings settings) {
        return multiConnection ? settings.connections() : 1;
    }

    /**
     * The fio command line for this workload against {@code uri}; {@code logs} are the I/O logs the
     * flushed writes replay (null for the other workloads).
     */
    List<String> fioCommand(String uri, BenchSettings settings, String jsonOutput, FlushedWriteLogs logs) {
        String name = name().toLowerCase(Locale.ROOT);
        List<String> argv = new ArrayList<>(List.of("fio", "--ioengine=nbd", "--uri=" + uri,
                "--bs=" + (small ? "4k" : "1m"), "--iodepth=" + queueDepth(settings),
                "--size=" + settings.rangeBytes(), "--time_based", "--runtime=" + settings.runtimeSeconds(),
                "--ramp_time=" + settings.rampSeconds(), "--output-format=json", "--output=" + jsonOutput));
        if (flushed) {
            if (logs == null) {
                throw new IllegalArgumentException(this + " replays I/O logs, and none were given");
            }
            argv.add("--replay_no_stall=1");
            if (!multiConnection) {
                argv.addAll(List.of("--name=" + name, "--read_iolog=" + logs.single()));
                return argv;
            }
            // options before the first --name apply to every job: one job per connection, each its own log
            argv.add("--group_reporting");
            for (int j = 0; j < jobs(settings); j++) {
                argv.addAll(List.of("--name=" + name + "-" + j, "--read_iolog=" + logs.multi(j)));
            }
            return argv;
        }
        argv.addAll(List.of("--name=" + name, "--rw=" + rw, "--norandommap", "--randrepeat=0"));
        if (multiConnection) {
            argv.addAll(List.of("--numjobs=" + jobs(settings), "--group_reporting"));
        }
        return argv;
    }

    /** Sequential 1 MiB writes over the whole range, then a flush: makes every later read a hit. */
    static List<String> prefillCommand(String uri, long rangeBytes, String jsonOutput) {
        return List.of("fio", "--name=prefill", "--ioengine=nbd", "--uri=" + uri, "--rw=write", "--bs=1m",
                "--iodepth=16", "--size=" + rangeBytes, "--end_fsync=1", "--output-format=json",
                "--output=" + jsonOutput);
    }
}
