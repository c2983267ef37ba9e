package pcache.bench.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

class BenchSettingsTest {

    @Test
    void defaults() {
        BenchSettings s = BenchSettings.parse();
        assertEquals(16, s.smallQueueDepth());
        assertEquals(4, s.largeQueueDepth());
        assertEquals(4, s.connections());
        assertTrue(s.multiConnection());
        assertEquals(1, s.rounds());
        assertEquals(List.of(Peer.PCACHE, Peer.NBDKIT_FILE, Peer.NBDKIT_FILE_CACHE, Peer.QEMU_NBD_RAW,
                Peer.QEMU_NBD_QCOW2, Peer.NBDKIT_MEMORY), s.peers());
    }

    /** The multi-connection flushed writes start on a fresh server unless told otherwise. */
    @Test
    void aFreshServerForTheMultiConnectionWritesIsTheDefault() {
        assertTrue(BenchSettings.parse().freshMulti());
        assertTrue(!BenchSettings.parse("--fresh-multi=off").freshMulti());
        assertTrue(BenchSettings.parse("--fresh-multi=ON").freshMulti());
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> BenchSettings.parse("--fresh-multi=maybe"));
    }

    @Test
    void theSeedIsGivenOrNewEachRun() {
        assertEquals(-7897980897347300881L, BenchSettings.parse("--seed=-7897980897347300881").seed());
        assertTrue(BenchSettings.parse().seed() != BenchSettings.parse().seed()
                || BenchSettings.parse().seed() != BenchSettings.parse().seed(), "a new seed each run");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> BenchSettings.parse("--seed=x"));
        assertTrue(e.getMessage().startsWith("--seed takes a number"), e.getMessage());
    }

    @Test
    void queueDepthsConnectionsAndRounds() {
        BenchSettings s = BenchSettings.parse("--qd-small=32", "--qd-large=8", "--connections=2", "--rounds=3");
        assertEquals(32, s.smallQueueDepth());
        assertEquals(8, s.largeQueueDepth());
        assertEquals(2, s.connections());
        assertEquals(3, s.rounds());
    }

    @Test
    void oneConnectionLeavesTheMultiConnectionWorkloadsOut() {
        assertFalse(BenchSettings.parse("--connections=1").multiConnection());
    }

    @Test
    void countsBelowOneOrNotNumbersAreRejected() {
        for (String arg : List.of("--rounds=0", "--connections=-1", "--qd-small=0", "--qd-large=x", "--rounds=")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BenchSettings.parse(arg));
            assertTrue(e.getMessage().startsWith(arg.substring(0, arg.indexOf('='))), e.getMessage());
        }
    }

    @Test
    void peersRunInTheOrderGiven() {
        assertEquals(List.of(Peer.NBDKIT_MEMORY, Peer.PCACHE, Peer.NBDKIT_FILE),
                BenchSettings.parse("--peers=nbdkit_memory, pcache,nbdkit_file,pcache").peers());
    }

    @Test
    void theBaselineRunsRightAfterPcache() {
        assertEquals(List.of(Peer.NBDKIT_FILE, Peer.PCACHE, Peer.PCACHE_BASELINE),
                BenchSettings.parse("--peers=nbdkit_file,pcache", "--baseline=other").peers());
        assertEquals(List.of(Peer.NBDKIT_FILE), BenchSettings.parse("--peers=nbdkit_file", "--baseline=other").peers());
        assertEquals(List.of(Peer.PCACHE), BenchSettings.parse("--peers=pcache_baseline,pcache").peers());
    }

    @Test
    void tlsRunsEveryPeerThatHasATlsServerRightAfterIt() {
        BenchSettings s = BenchSettings.parse("--peers=pcache,nbdkit_file,nbdkit_file_cache,nbdkit_memory",
                "--tls=x509");
        assertEquals(List.of(Peer.PCACHE, Peer.PCACHE_TLS, Peer.NBDKIT_FILE, Peer.NBDKIT_FILE_TLS,
                Peer.NBDKIT_FILE_CACHE, Peer.NBDKIT_MEMORY, Peer.NBDKIT_MEMORY_TLS), s.peers());
        assertTrue(s.tls());
        assertFalse(BenchSettings.parse().tls());
        assertFalse(BenchSettings.parse("--tls=off").tls());
        assertTrue(BenchSettings.parse("--peers=nbdkit_file_tls").tls());
        assertEquals(List.of(Peer.PCACHE_TLS, Peer.PCACHE),
                BenchSettings.parse("--peers=pcache_tls,pcache", "--tls=x509").peers());
    }

    @Test
    void pskIsRefusedWithTheReason() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> BenchSettings.parse("--tls=psk"));
        assertTrue(e.getMessage().contains("tls-psk-file"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> BenchSettings.parse("--tls=yes"));
    }

    @Test
    void workloadsChooseASubset() {
        BenchSettings s = BenchSettings.parse("--workloads=seqread_1m, SEQWRITE_1M");
        for (FioWorkload w : FioWorkload.values()) {
            assertEquals(w == FioWorkload.SEQREAD_1M || w == FioWorkload.SEQWRITE_1M, s.runs(w), w.name());
        }
        BenchSettings all = BenchSettings.parse("--connections=1");
        assertTrue(all.runs(FioWorkload.SEQWRITE_1M_AFTER_RANDWRITE));
        assertFalse(all.runs(FioWorkload.RANDREAD_4K_HITS_MULTI));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> BenchSettings.parse("--workloads=seqread_4k"));
        assertTrue(e.getMessage().startsWith("--workloads: unknown workload 'seqread_4k'"), e.getMessage());
    }

    @Test
    void unknownOptionsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> BenchSettings.parse("--qd=4"));
        assertThrows(IllegalArgumentException.class, () -> BenchSettings.parse("--peers=nbd_server"));
    }
}
