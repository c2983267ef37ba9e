package pcache.bench.nbd;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

import pcache.bench.BenchFiles;

/**
 * The NBD comparison of issue 4: for each transport and each server (pcache and its peers), start
 * the server on a fresh backing file, prefill the range, run the fio workloads one after the
 * other, stop it; then print one markdown table per transport (also written to
 * {@code <out>/results-<transport>.md}, with every fio JSON beside it). With {@code --rounds=N} all
 * of that repeats N times per transport, the order of the servers reversed every other round, and
 * a summary of the rounds follows the rounds' tables.
 *
 * <p>Order per server: prefill (sequential 1 MiB writes + flush) and settle, 4 KiB random read
 * hits, the same over several connections, 1 MiB sequential reads, flushed 4 KiB random writes (a
 * flush after every 32, replayed from I/O logs: {@link FlushedWriteLogs}), settle, the same over
 * several connections, settle, 1 MiB sequential writes, settle; then flushed 4 KiB random writes
 * once more (not reported) and right after them, without settling, 1 MiB sequential writes again
 * (reported as a workload of their own). "Settle" waits until pcache is clean and runs {@code
 * sync}, so that no workload measures the previous one's background write-back; the
 * multi-connection workloads are left out with {@code --connections=1}, and {@code --workloads}
 * runs a subset (the prefill always runs).
 *
 * <p>With TLS servers in the run ({@code --tls=x509}, or {@code *_tls} in {@code --peers}) the run
 * first makes its certificates ({@link TlsCredentials}) and deletes them at the end.
 */
public final class NbdBench {

    private static final Duration SETTLE_TIMEOUT = Duration.ofSeconds(600);

    private NbdBench() {
    }

    public static void main(String[] args) throws Exception {
        BenchSettings settings;
        try {
            settings = BenchSettings.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("nbd-bench: " + e.getMessage());
            System.exit(2);
            return;
        }
        Files.createDirectories(settings.outDir());
        System.out.println("nbd-bench " + Instant.now() + ": backing files in " + settings.diskDir() + " ("
                + BenchFiles.fileSystemType(settings.diskDir()) + "), pcache cache device in " + settings.memoryDir()
                + " (" + BenchFiles.fileSystemType(settings.memoryDir()) + "), range " + (settings.rangeBytes() >> 20)
                + " MiB, " + settings.runtimeSeconds() + " s per workload after " + settings.rampSeconds()
                + " s ramp, QD" + settings.smallQueueDepth() + " (4 KiB) / QD" + settings.largeQueueDepth()
                + " (1 MiB), " + settings.connections() + " connections, " + settings.rounds()
                + " round(s), load average " + Tools.loadAverage());
        long start = System.nanoTime();
        try (TlsCredentials credentials = settings.tls() ? TlsCredentials.generate() : null;
                FlushedWriteLogs logs = flushedWriteLogs(settings)) {
            Path certificates = credentials == null ? null : credentials.certificates();
            for (Transport transport : settings.transports()) {
                runTransport(settings, transport, certificates, logs);
            }
        }
        System.out.printf("nbd-bench: done in %.1f min%n", (System.nanoTime() - start) / 60e9);
    }

    /**
     * The I/O logs of the flushed writes if a workload replays them (the 1 MiB writes directly after
     * random writes do too, first), else null.
     */
    private static FlushedWriteLogs flushedWriteLogs(BenchSettings settings) throws IOException {
        if (settings.workloads().stream().noneMatch(w -> w.replaysFlushedWriteLogs()
                || w == FioWorkload.SEQWRITE_1M_AFTER_RANDWRITE)) {
            return null;
        }
        long start = System.nanoTime();
        FlushedWriteLogs logs = FlushedWriteLogs.create(settings.diskDir(), settings);
        System.out.printf("nbd-bench: I/O logs of the flushed writes: %,d writes for one connection, %,d for each"
                + " of %d (%,d and %,d per second for %d s), a flush after every %d, seed %d, written in %.1f s%n",
                logs.singleWrites(), logs.multiWrites(), settings.multiConnection() ? settings.connections() : 0,
                FlushedWriteLogs.WRITES_PER_SECOND, FlushedWriteLogs.WRITES_PER_SECOND_EACH,
                settings.rampSeconds() + settings.runtimeSeconds(), FlushedWriteLogs.WRITES_PER_FLUSH,
                settings.seed(), (System.nanoTime() - start) / 1e9);
        return logs;
    }

