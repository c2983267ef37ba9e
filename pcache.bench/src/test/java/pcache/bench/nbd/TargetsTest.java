package pcache.bench.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

class TargetsTest {

    private final BenchSettings settings = BenchSettings.parse("--peers=pcache,nbdkit_file,qemu_nbd_raw,nbdkit_memory");

    @Test
    void theIssuesTargets() {
        assertEquals(List.of(
                "4 KiB random read hits (QD16) ≥ 1.0× nbdkit file",
                "1 MiB sequential writes (QD4) ≥ 1.0× nbdkit file",
                "1 MiB sequential writes (QD4) clat p99 ≤ 3.0× nbdkit file's",
                "flushed 4 KiB random writes (QD16, flush every 32) ≥ 3.0× the best persistent peer",
                "flushed 4 KiB random writes (QD16, flush every 32) ≥ 0.9× nbdkit memory",
                "1 MiB sequential reads (QD4) ≥ 1.0× nbdkit file",
                "4 KiB random read hits, 4 connections (QD16 each): 4 connections' total IOPS ≥ 1 connection's"
                        + " (4 KiB random read hits (QD16))",
                "flushed 4 KiB random writes, 4 connections (QD16 each, flush every 32): 4 connections' total IOPS"
                        + " ≥ 1 connection's (flushed 4 KiB random writes (QD16, flush every 32))",
                "1 MiB sequential writes directly after random writes (QD4) ≥ 1.0× nbdkit file",
                "1 MiB sequential writes directly after random writes (QD4) clat p99 ≤ 3.0× nbdkit file's"),
                Targets.of(settings).stream().map(Targets.Target::text).toList());
        assertEquals(8, Targets.of(BenchSettings.parse("--connections=1")).size());
    }

    @Test
    void onlyTheTargetsOfTheWorkloadsThatRun() {
        assertEquals(List.of("1 MiB sequential reads (QD4) ≥ 1.0× nbdkit file"),
                Targets.of(BenchSettings.parse("--workloads=seqread_1m")).stream().map(Targets.Target::text)
                        .toList());
    }

    @Test
    void tlsTargetsComparePcacheTlsWithPcacheAndNbdkitFileTls() {
        BenchSettings tls = BenchSettings.parse("--peers=pcache,nbdkit_file", "--tls=x509",
                "--workloads=seqread_1m,seqwrite_1m");
        assertEquals(List.of(
                "1 MiB sequential writes (QD4) ≥ 1.0× nbdkit file",
                "1 MiB sequential writes (QD4) clat p99 ≤ 3.0× nbdkit file's",
                "1 MiB sequential reads (QD4) ≥ 1.0× nbdkit file",
                "1 MiB sequential reads (QD4): pcache TLS ≥ 0.8× pcache",
                "1 MiB sequential reads (QD4): pcache TLS ≥ 1.0× nbdkit file TLS",
                "1 MiB sequential writes (QD4): pcache TLS ≥ 0.8× pcache",
                "1 MiB sequential writes (QD4): pcache TLS ≥ 1.0× nbdkit file TLS"),
                Targets.of(tls).stream().map(Targets.Target::text).toList());
        ResultTable round = Tables.table(tls);
        round.add(FioWorkload.SEQREAD_1M, Peer.PCACHE, Tables.result(1000L << 20, 1000));
        round.add(FioWorkload.SEQREAD_1M, Peer.PCACHE_TLS, Tables.result(700L << 20, 1000));
        round.add(FioWorkload.SEQREAD_1M, Peer.NBDKIT_FILE, Tables.result(2000L << 20, 1000));
        round.add(FioWorkload.SEQREAD_1M, Peer.NBDKIT_FILE_TLS, Tables.result(500L << 20, 1000));
        Targets.Target vsClear = Targets.of(tls).get(3);
        Targets.Target vsNbdkit = Targets.of(tls).get(4);
        assertEquals("**missed** (0.70×)", vsClear.verdict(vsClear.measure().apply(round).value()));
        assertEquals("**met** (1.40×)", vsNbdkit.verdict(vsNbdkit.measure().apply(round).value()));
        // the best persistent peer of clear-text pcache is a clear-text one, however fast a TLS one is
        round.add(FioWorkload.SEQWRITE_1M, Peer.NBDKIT_FILE, Tables.result(100L << 20, 1000));
        round.add(FioWorkload.SEQWRITE_1M, Peer.NBDKIT_FILE_TLS, Tables.result(900L << 20, 1000));
        assertEquals(Peer.NBDKIT_FILE, round.bestPersistent(FioWorkload.SEQWRITE_1M, Metric.FIGURE).orElseThrow());
        String table = round.markdown();
        assertTrue(table.contains("| pcache TLS / pcache | pcache TLS / nbdkit file TLS |"), table);
        assertTrue(table.contains("| 1 MiB sequential reads (QD4) | MiB/s | 1,000 | 700 | 2,000 | 500 | 0.50× (nbdkit"
                + " file) | – | 0.70× | 1.40× |"), table);
    }

