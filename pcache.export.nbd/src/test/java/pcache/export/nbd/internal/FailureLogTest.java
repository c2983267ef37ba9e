package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.System.Logger.Level;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

/** A connection's failed requests: the first in full, then a line per period, then the rest at the end. */
class FailureLogTest {

    private final AtomicLong now = new AtomicLong(1_000);
    private final FailureLog log = new FailureLog(now::get);

    @Test
    void theFirstInFullThenOneLinePerPeriodThenTheRestAtTheEnd() {
        for (int i = 0; i < FailureLog.IN_FULL; i++) {
            FailureLog.Line line = log.admit(Level.WARNING, "failure " + i);
            assertEquals(new FailureLog.Line(Level.WARNING, "failure " + i), line);
        }
        for (int i = 0; i < 100; i++) {
            assertNull(log.admit(i == 50 ? Level.WARNING : Level.INFO, "later " + i));
        }
        now.addAndGet(FailureLog.PERIOD_NANOS);
        FailureLog.Line summary = log.admit(Level.INFO, "later 100");
        assertNotNull(summary);
        assertEquals(Level.WARNING, summary.level(), "the gravest of those left out");
        assertTrue(summary.message().startsWith("101 more failed request(s) of this client in the last 10 s or so"),
                summary.message());
        assertTrue(summary.message().endsWith("the latest: later 100"), summary.message());
        assertNull(log.admit(Level.WARNING, "later 101"), "the next period has begun");
        FailureLog.Line rest = log.remaining();
        assertEquals(new FailureLog.Line(Level.WARNING, "1 more failed request(s) of this client before the connection"
                + " ended (logged each after the first 16 only every 10 s; all are counted in the export's errors);"
                + " the latest: later 101"), rest);
        assertNull(log.remaining(), "told once");
    }

    /** Those left out are told when the server's timer asks once a period has passed, without a new failure. */
    @Test
    void theTimerTellsOfThoseLeftOutOnceThePeriodHasPassed() {
        for (int i = 0; i < FailureLog.IN_FULL + 3; i++) {
            log.admit(Level.WARNING, "failure " + i);
        }
        assertNull(log.due(), "not before the period has passed");
        now.addAndGet(FailureLog.PERIOD_NANOS);
        FailureLog.Line due = log.due();
        assertNotNull(due);
        assertTrue(due.message().startsWith("3 more failed request(s)"), due.message());
        assertNull(log.due(), "told once");
        assertNull(log.remaining());
    }

    /** Failures at ERROR are pcache's own (a fault in the device's memory): always logged in full. */
    @Test
    void errorsAreAlwaysLoggedInFull() {
        for (int i = 0; i < FailureLog.IN_FULL; i++) {
            log.admit(Level.WARNING, "failure " + i);
        }
        assertNull(log.admit(Level.WARNING, "one more"));
        assertEquals(new FailureLog.Line(Level.ERROR, "a fault"), log.admit(Level.ERROR, "a fault"));
    }

    @Test
    void routineProbesLoggedBelowInfoAreNeitherCountedNorHeldBack() {
        for (int i = 0; i < 3 * FailureLog.IN_FULL; i++) {
            assertEquals(new FailureLog.Line(Level.DEBUG, "probe"), log.admit(Level.DEBUG, "probe"));
        }
        assertEquals(new FailureLog.Line(Level.WARNING, "real"), log.admit(Level.WARNING, "real"));
        assertNull(log.remaining());
    }
}
