package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

/** The concurrent crash test's oracle on hand-made histories: what it accepts and what it refuses. */
class FlushOracleTest {

    private static final long ZERO = SectorHistory.ZERO;
    private static final long S = 8; // the sector the histories write

    private static FlushOracle.Write write(FlushOracle o, int thread, long version, long issued, long acknowledged) {
        return write(o, thread, version, false, false, issued, acknowledged);
    }

    private static FlushOracle.Write write(FlushOracle o, int thread, long version, boolean zero, boolean fua,
            long issued, long acknowledged) {
        FlushOracle.Write w = new FlushOracle.Write(thread, S * 512, 512, version, zero, fua, issued);
        w.acknowledged = acknowledged;
        o.add(w);
        return w;
    }

    @Test
    void aFlushOnOneThreadPromisesWritesAcknowledgedOnAnother() {
        FlushOracle o = new FlushOracle();
        write(o, 1, 10, 1, 2);
        o.flushReturned(0, 3);
        assertNull(o.judgeAfterCrash(S, 10));
        assertNotNull(o.judgeAfterCrash(S, ZERO), "the initial zeroes came back over a promised write");
        assertEquals(1, o.promisedForOtherThreads());
    }

    @Test
    void aWriteStillInFlightWhenTheFlushWasIssuedIsNotPromised() {
        FlushOracle o = new FlushOracle();
        write(o, 1, 10, 1, 4);
        o.flushReturned(0, 3);
        assertNull(o.judgeAfterCrash(S, 10));
        assertNull(o.judgeAfterCrash(S, ZERO));
        assertEquals(0, o.promisedForOtherThreads());
    }

    @Test
    void aFlushThatDidNotReturnPromisesNothingAndAFuaWriteItself() {
        FlushOracle o = new FlushOracle();
        write(o, 1, 10, 1, 2);
        assertNull(o.judgeAfterCrash(S, ZERO));
        write(o, 2, 11, true, true, 3, 4); // FUA write-zeroes
        assertNotNull(o.judgeAfterCrash(S, 10), "v10 ended before the FUA write-zeroes began");
        assertNull(o.judgeAfterCrash(S, ZERO));
    }

    @Test
    void writesThatRanAtTheSameTimeAsTheNewestPromisedOneMayEachStay() {
        FlushOracle o = new FlushOracle();
        write(o, 1, 10, 1, 2); // over before the others began
        write(o, 1, 11, 3, 6);
        write(o, 2, 12, 4, 5);
        write(o, 3, 13, 5, 9); // acknowledged after the flush was issued
        write(o, 2, 14, 10, FlushOracle.NOT_ACKNOWLEDGED); // in flight at the crash
        o.flushReturned(0, 7);
        assertNull(o.judgeAfterCrash(S, 11));
        assertNull(o.judgeAfterCrash(S, 12));
        assertNull(o.judgeAfterCrash(S, 13));
        assertNull(o.judgeAfterCrash(S, 14));
        assertNotNull(o.judgeAfterCrash(S, 10), "v10 ended before both promised writes began");
        assertNotNull(o.judgeAfterCrash(S, ZERO));
        assertNotNull(o.judgeAfterCrash(S, 15), "never written");
        assertNotNull(o.judgeAfterCrash(S, SectorHistory.FOREIGN));
        assertEquals(1, o.contestedSectors());
    }

    @Test
    void anOlderPromisedWriteStillRulesOutWhatEndedBeforeItBegan() {
        FlushOracle o = new FlushOracle();
        write(o, 1, 10, 1, 2);
        write(o, 2, 11, 3, 5); // promised, began after v10 ended
        write(o, 3, 12, 1, 8); // promised, the newest acknowledged, ran at the same time as v10
        o.flushReturned(0, 9);
        assertNotNull(o.judgeAfterCrash(S, 10));
        assertNull(o.judgeAfterCrash(S, 11));
        assertNull(o.judgeAfterCrash(S, 12));
    }

    @Test
    void aReadSeesWhatWasAcknowledgedBeforeItOrWhatRanMeanwhile() {
        FlushOracle o = new FlushOracle();
        write(o, 1, 10, 1, 2);
        write(o, 2, 11, 4, 8);
        write(o, 3, 12, 9, 10);
        // a read issued at 3, returned at 6
        assertNull(o.judgeRead(S, 10, 3, 6));
        assertNull(o.judgeRead(S, 11, 3, 6));
        assertNotNull(o.judgeRead(S, 12, 3, 6), "v12 was issued after the read returned");
        assertNotNull(o.judgeRead(S, ZERO, 3, 6), "v10 was acknowledged before the read");
        assertNull(o.judgeRead(S, ZERO, 1, 6), "the read began before v10 was acknowledged");
        assertNotNull(o.judgeRead(S, 10, 9, 12), "v11 was acknowledged before the read began");
    }
}