    @Test
    void figuresMustReachTheFactorLatenciesStayBelowIt() {
        Targets.Target reads = target("4 KiB random read hits (QD16) ≥");
        assertTrue(reads.met(1.0));
        assertFalse(reads.met(0.99));
        Targets.Target p99 = target("1 MiB sequential writes (QD4) clat p99");
        assertTrue(p99.met(3.0));
        assertFalse(p99.met(3.01));
        assertEquals("**missed** (3.50×)", p99.verdict(3.5));
    }

    @Test
    void ratiosOfOneRound() {
        ResultTable round = Tables.table(settings);
        round.add(FioWorkload.SEQWRITE_1M, Peer.PCACHE, Tables.result(500L << 20, 40_000_000));
        round.add(FioWorkload.SEQWRITE_1M, Peer.NBDKIT_FILE, Tables.result(1000L << 20, 10_000_000));
        assertEquals(0.5, target("1 MiB sequential writes (QD4) ≥").measure().apply(round).value(), 1e-9);
        assertEquals(4.0, target("1 MiB sequential writes (QD4) clat p99").measure().apply(round).value(), 1e-9);
    }

    @Test
    void theBestPersistentPeerIsTheFastestFlushedWriterButNbdkitMemory() {
        ResultTable round = Tables.table(settings);
        FioWorkload w = FioWorkload.FLUSHED_RANDWRITE_4K;
        round.add(w, Peer.PCACHE, Tables.iops(30_000));
        round.add(w, Peer.NBDKIT_FILE, Tables.iops(5_000));
        round.add(w, Peer.QEMU_NBD_RAW, Tables.iops(6_000));
        round.add(w, Peer.NBDKIT_MEMORY, Tables.iops(40_000));
        Targets.Ratio r = target("flushed 4 KiB random writes (QD16, flush every 32) ≥ 3.0×").measure().apply(round);
        assertEquals(5.0, r.value(), 1e-9);
        assertEquals("qemu-nbd raw", r.against());
        assertEquals(0.75, target("flushed 4 KiB random writes (QD16, flush every 32) ≥ 0.9×").measure()
                .apply(round).value(), 1e-9);
    }

    @Test
    void multiConnectionAgainstOneConnectionOfPcache() {
        ResultTable round = Tables.table(settings);
        round.add(FioWorkload.RANDREAD_4K_HITS, Peer.PCACHE, Tables.iops(40_000));
        round.add(FioWorkload.RANDREAD_4K_HITS_MULTI, Peer.PCACHE, Tables.iops(60_000));
        round.add(FioWorkload.RANDREAD_4K_HITS, Peer.NBDKIT_FILE, Tables.iops(10_000));
        assertEquals(1.5, target("4 KiB random read hits, 4 connections").measure().apply(round).value(), 1e-9);
    }

    @Test
    void aPeerMissingFromTheRunIsNotChecked() {
        BenchSettings fileOnly = BenchSettings.parse("--peers=pcache,nbdkit_file");
        ResultTable round = Tables.table(fileOnly);
        round.add(FioWorkload.FLUSHED_RANDWRITE_4K, Peer.PCACHE, Tables.iops(30_000));
        round.add(FioWorkload.FLUSHED_RANDWRITE_4K, Peer.NBDKIT_FILE, Tables.iops(5_000));
        Targets.Ratio memory = Targets.ratio(round, FioWorkload.FLUSHED_RANDWRITE_4K, Metric.FIGURE, Peer.PCACHE,
                FioWorkload.FLUSHED_RANDWRITE_4K, Peer.NBDKIT_MEMORY);
        assertEquals("not checked: nbdkit memory not in this run", memory.reason());
        Targets.Ratio reads = Targets.ratio(round, FioWorkload.RANDREAD_4K_HITS, Metric.FIGURE, Peer.PCACHE,
                FioWorkload.RANDREAD_4K_HITS, Peer.NBDKIT_FILE);
        assertEquals("not measured: pcache has no result", reads.reason());
        BenchSettings memoryOnly = BenchSettings.parse("--peers=pcache,nbdkit_memory");
        assertEquals("not checked: no persistent peer in this run",
                Targets.vsBestPersistent(memoryOnly, FioWorkload.FLUSHED_RANDWRITE_4K, 3.0).measure()
                        .apply(Tables.table(memoryOnly)).reason());
    }

    @Test
    void aResultWithErrorsCountsAsNone() {
        ResultTable round = Tables.table(settings);
        round.add(FioWorkload.SEQREAD_1M, Peer.PCACHE, Tables.result(1L << 30, 1000));
        round.add(FioWorkload.SEQREAD_1M, Peer.NBDKIT_FILE, new FioResult(1, 1L << 20, 1, 1, 3));
        assertEquals("not measured: nbdkit file has no result",
                target("1 MiB sequential reads").measure().apply(round).reason());
    }

    private Targets.Target target(String prefix) {
        return Targets.of(settings).stream().filter(t -> t.text().startsWith(prefix)).findFirst().orElseThrow();
    }
}
