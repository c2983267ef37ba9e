package pcache.bench.nbd;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Function;

/**
 * The performance issues' targets: ratios of pcache's figures to a peer's (or to its own over one
 * connection, or over TLS to its own in clear text) measured in the same round, each met or missed;
 * a target whose peer did not run is not checked, one whose workload does not run
 * ({@code --workloads}) is left out.
 */
final class Targets {

    private Targets() {
    }

    /**
     * A ratio measured in one round, or why there is none.
     *
     * @param value pcache's figure over the reference's (NaN when {@code reason} says why not)
     * @param against what pcache was divided by (a peer's label, for the record), or null
     * @param reason why there is no ratio ("not checked: ..."), or null
     */
    record Ratio(double value, String against, String reason) {

        static Ratio of(double value, String against) {
            return new Ratio(value, against, null);
        }

        static Ratio none(String reason) {
            return new Ratio(Double.NaN, null, reason);
        }

        boolean measured() {
            return reason == null;
        }
    }

    /**
     * One target.
     *
     * @param text what it demands, e.g. "4 KiB random read hits (QD16) ≥ 1.0× nbdkit file"
     * @param metric the metric compared (for latency, lower ratios are better)
     * @param factor the ratio to reach (at least, or at most for latency)
     * @param measure the ratio in one round
     */
    record Target(String text, Metric metric, double factor, Function<ResultTable, Ratio> measure) {

        /** Whether {@code ratio} meets the target. */
        boolean met(double ratio) {
            return metric.higherIsBetter() ? ratio >= factor : ratio <= factor;
        }

        /** {@code **met**} or {@code **missed**}. */
        String word(double ratio) {
            return met(ratio) ? "**met**" : "**missed**";
        }

        /** {@code **met** (1.64×)} or {@code **missed** (0.37×)}. */
        String verdict(double ratio) {
            return word(ratio) + String.format(Locale.ROOT, " (%.2f×)", ratio);
        }
    }

    /** The targets of a run with {@code settings}. */
    static List<Target> of(BenchSettings s) {
        FioWorkload flushed = FioWorkload.FLUSHED_RANDWRITE_4K;
        FioWorkload hits = FioWorkload.RANDREAD_4K_HITS;
        FioWorkload seqRead = FioWorkload.SEQREAD_1M;
        FioWorkload seqWrite = FioWorkload.SEQWRITE_1M;
        List<Target> targets = new ArrayList<>();
        if (s.runs(hits)) {
            targets.add(vsPeer(s, hits, Metric.FIGURE, 1.0, Peer.NBDKIT_FILE));
        }
        if (s.runs(seqWrite)) {
            targets.add(vsPeer(s, seqWrite, Metric.FIGURE, 1.0, Peer.NBDKIT_FILE));
            targets.add(vsPeer(s, seqWrite, Metric.CLAT_P99, 3.0, Peer.NBDKIT_FILE));
        }
        if (s.runs(flushed)) {
            targets.add(vsBestPersistent(s, flushed, 3.0));
            targets.add(vsPeer(s, flushed, Metric.FIGURE, 0.9, Peer.NBDKIT_MEMORY));
        }
        if (s.runs(seqRead)) {
            targets.add(vsPeer(s, seqRead, Metric.FIGURE, 1.0, Peer.NBDKIT_FILE));
        }
        if (s.runs(FioWorkload.RANDREAD_4K_HITS_MULTI) && s.runs(hits)) {
            targets.add(multiVsSingle(s, FioWorkload.RANDREAD_4K_HITS_MULTI, hits));
        }
        if (s.runs(FioWorkload.FLUSHED_RANDWRITE_4K_MULTI) && s.runs(flushed)) {
            targets.add(multiVsSingle(s, FioWorkload.FLUSHED_RANDWRITE_4K_MULTI, flushed));
        }
        // the same demands on 1 MiB sequential writes while write-back of random writes is pending
        if (s.runs(FioWorkload.SEQWRITE_1M_AFTER_RANDWRITE)) {
            targets.add(vsPeer(s, FioWorkload.SEQWRITE_1M_AFTER_RANDWRITE, Metric.FIGURE, 1.0, Peer.NBDKIT_FILE));
            targets.add(vsPeer(s, FioWorkload.SEQWRITE_1M_AFTER_RANDWRITE, Metric.CLAT_P99, 3.0, Peer.NBDKIT_FILE));
        }
        // issue 13: TLS costs at most a fifth of pcache's 1 MiB throughput and beats nbdkit's TLS
        if (s.peers().contains(Peer.PCACHE_TLS)) {
            for (FioWorkload w : List.of(seqRead, seqWrite)) {
                if (s.runs(w)) {
                    targets.add(vs(s, w, Metric.FIGURE, 0.8, Peer.PCACHE_TLS, Peer.PCACHE));
                    targets.add(vs(s, w, Metric.FIGURE, 1.0, Peer.PCACHE_TLS, Peer.NBDKIT_FILE_TLS));
                }
            }
        }
        return List.copyOf(targets);
    }

