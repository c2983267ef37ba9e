package pcache.bench.nbd;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The rounds of one transport summarized as a markdown table: per workload, metric and peer the
 * median over the rounds; pcache's ratios to nbdkit file, nbdkit memory (and the baseline; and
 * pcache TLS's to pcache and nbdkit file TLS) computed in each round, then given as median
 * (min–max); then the targets on the median of their per-round ratios, with how many rounds met
 * them.
 */
final class RoundSummary {

    private static final List<Peer> RATIO_PEERS = List.of(Peer.NBDKIT_FILE, Peer.NBDKIT_MEMORY,
            Peer.PCACHE_BASELINE);

    private final Transport transport;
    private final BenchSettings settings;
    private final List<Peer> peers;
    private final List<ResultTable> rounds;

    RoundSummary(Transport transport, BenchSettings settings, List<Peer> peers, List<ResultTable> rounds) {
        this.transport = transport;
        this.settings = settings;
        this.peers = List.copyOf(peers);
        this.rounds = List.copyOf(rounds);
    }

    /** {@code p}'s values of {@code metric} of {@code w}, one per round that measured it. */
    List<Double> values(FioWorkload w, Peer p, Metric metric) {
        List<Double> values = new ArrayList<>();
        rounds.forEach(r -> r.value(w, p, metric).ifPresent(values::add));
        return values;
    }

    /** pcache's ratios to {@code theirs} of {@code metric} of {@code w}, one per round that has both. */
    List<Double> ratios(FioWorkload w, Metric metric, Peer theirs) {
        return ratios(Peer.PCACHE, w, metric, theirs);
    }

    /** {@code ours}' ratios to {@code theirs} of {@code metric} of {@code w}, one per round that has both. */
    List<Double> ratios(Peer ours, FioWorkload w, Metric metric, Peer theirs) {
        List<Double> ratios = new ArrayList<>();
        for (ResultTable r : rounds) {
            Targets.Ratio ratio = Targets.ratio(r, w, metric, ours, w, theirs);
            if (ratio.measured()) {
                ratios.add(ratio.value());
            }
        }
        return ratios;
    }

    /** The ratio columns: the peers of {@link #RATIO_PEERS} that ran (pcache needed too). */
    private List<Peer> ratioPeers() {
        return peers.contains(Peer.PCACHE) ? RATIO_PEERS.stream().filter(peers::contains).toList() : List.of();
    }

    String markdown() {
        StringBuilder out = new StringBuilder();
        out.append("Transport: ").append(transport.label()).append(", summary of ").append(rounds.size())
                .append(" rounds (the order of the servers reversed every other round): the median of every")
                .append(" figure over the rounds (\"(k of n)\" when only k rounds measured it); pcache's ratios")
                .append(" computed in each round, then their median (min–max). Latency ratios: lower is better.")
                .append("\n\n| workload | metric |");
        peers.forEach(p -> out.append(' ').append(p.label()).append(" |"));
        ratioPeers().forEach(p -> out.append(" pcache / ").append(p.label()).append(" |"));
        ResultTable.tlsRatioPeers(peers).forEach(p -> out.append(" pcache TLS / ").append(p.label()).append(" |"));
        out.append("\n|---|---|");
        peers.forEach(p -> out.append("---:|"));
        ratioPeers().forEach(p -> out.append("---:|"));
        ResultTable.tlsRatioPeers(peers).forEach(p -> out.append("---:|"));
        out.append('\n');
        for (FioWorkload w : FioWorkload.values()) {
            if (rounds.stream().anyMatch(r -> r.measured(w))) {
                for (Metric m : Metric.values()) {
                    row(out, w, m);
                }
            }
        }
        out.append("\nTargets (on the median of the per-round ratios):\n\n");
        for (Targets.Target t : Targets.of(settings)) {
            out.append("* ").append(t.text()).append(": ").append(verdict(t)).append('\n');
        }
        return out.toString();
    }

    private void row(StringBuilder out, FioWorkload w, Metric metric) {
        out.append("| ").append(w.title(settings)).append(" | ").append(metric.label(w)).append(" |");
        for (Peer p : peers) {
            List<Double> v = values(w, p, metric);
            out.append(' ').append(v.isEmpty() ? "failed" : metric.format(Spread.of(v).median()))
                    .append(v.isEmpty() || v.size() == rounds.size() ? "" : " (" + v.size() + " of " + rounds.size()
                            + ")").append(" |");
        }
        for (Peer p : ratioPeers()) {
            List<Double> r = ratios(w, metric, p);
            out.append(' ').append(r.isEmpty() ? "–" : Spread.of(r).ratio()).append(" |");
        }
        for (Peer p : ResultTable.tlsRatioPeers(peers)) {
            List<Double> r = ratios(Peer.PCACHE_TLS, w, metric, p);
            out.append(' ').append(r.isEmpty() ? "–" : Spread.of(r).ratio()).append(" |");
        }
        out.append('\n');
    }

    /** The target's verdict over the rounds, e.g. "**met** (1.05×; 0.90–1.20×, met in 2 of 3 rounds)". */
    String verdict(Targets.Target t) {
        List<Double> ratios = new ArrayList<>();
        Optional<String> reason = Optional.empty();
        for (ResultTable r : rounds) {
            Targets.Ratio ratio = t.measure().apply(r);
            if (ratio.measured()) {
                ratios.add(ratio.value());
            } else if (reason.isEmpty()) {
                reason = Optional.of(ratio.reason());
            }
        }
        if (ratios.isEmpty()) {
            return reason.orElse("not measured");
        }
        Spread s = Spread.of(ratios);
        long met = ratios.stream().filter(t::met).count();
        String missing = ratios.size() < rounds.size() ? "; " + (rounds.size() - ratios.size()) + " round(s) "
                + reason.orElse("not measured") : "";
        return t.word(s.median()) + String.format(Locale.ROOT, " (%.2f×; %.2f–%.2f×, met in %d of %d rounds%s)",
                s.median(), s.min(), s.max(), met, ratios.size(), missing);
    }
}
