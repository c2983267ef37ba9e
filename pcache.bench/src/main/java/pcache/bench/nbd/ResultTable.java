package pcache.bench.nbd;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.ToDoubleFunction;

/**
 * The results of one transport, as a markdown table: per workload the figure of merit (IOPS or
 * MiB/s) and the completion latency p50/p99 of every peer, and pcache's ratio to the best
 * persistent peer and to nbdkit memory; then the targets, met or missed.
 */
final class ResultTable {

    private final Transport transport;
    private final List<Peer> peers;
    private final Map<FioWorkload, Map<Peer, FioResult>> results = new EnumMap<>(FioWorkload.class);
    private final Map<Peer, String> loads = new LinkedHashMap<>();

    ResultTable(Transport transport, List<Peer> peers) {
        this.transport = transport;
        this.peers = peers;
    }

    void add(FioWorkload workload, Peer peer, FioResult result) {
        results.computeIfAbsent(workload, w -> new EnumMap<>(Peer.class)).put(peer, result);
    }

    /** The load averages before and after a peer's run. */
    void load(Peer peer, String beforeAndAfter) {
        loads.put(peer, beforeAndAfter);
    }

    /** Whether a baseline pcache ran too ({@code --baseline}). */
    private boolean baseline() {
        return peers.contains(Peer.PCACHE_BASELINE);
    }

    private Optional<FioResult> result(FioWorkload w, Peer p) {
        return Optional.ofNullable(results.getOrDefault(w, Map.of()).get(p));
    }

    String markdown() {
        StringBuilder out = new StringBuilder();
        out.append("Transport: ").append(transport.label()).append(". Latency ratios: lower is better.\n\n");
        out.append("| workload | metric |");
        peers.forEach(p -> out.append(' ').append(p.label()).append(" |"));
        out.append(" pcache / best persistent peer | pcache / nbdkit memory |");
        out.append(baseline() ? " pcache / baseline |\n|---|---|" : "\n|---|---|");
        peers.forEach(p -> out.append("---:|"));
        out.append(baseline() ? "---:|---:|---:|\n" : "---:|---:|\n");
        for (FioWorkload w : FioWorkload.values()) {
            if (!results.containsKey(w)) {
                continue;
            }
            if (w.reportsIops()) {
                row(out, w, "IOPS", FioResult::iops, true, "%,.0f");
            } else {
                row(out, w, "MiB/s", r -> r.bandwidthBytes() / (1 << 20), true, "%,.0f");
            }
            row(out, w, "clat p50 µs", r -> r.clatP50Nanos() / 1000.0, false, "%,.1f");
            row(out, w, "clat p99 µs", r -> r.clatP99Nanos() / 1000.0, false, "%,.1f");
        }
        out.append("\nLoad average (1/5/15 min) before → after each server's run: ");
        List<String> l = new ArrayList<>();
        loads.forEach((p, v) -> l.add(p.label() + " " + v));
        out.append(String.join("; ", l)).append(".\n\nTargets (issue 4):\n\n");
        targets(out);
        return out.toString();
    }

    private void row(StringBuilder out, FioWorkload w, String metric, ToDoubleFunction<FioResult> value,
            boolean higherIsBetter, String format) {
        out.append("| ").append(w.title()).append(" | ").append(metric).append(" |");
        for (Peer p : peers) {
            out.append(' ').append(result(w, p).map(r -> r.errors() != 0 ? "errors" : fmt(format, value.applyAsDouble(r)))
                    .orElse("failed")).append(" |");
        }
        Optional<Double> ours = result(w, Peer.PCACHE).map(value::applyAsDouble);
        Optional<Peer> best = bestPersistent(w, value, higherIsBetter);
        out.append(' ').append(ratio(ours, best.flatMap(b -> result(w, b)).map(value::applyAsDouble))
                + best.map(b -> " (" + b.label() + ")").orElse("")).append(" |");
        out.append(' ').append(ratio(ours, result(w, Peer.NBDKIT_MEMORY).map(value::applyAsDouble))).append(" |");
        if (baseline()) {
            out.append(' ').append(ratio(ours, result(w, Peer.PCACHE_BASELINE).map(value::applyAsDouble))).append(" |");
        }
        out.append('\n');
    }

    private Optional<Peer> bestPersistent(FioWorkload w, ToDoubleFunction<FioResult> value, boolean higherIsBetter) {
        Peer best = null;
        double bestValue = 0;
        for (Peer p : peers) {
            if (p.pcache() || !p.persistent()) {
                continue;
            }
            Optional<FioResult> r = result(w, p);
            if (r.isEmpty() || r.get().errors() != 0) {
                continue;
            }
            double v = value.applyAsDouble(r.get());
            if (best == null || (higherIsBetter ? v > bestValue : v < bestValue)) {
                best = p;
                bestValue = v;
            }
        }
        return Optional.ofNullable(best);
    }

    private void targets(StringBuilder out) {
        ToDoubleFunction<FioResult> iops = FioResult::iops;
        ToDoubleFunction<FioResult> bw = FioResult::bandwidthBytes;
        target(out, FioWorkload.FLUSHED_RANDWRITE_4K, iops, "≥ 3× the best persistent peer",
                bestPersistent(FioWorkload.FLUSHED_RANDWRITE_4K, iops, true), 3.0);
        target(out, FioWorkload.FLUSHED_RANDWRITE_4K, iops, "≥ 0.8× nbdkit memory", Optional.of(Peer.NBDKIT_MEMORY),
                0.8);
        target(out, FioWorkload.RANDREAD_4K_HITS, iops, "≥ nbdkit file", Optional.of(Peer.NBDKIT_FILE), 1.0);
        target(out, FioWorkload.SEQREAD_1M, bw, "≥ nbdkit file", Optional.of(Peer.NBDKIT_FILE), 1.0);
        target(out, FioWorkload.SEQWRITE_1M, bw, "≥ nbdkit file", Optional.of(Peer.NBDKIT_FILE), 1.0);
    }

    private void target(StringBuilder out, FioWorkload w, ToDoubleFunction<FioResult> value, String goal,
            Optional<Peer> against, double factor) {
        Optional<Double> ours = result(w, Peer.PCACHE).map(value::applyAsDouble);
        Optional<Double> theirs = against.flatMap(p -> result(w, p)).map(value::applyAsDouble);
        String verdict;
        if (ours.isEmpty() || theirs.isEmpty() || theirs.get() == 0) {
            verdict = "not measured";
        } else {
            double r = ours.get() / theirs.get();
            verdict = (r >= factor ? "**met**" : "**missed**") + String.format(Locale.ROOT, " (%.2f×)", r);
        }
        out.append("* ").append(w.title()).append(' ').append(goal)
                .append(against.map(p -> " (" + p.label() + ")").orElse("")).append(": ").append(verdict).append('\n');
    }

    private static String ratio(Optional<Double> ours, Optional<Double> theirs) {
        if (ours.isEmpty() || theirs.isEmpty() || theirs.get() == 0) {
            return "–";
        }
        return String.format(Locale.ROOT, "%.2f×", ours.get() / theirs.get());
    }

    private static String fmt(String format, double v) {
        return String.format(Locale.ROOT, format, v);
    }
}
