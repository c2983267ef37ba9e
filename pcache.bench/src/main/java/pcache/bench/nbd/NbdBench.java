package pcache.bench.nbd;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

import pcache.bench.BenchFiles;

/**
 * The NBD comparison of issue 4: for each transport and each server (pcache and its peers), start
 * the server on a fresh backing file, prefill the range, run the fio workloads one after the
 * other, stop it; then print one markdown table per transport (also written to
 * {@code <out>/results-<transport>.md}, with every fio JSON beside it).
 *
 * <p>Order per server: prefill (sequential 1 MiB writes + flush) and settle, 4 KiB random read
 * hits, 1 MiB sequential reads, flushed 4 KiB random writes, settle, 1 MiB sequential writes.
 * "Settle" waits until pcache is clean and runs {@code sync}, so that no workload measures the
 * previous one's background write-back.
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
                + " s ramp, load average " + Tools.loadAverage());
        for (Transport transport : settings.transports()) {
            List<Peer> peers = List.copyOf(settings.peers());
            ResultTable table = new ResultTable(transport, peers);
            for (Peer peer : peers) {
                runPeer(settings, transport, peer, table);
            }
            String markdown = table.markdown();
            Files.writeString(settings.outDir().resolve("results-" + transport.name().toLowerCase() + ".md"), markdown);
            System.out.println();
            System.out.println(markdown);
        }
    }

    private static void runPeer(BenchSettings settings, Transport transport, Peer peer, ResultTable table)
            throws IOException, InterruptedException {
        Path runDir = settings.outDir().resolve(transport.name().toLowerCase() + "-" + peer.name().toLowerCase());
        String before = Tools.loadAverage();
        System.out.println("nbd-bench: " + peer.label() + " over " + transport.label() + " (load " + before + ")");
        try (PeerServer server = PeerServer.start(peer, transport, settings, runDir)) {
            Tools.Result prefill = Tools.run(runDir, SETTLE_TIMEOUT,
                    FioWorkload.prefillCommand(server.uri(), settings.rangeBytes(), runDir.resolve("prefill.json")
                            .toString()));
            if (prefill.exitCode() != 0) {
                System.out.println("  prefill failed: " + prefill.stderr());
            }
            server.settle(SETTLE_TIMEOUT);
            run(settings, server, runDir, FioWorkload.RANDREAD_4K_HITS, table);
            run(settings, server, runDir, FioWorkload.SEQREAD_1M, table);
            run(settings, server, runDir, FioWorkload.FLUSHED_RANDWRITE_4K, table);
            server.settle(SETTLE_TIMEOUT);
            run(settings, server, runDir, FioWorkload.SEQWRITE_1M, table);
        } catch (IOException e) {
            System.out.println("  " + peer.label() + " failed: " + e.getMessage());
        }
        table.load(peer, before + " → " + Tools.loadAverage());
    }

    private static void run(BenchSettings settings, PeerServer server, Path runDir, FioWorkload workload,
            ResultTable table) throws IOException, InterruptedException {
        Path json = runDir.resolve(workload.name().toLowerCase() + ".json");
        Duration timeout = Duration.ofSeconds(settings.runtimeSeconds() + settings.rampSeconds() + 120L);
        Tools.Result r = Tools.run(runDir, timeout, workload.fioCommand(server.uri(), settings.rangeBytes(),
                settings.runtimeSeconds(), settings.rampSeconds(), json.toString()));
        if (r.exitCode() != 0) {
            System.out.println("  " + workload.title() + ": fio failed (" + r.exitCode() + "): " + r.stderr().trim());
            return;
        }
        FioResult result = FioResult.parse(json, workload.isRead());
        table.add(workload, server.peer(), result);
        System.out.printf("  %-50s %,10.0f IOPS %,8.0f MiB/s  p50 %,9.1f µs  p99 %,9.1f µs%n", workload.title(),
                result.iops(), result.bandwidthBytes() / (1 << 20), result.clatP50Nanos() / 1000.0,
                result.clatP99Nanos() / 1000.0);
    }
}