    /** pcache's {@code metric} of {@code w} against {@code peer}'s. */
    static Target vsPeer(BenchSettings s, FioWorkload w, Metric metric, double factor, Peer peer) {
        String what = metric == Metric.FIGURE ? "" : " " + metric.label(w).replace(" µs", "");
        String text = String.format(Locale.ROOT, "%s%s %s %.1f× %s%s", w.title(s), what,
                metric.higherIsBetter() ? "≥" : "≤", factor, peer.label(), metric == Metric.FIGURE ? "" : "'s");
        return new Target(text, metric, factor, round -> ratio(round, w, metric, Peer.PCACHE, w, peer));
    }

    /** {@code ours}' figure of {@code w} against {@code theirs}', e.g. "...: pcache TLS ≥ 0.8× pcache". */
    static Target vs(BenchSettings s, FioWorkload w, Metric metric, double factor, Peer ours, Peer theirs) {
        String text = String.format(Locale.ROOT, "%s: %s %s %.1f× %s", w.title(s), ours.label(),
                metric.higherIsBetter() ? "≥" : "≤", factor, theirs.label());
        return new Target(text, metric, factor, round -> ratio(round, w, metric, ours, w, theirs));
    }

    /** pcache's figure of {@code w} against the highest figure of a persistent peer. */
    static Target vsBestPersistent(BenchSettings s, FioWorkload w, double factor) {
        String text = String.format(Locale.ROOT, "%s ≥ %.1f× the best persistent peer", w.title(s), factor);
        return new Target(text, Metric.FIGURE, factor, round -> {
            if (round.peers().stream().noneMatch(p -> p.persistent() && !p.pcache())) {
                return Ratio.none("not checked: no persistent peer in this run");
            }
            Optional<Peer> best = round.bestPersistent(w, Metric.FIGURE);
            return best.isEmpty() ? Ratio.none("not measured: no persistent peer finished " + w.title(s))
                    : ratio(round, w, Metric.FIGURE, Peer.PCACHE, w, best.get());
        });
    }

    /** pcache's total IOPS of {@code multi} against its IOPS of {@code single} (one connection). */
    static Target multiVsSingle(BenchSettings s, FioWorkload multi, FioWorkload single) {
        String text = String.format(Locale.ROOT, "%s: %d connections' total IOPS ≥ 1 connection's (%s)",
                multi.title(s), s.connections(), single.title(s));
        return new Target(text, Metric.FIGURE, 1.0,
                round -> ratio(round, multi, Metric.FIGURE, Peer.PCACHE, single, Peer.PCACHE));
    }

    /** {@code ours}' figure of {@code w} over {@code theirs}' figure of {@code theirW}, in one round. */
    static Ratio ratio(ResultTable round, FioWorkload w, Metric metric, Peer ours, FioWorkload theirW,
            Peer theirs) {
        for (Peer p : List.of(ours, theirs)) {
            if (!round.peers().contains(p)) {
                return Ratio.none("not checked: " + p.label() + " not in this run");
            }
        }
        Optional<Double> a = round.value(w, ours, metric);
        Optional<Double> b = round.value(theirW, theirs, metric);
        if (a.isEmpty() || a.get() < 0) {
            return Ratio.none("not measured: " + ours.label() + " has no result");
        }
        if (b.isEmpty() || b.get() <= 0) {
            return Ratio.none("not measured: " + theirs.label() + " has no result");
        }
        return Ratio.of(a.get() / b.get(), theirs == ours ? null : theirs.label());
    }
}
