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
    void unknownOptionsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> BenchSettings.parse("--qd=4"));
        assertThrows(IllegalArgumentException.class, () -> BenchSettings.parse("--peers=nbd_server"));
    }
}
