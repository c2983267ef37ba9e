package pcache.engine.internal.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

import pcache.engine.internal.media.ExtensionCodec.Range;

/** The quarantined ranges the engine keeps in pcache's extension record. */
class QuarantineTest {

    @Test
    void quarantineMergesAndStaysBounded() {
        Quarantine q = new Quarantine(3, List.of());
        assertTrue(q.add(0, 512));
        assertTrue(q.add(512, 512)); // adjacent: merged
        assertEquals(List.of(new Range(0, 1024)), q.snapshot());
        q.add(10_000, 512);
        q.add(20_000, 512);
        q.add(30_000, 512); // over capacity: the closest two merge, never narrower
        assertEquals(3, q.snapshot().size());
        assertTrue(q.overlapping(10_100, 1) != null);
        assertTrue(q.clear(0, 100_000));
        assertTrue(q.isEmpty());
    }
}
