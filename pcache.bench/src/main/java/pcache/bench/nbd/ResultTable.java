package pcache.bench.nbd;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The results of one round of one transport, as a markdown table: per workload the figure of merit
 * (IOPS or MiB/s) and the completion latency p50/p99 of every peer, and pcache's ratio to the best
 * persistent clear-text peer and to nbdkit memory (with TLS servers in the run also pcache TLS's
 * ratio to pcache and to nbdkit file TLS); then the targets, met or missed.
 */
final class ResultTable {

    private final Transport transport;
    private final BenchSettings settings;
    private final List<Peer> peers;
    private final int round;
    private final List<Peer> order;
    private final Map<FioWorkload, Map<Peer, FioResult>> results = new EnumMap<>(FioWorkload.class);
    private final Map<Peer, String> loads = new LinkedHashMap<>();
    private final Map<Peer, String> tlsSessions = new LinkedHashMap<>();

    /**
     * @param peers the columns, in the order of {@code --peers}
     * @param round the round, from 1
     * @param order the order the peers ran in this round
     */
    ResultTable(Transport transport, BenchSettings settings, List<Peer> peers, int round, List<Peer> order) {
        this.transport = transport;
        this.settings = settings;
        this.peers = List.copyOf(peers);
        this.round = round;
        this.order = List.copyOf(order);
    }

    void add(FioWorkload workload, Peer peer, FioResult result) {
        results.computeIfAbsent(workload, w -> new EnumMap<>(Peer.class)).put(peer, result);
    }

    /** The load averages before and after a peer's run. */
    void load(Peer peer, String beforeAndAfter) {
        loads.put(peer, beforeAndAfter);
    }

    /** The TLS session a TLS server negotiated with libnbd (for the record: the cipher compared). */
    void tlsSession(Peer peer, String session) {
        tlsSessions.put(peer, session);
    }

    /**
     * The ratio columns of pcache TLS, present when it ran: to pcache (clear text) and to nbdkit
     * file TLS, each when that peer ran too.
     */
    static List<Peer> tlsRatioPeers(List<Peer> peers) {
        return peers.contains(Peer.PCACHE_TLS)
                ? List.of(Peer.PCACHE, Peer.NBDKIT_FILE_TLS).stream().filter(peers::contains).toList()
                : List.of();
    }

    /** The peers of the run (whether or not they finished). */
    List<Peer> peers() {
        return peers;
    }

    /** Whether some peer has a result of {@code w}. */
    boolean measured(FioWorkload w) {
        return results.containsKey(w);
    }

    /** {@code p}'s {@code metric} of {@code w}: empty if it failed, had errors or did not run. */
    Optional<Double> value(FioWorkload w, Peer p, Metric metric) {
        return Optional.ofNullable(results.getOrDefault(w, Map.of()).get(p)).filter(r -> r.errors() == 0)
                .map(r -> metric.value(w, r));
    }

    /** The cell of {@code p}: the value, "errors" or "failed". */
    private String cell(FioWorkload w, Peer p, Metric metric) {
        FioResult r = results.getOrDefault(w, Map.of()).get(p);
        return r == null ? "failed" : r.errors() != 0 ? "errors" : metric.format(metric.value(w, r));
    }

    /** Whether a baseline pcache ran too ({@code --baseline}). */
    private boolean baseline() {
        return peers.contains(Peer.PCACHE_BASELINE);
    }

    String markdown() {
        StringBuilder out = new StringBuilder();
        out.append("Transport: ").append(transport.label()).append(", round ").append(round).append(" of ")
                .append(settings.rounds()).append(" (servers in the order ")
                .append(String.join(", ", order.stream().map(Peer::label).toList()))
                .append("). Latency ratios: lower is better.\n\n");
        out.append("| workload | metric |");
        peers.forEach(p -> out.append(' ').append(p.label()).append(" |"));
        out.append(" pcache / best persistent peer | pcache / nbdkit memory |");
        out.append(baseline() ? " pcache / baseline |" : "");
        tlsRatioPeers(peers).forEach(p -> out.append(" pcache TLS / ").append(p.label()).append(" |"));
        out.append("\n|---|---|");
        peers.forEach(p -> out.append("---:|"));
        out.append(baseline() ? "---:|---:|---:|" : "---:|---:|");
        tlsRatioPeers(peers).forEach(p -> out.append("---:|"));
        out.append('\n');
        for (FioWorkload w : FioWorkload.values()) {
            if (measured(w)) {
                for (Metric m : Metric.values()) {
                    row(out, w, m);
                }
            }
        }
        out.append("\nLoad average (1/5/15 min) before → after each server's run: ");
        List<String> l = new ArrayList<>();
        loads.forEach((p, v) -> l.add(p.label() + " " + v));
        out.append(String.join("; ", l)).append(".\n");
        if (!tlsSessions.isEmpty()) {
            List<String> t = new ArrayList<>();
            tlsSessions.forEach((p, v) -> t.add(p.label() + ": " + v));
            out.append("\nTLS sessions (libnbd's report): ").append(String.join("; ", t)).append(".\n");
        }
        out.append("\nTargets (pcache against its peers in this round):\n\n");
        for (Targets.Target t : Targets.of(settings)) {
            Targets.Ratio r = t.measure().apply(this);
            out.append("* ").append(t.text()).append(": ")
                    .append(r.measured() ? t.verdict(r.value()) : r.reason()).append('\n');
        }
        return out.toString();
    }

    private void row(StringBuilder out, FioWorkload w, Metric metric) {
        out.append("| ").append(w.title(settings)).append(" | ").append(metric.label(w)).append(" |");
        for (Peer p : peers) {
            out.append(' ').append(cell(w, p, metric)).append(" |");
        }
        Optional<Peer> best = bestPersistent(w, metric);
        out.append(' ').append(ratio(w, metric, best) + best.map(b -> " (" + b.label() + ")").orElse("")).append(" |");
        out.append(' ').append(ratio(w, metric, Optional.of(Peer.NBDKIT_MEMORY))).append(" |");
        if (baseline()) {
            out.append(' ').append(ratio(w, metric, Optional.of(Peer.PCACHE_BASELINE))).append(" |");
        }
        for (Peer p : tlsRatioPeers(peers)) {
            out.append(' ').append(ratio(Peer.PCACHE_TLS, w, metric, p)).append(" |");
        }
        out.append('\n');
    }

    /** The persistent clear-text peer (not pcache) with the best {@code metric} of {@code w}. */
    Optional<Peer> bestPersistent(FioWorkload w, Metric metric) {
        Peer best = null;
        double bestValue = 0;
        for (Peer p : peers) {
            if (p.pcache() || !p.persistent() || p.tls()) {
                continue;
            }
            Optional<Double> v = value(w, p, metric);
            if (v.isPresent() && (best == null || (metric.higherIsBetter() ? v.get() > bestValue
                    : v.get() < bestValue))) {
                best = p;
                bestValue = v.get();
            }
        }
        return Optional.ofNullable(best);
    }

    private String ratio(FioWorkload w, Metric metric, Optional<Peer> theirs) {
        return theirs.isEmpty() ? "–" : ratio(Peer.PCACHE, w, metric, theirs.get());
    }

    private String ratio(Peer ours, FioWorkload w, Metric metric, Peer theirs) {
        Targets.Ratio r = Targets.ratio(this, w, metric, ours, w, theirs);
        return r.measured() ? String.format(Locale.ROOT, "%.2f×", r.value()) : "–";
    }
}
