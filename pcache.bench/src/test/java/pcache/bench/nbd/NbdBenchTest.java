package pcache.bench.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;

import org.junit.jupiter.api.Test;

class NbdBenchTest {

    @Test
    void theOrderOfThePeersAlternatesFromRoundToRound() {
        List<Peer> peers = List.of(Peer.PCACHE, Peer.NBDKIT_FILE, Peer.NBDKIT_MEMORY);
        List<Peer> reversed = List.of(Peer.NBDKIT_MEMORY, Peer.NBDKIT_FILE, Peer.PCACHE);
        assertEquals(peers, NbdBench.order(peers, 1));
        assertEquals(reversed, NbdBench.order(peers, 2));
        assertEquals(peers, NbdBench.order(peers, 3));
        assertEquals(reversed, NbdBench.order(peers, 4));
    }
}
