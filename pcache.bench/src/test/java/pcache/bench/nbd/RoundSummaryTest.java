package pcache.bench.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

class RoundSummaryTest {

    private final BenchSettings settings = BenchSettings.parse("--peers=pcache,nbdkit_file,nbdkit_memory",
            "--rounds=3");

    /** Reads of pcache 30/40/60 K IOPS, nbdkit file 20/40/40 K, nbdkit memory 30/40/50 K. */
    private RoundSummary reads() {
        double[][] iops = {{30_000, 20_000, 30_000}, {40_000, 40_000, 40_000}, {60_000, 40_000, 50_000}};
        List<ResultTable> rounds = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            ResultTable t = Tables.round(settings, i + 1);
            t.add(FioWorkload.RANDREAD_4K_HITS, Peer.PCACHE, Tables.iops(iops[i][0]));
            t.add(FioWorkload.RANDREAD_4K_HITS, Peer.NBDKIT_FILE, Tables.iops(iops[i][1]));
            t.add(FioWorkload.RANDREAD_4K_HITS, Peer.NBDKIT_MEMORY, Tables.iops(iops[i][2]));
            rounds.add(t);
        }
        return new RoundSummary(Transport.UNIX, settings, settings.peers(), rounds);
    }

    @Test
    void mediansOverTheRounds() {
        RoundSummary s = reads();
        assertEquals(40_000, Spread.of(s.values(FioWorkload.RANDREAD_4K_HITS, Peer.PCACHE, Metric.FIGURE)).median());
        assertEquals(40_000, Spread.of(s.values(FioWorkload.RANDREAD_4K_HITS, Peer.NBDKIT_FILE, Metric.FIGURE))
                .median());
    }

    /** Per round 1.5, 1.0, 1.5 against nbdkit file: median 1.5, though the medians' ratio is 1.0. */
    @Test
    void ratiosAreTakenPerRoundThenSummarized() {
        RoundSummary s = reads();
        Spread file = Spread.of(s.ratios(FioWorkload.RANDREAD_4K_HITS, Metric.FIGURE, Peer.NBDKIT_FILE));
        assertEquals(1.5, file.median(), 1e-9);
        assertEquals(1.0, file.min(), 1e-9);
        assertEquals(1.5, file.max(), 1e-9);
        Spread memory = Spread.of(s.ratios(FioWorkload.RANDREAD_4K_HITS, Metric.FIGURE, Peer.NBDKIT_MEMORY));
        assertEquals(1.0, memory.median(), 1e-9);
        assertEquals(1.2, memory.max(), 1e-9);
    }

    @Test
    void markdownRowsAndTargets() {
        String md = reads().markdown();
        assertTrue(md.contains("| 4 KiB random read hits (QD16) | IOPS | 40,000 | 40,000 | 40,000"
                + " | 1.50× (1.00–1.50×) | 1.00× (1.00–1.20×) |"), md);
        assertTrue(md.contains("* 4 KiB random read hits (QD16) ≥ 1.0× nbdkit file: **met** (1.50×; 1.00–1.50×,"
                + " met in 3 of 3 rounds)"), md);
        assertTrue(md.contains("* 1 MiB sequential reads (QD4) ≥ 1.0× nbdkit file: not measured: pcache has no"
                + " result"), md);
    }

    @Test
    void roundsWithoutAResultAreCounted() {
        List<ResultTable> rounds = new ArrayList<>();
        for (int i = 1; i <= 3; i++) {
            ResultTable t = Tables.round(settings, i);
            t.add(FioWorkload.SEQWRITE_1M, Peer.PCACHE, Tables.result(900L << 20, 30_000_000));
            if (i != 2) {
                t.add(FioWorkload.SEQWRITE_1M, Peer.NBDKIT_FILE, Tables.result(1000L << 20, 10_000_000));
            }
            rounds.add(t);
        }
        String md = new RoundSummary(Transport.UNIX, settings, settings.peers(), rounds).markdown();
        assertTrue(md.contains("| 1 MiB sequential writes (QD4) | MiB/s | 900 | 1,000 (2 of 3) | failed | 0.90×"
                + " (0.90–0.90×) | – |"), md);
        assertTrue(md.contains("* 1 MiB sequential writes (QD4) clat p99 ≤ 3.0× nbdkit file's: **met** (3.00×;"
                + " 3.00–3.00×, met in 2 of 2 rounds; 1 round(s) not measured: nbdkit file has no result)"), md);
    }
}