    /** Every round of {@code transport}; the tables printed and written after each round. */
    private static void runTransport(BenchSettings settings, Transport transport, Path certificates,
            FlushedWriteLogs logs) throws IOException, InterruptedException {
        List<Peer> peers = settings.peers();
        List<ResultTable> rounds = new ArrayList<>();
        Path results = settings.outDir().resolve("results-" + transport.name().toLowerCase(Locale.ROOT) + ".md");
        String header = logs == null ? "" : String.format("The flushed 4 KiB random writes replay I/O logs, a flush"
                + " after every %d writes, seed %d (a run whose fio did not issue them so is not reported).%n%n",
                FlushedWriteLogs.WRITES_PER_FLUSH, settings.seed());
        for (int round = 1; round <= settings.rounds(); round++) {
            List<Peer> order = order(peers, round);
            ResultTable table = new ResultTable(transport, settings, peers, round, order);
            for (Peer peer : order) {
                runPeer(settings, transport, peer, round, table, certificates, logs);
            }
            rounds.add(table);
            System.out.println();
            System.out.println(table.markdown());
            Files.writeString(results,
                    header + String.join("\n", rounds.stream().map(ResultTable::markdown).toList()));
        }
        if (settings.rounds() > 1) {
            String summary = new RoundSummary(transport, settings, peers, rounds).markdown();
            System.out.println(summary);
            Files.writeString(results, "\n" + summary, StandardOpenOption.APPEND);
        }
    }

    /** The order of the peers in {@code round} (from 1): as given in odd rounds, reversed in even ones. */
    static List<Peer> order(List<Peer> peers, int round) {
        List<Peer> order = new ArrayList<>(peers);
        if (round % 2 == 0) {
            Collections.reverse(order);
        }
        return List.copyOf(order);
    }

    private static void runPeer(BenchSettings settings, Transport transport, Peer peer, int round, ResultTable table,
            Path certificates, FlushedWriteLogs logs) throws IOException, InterruptedException {
        String name = transport.name().toLowerCase(Locale.ROOT) + (settings.rounds() > 1 ? "-round" + round : "")
                + "-" + peer.name().toLowerCase(Locale.ROOT);
        Path runDir = settings.outDir().resolve(name);
        String before = Tools.loadAverage();
        long start = System.nanoTime();
        System.out.println("nbd-bench: " + peer.label() + " over " + transport.label() + ", round " + round
                + " (load " + before + ")");
        Job[] current = new Job[1]; // the job whose server is open, if any
        try {
            current[0] = prepared(settings, transport, peer, runDir, certificates, table, logs);
            runWorkloads(current, () -> prepared(settings, transport, peer, runDir, certificates, table, logs));
        } catch (IOException e) {
            System.out.println("  " + peer.label() + " failed: " + e.getMessage());
        } finally {
            if (current[0] != null) {
                current[0].server().close();
            }
        }
        System.out.printf("  %s done in %.0f s%n", peer.label(), (System.nanoTime() - start) / 1e9);
        table.load(peer, before + " → " + Tools.loadAverage());
    }

    /** Starts {@code peer}'s server, prefills the range and settles; the server is the job's to close. */
    private static Job prepared(BenchSettings settings, Transport transport, Peer peer, Path runDir, Path certificates,
            ResultTable table, FlushedWriteLogs logs) throws IOException, InterruptedException {
        PeerServer server = PeerServer.start(peer, transport, settings, runDir, certificates);
        try {
            server.tlsSession().ifPresent(session -> {
                System.out.println("  TLS: " + session);
                table.tlsSession(peer, session);
            });
            Tools.Result prefill = Tools.run(runDir, SETTLE_TIMEOUT,
                    FioWorkload.prefillCommand(server.uri(), settings.rangeBytes(), runDir.resolve("prefill.json")
                            .toString()));
            if (prefill.exitCode() != 0) {
                // the read hits would read a range never written, and be reported as hits
                throw new IOException("the prefill failed (" + prefill.exitCode() + "): " + prefill.stderr().trim());
            }
            Job job = new Job(settings, server, runDir, table, logs);
            job.settle();
            return job;
        } catch (IOException | InterruptedException | RuntimeException e) {
            server.close();
            throw e;
        }
    }

    /** A server started again, prefilled and settled (for {@code --fresh-multi}). */
    @FunctionalInterface
    private interface Restart {
        Job start() throws IOException, InterruptedException;
    }

    /**
     * The workloads of one server, in the order of the class comment; with
     * {@code --fresh-multi=on} the multi-connection flushed writes start on a server started
     * again, prefilled and settled, as the single-connection ones did, and the workloads after
     * them go on on that server, in the harness's order.
     *
     * @param current holds the job whose server is open (the caller closes it at the end)
     */
    private static void runWorkloads(Job[] current, Restart restart) throws IOException, InterruptedException {
        Job job = current[0];
        BenchSettings s = job.settings();
        for (FioWorkload read : List.of(FioWorkload.RANDREAD_4K_HITS, FioWorkload.RANDREAD_4K_HITS_MULTI,
                FioWorkload.SEQREAD_1M)) {
            if (s.runs(read)) {
                job.run(read, true);
            }
        }
        boolean wrote = false; // whether a write workload ran on this job's server
        for (FioWorkload write : List.of(FioWorkload.FLUSHED_RANDWRITE_4K, FioWorkload.FLUSHED_RANDWRITE_4K_MULTI,
                FioWorkload.SEQWRITE_1M, FioWorkload.SEQWRITE_1M_AFTER_RANDWRITE)) {
            if (!s.runs(write)) {
                continue;
            }
            if (s.freshMulti() && wrote && write == FioWorkload.FLUSHED_RANDWRITE_4K_MULTI) {
                current[0] = null;
                job.server().close();
                System.out.println("  (a server started again for " + write.title(s) + ")");
                job = restart.start();
                current[0] = job;
            }
            wrote = true;
            if (write == FioWorkload.SEQWRITE_1M_AFTER_RANDWRITE) {
                if (job.run(FioWorkload.FLUSHED_RANDWRITE_4K, false)) {
                    job.run(FioWorkload.SEQWRITE_1M_AFTER_RANDWRITE, true);
                } else {
                    System.out.println("  " + write.title(s) + ": not run, the random writes before it failed");
                }
            } else {
                job.run(write, true);
                job.settle();
            }
        }
    }

