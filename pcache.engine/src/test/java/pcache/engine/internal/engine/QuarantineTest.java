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

    /**
     * Clearing the middle of a range splits it; when the list is full, two others merge, never
     * across what was just rewritten. Before, the list went one over its capacity, which the
     * stored record cannot hold: the write that cleared it failed as an internal error.
     */
    @Test
    void clearingTheMiddleOfARangeInAFullListStaysWithinCapacity() {
        Quarantine q = new Quarantine(3, List.of());
        q.add(0, 10_000);
        q.add(20_000, 512);
        q.add(30_000, 512);
        assertTrue(q.clear(4_000, 10)); // a 10-byte gap: the narrowest, but just rewritten
        assertEquals(3, q.snapshot().size(), q.snapshot().toString());
        assertEquals(null, q.overlapping(4_000, 10), "the rewritten bytes are not quarantined again");
        assertTrue(q.overlapping(3_999, 1) != null && q.overlapping(4_010, 1) != null);
        assertEquals(List.of(new Range(0, 4_000), new Range(4_010, 5_990), new Range(20_000, 10_512)), q.snapshot());
    }
}