    /** What running a workload on one server needs. */
    private record Job(BenchSettings settings, PeerServer server, Path runDir, ResultTable table,
            FlushedWriteLogs logs) {

        void settle() throws IOException, InterruptedException {
            long start = System.nanoTime();
            server.settle(SETTLE_TIMEOUT);
            System.out.printf("  settled in %.1f s%n", (System.nanoTime() - start) / 1e9);
        }

        /**
         * Runs {@code workload}; its result goes into the table if {@code report}, else (a run that
         * only prepares the next) its JSON is kept as {@code <workload>-unreported.json}.
         */
        boolean run(FioWorkload workload, boolean report) throws IOException, InterruptedException {
            String title = workload.title(settings) + (report ? "" : " (not reported)");
            Path json = runDir.resolve(workload.name().toLowerCase(Locale.ROOT) + (report ? "" : "-unreported")
                    + ".json");
            Duration timeout = Duration.ofSeconds(settings.runtimeSeconds() + settings.rampSeconds() + 120L);
            Tools.Result r = Tools.run(runDir, timeout,
                    workload.fioCommand(server.uri(), settings, json.toString(), logs));
            if (r.exitCode() != 0) {
                System.out.println("  " + title + ": fio failed (" + r.exitCode() + "): " + r.stderr().trim());
                return false;
            }
            FioResult result = FioResult.parse(json, workload.isRead(), workload.queueDepth(settings));
            String wrong = workload.replaysFlushedWriteLogs() ? notAsLogged(workload, settings, result, logs) : null;
            if (wrong != null) {
                System.out.println("  " + title + ": not reported: " + wrong);
                return false;
            }
            if (report) {
                table.add(workload, server.peer(), result);
            }
            System.out.printf("  %-75s %,10.0f IOPS %,8.0f MiB/s  p50 %,9.1f µs  p99 %,9.1f µs%s%s%n", title,
                    result.iops(), result.bandwidthBytes() / (1 << 20), result.clatP50Nanos() / 1000.0,
                    result.clatP99Nanos() / 1000.0, result.errors() != 0 ? "  " + result.errors() + " errors" : "",
                    workload.replaysFlushedWriteLogs() && result.flushes() > 0
                            ? String.format("  %.1f writes per flush", result.writesPerFlush())
                            : "");
            return true;
        }
    }

    /**
     * Why the figures of a replayed log do not count, or null when fio ran it as logged: the whole
     * runtime on every connection (else the log ran out: fio's grouped {@code job_runtime} is the
     * sum of its jobs'), at the queue depth asked for most of the time, a flush after every 32
     * writes.
     */
    static String notAsLogged(FioWorkload workload, BenchSettings settings, FioResult result, FlushedWriteLogs logs) {
        int jobs = workload.jobs(settings);
        long wanted = settings.runtimeSeconds() * 1000L * jobs;
        if (result.runtimeMillis() * 100 < wanted * 99) {
            long writes = workload.multiConnection() ? logs.multiWrites() : logs.singleWrites();
            return String.format("fio's I/O log of %,d writes ran out: the %d job(s) ran %.1f s of the %d s"
                    + " measured in all (the server took more than %,d writes per second per connection); raise"
                    + " WRITES_PER_SECOND%s in FlushedWriteLogs", writes, jobs, result.runtimeMillis() / 1000.0,
                    settings.runtimeSeconds() * jobs, writes / (settings.rampSeconds() + settings.runtimeSeconds()),
                    workload.multiConnection() ? "_EACH" : "");
        }
        if (result.depthShare() >= 0 && result.depthShare() < 0.9) {
            return String.format("fio kept the queue at depth %d only %.0f %% of the time", workload.queueDepth(
                    settings), result.depthShare() * 100);
        }
        if (Math.abs(result.writesPerFlush() - FlushedWriteLogs.WRITES_PER_FLUSH) > 1) {
            return String.format("fio issued %,d writes and %,d flushes, where the log has a flush after every %d",
                    result.writes(), result.flushes(), FlushedWriteLogs.WRITES_PER_FLUSH);
        }
        return null;
    }
}
