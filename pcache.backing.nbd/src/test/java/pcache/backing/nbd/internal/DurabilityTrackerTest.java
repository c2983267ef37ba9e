package pcache.backing.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

import pcache.backing.nbd.internal.DurabilityTracker.ConnectionRecord;
import pcache.backing.nbd.internal.DurabilityTracker.FlushTicket;

class DurabilityTrackerTest {

    private final DurabilityTracker tracker = new DurabilityTracker();

    /** A flush sent on {@code connection} now and acknowledged; returns the failure or null. */
    private String flush(ConnectionRecord connection) {
        FlushTicket ticket = tracker.flushStarted();
        try {
            return tracker.flushAcknowledged(connection, tracker.acknowledgedSoFar(), ticket);
        } finally {
            tracker.flushFinished(ticket);
        }
    }

    @Test
    void flushOnTheSameConnectionCoversItsWrites() {
        ConnectionRecord a = new ConnectionRecord();
        tracker.writeAcknowledged(a);
        tracker.writeAcknowledged(a);
        assertNull(flush(a));
        tracker.connectionLost(a, "boom");
        assertNull(flush(new ConnectionRecord()));
        assertEquals(0, tracker.pendingLosses());
    }

    @Test
    void unflushedWritesOnALostConnectionFailTheNextFlushOnce() {
        ConnectionRecord a = new ConnectionRecord();
        tracker.writeAcknowledged(a);
        assertNull(flush(a));
        tracker.writeAcknowledged(a); // not flushed
        tracker.connectionLost(a, "server died");
        assertEquals(1, tracker.pendingLosses());

        ConnectionRecord b = new ConnectionRecord();
        String failure = flush(b);
        assertNotNull(failure);
        assertEquals(true, failure.contains("1 acknowledged write(s)") && failure.contains(
                "server died"), failure);
        assertNull(flush(b), "reported once; the caller re-writes and flushes again");
    }

    /**
     * A flush whose caller already gave up (timed out, interrupted) when its failure came reports
     * it to nobody: the next flush must still fail. Before, the abandoned flush used the report
     * up, and the next flush succeeded over writes the server may have lost.
     */
    @Test
    void aLossIsReportedOnlyToAFlushWhoseCallerIsStillWaiting() {
        ConnectionRecord a = new ConnectionRecord();
        tracker.writeAcknowledged(a);
        tracker.connectionLost(a, "server died");
        ConnectionRecord b = new ConnectionRecord();
        FlushTicket abandoned = tracker.flushStarted();
        assertNotNull(tracker.flushAcknowledged(b, tracker.acknowledgedSoFar(), abandoned, reason -> false));
        tracker.flushFinished(abandoned);
        assertNotNull(flush(b), "the loss was not reported yet");
        assertNull(flush(b), "now it was");
    }

    @Test
    void flushesRunningWhenTheLossIsFirstReportedAllFail() {
        ConnectionRecord a = new ConnectionRecord();
        tracker.writeAcknowledged(a);
        tracker.connectionLost(a, "gone");
        ConnectionRecord b = new ConnectionRecord();
        FlushTicket first = tracker.flushStarted();
        FlushTicket second = tracker.flushStarted();
        assertNotNull(tracker.flushAcknowledged(b, tracker.acknowledgedSoFar(), first));
        tracker.flushFinished(first);
        assertNotNull(tracker.flushAcknowledged(b, tracker.acknowledgedSoFar(), second),
                "the second flush started before the report and must hear about it too");
        tracker.flushFinished(second);
        assertNull(flush(b));
    }

    @Test
    void flushThatStartedBeforeTheLostWritesIsNotAffected() {
        ConnectionRecord a = new ConnectionRecord();
        FlushTicket early = tracker.flushStarted(); // covers nothing yet
        tracker.writeAcknowledged(a);
        tracker.connectionLost(a, "gone");
        ConnectionRecord b = new ConnectionRecord();
        assertNull(tracker.flushAcknowledged(b, tracker.acknowledgedSoFar(), early));
        tracker.flushFinished(early);
        assertNotNull(flush(b), "a flush that started later covers the lost write");
    }

    @Test
    void flushSentBeforeAWriteWasAcknowledgedDoesNotCoverIt() {
        ConnectionRecord a = new ConnectionRecord();
        FlushTicket ticket = tracker.flushStarted();
        long coverage = tracker.acknowledgedSoFar(); // flush goes on the wire now
        tracker.writeAcknowledged(a); // a write acknowledged while the flush was in flight
        assertNull(tracker.flushAcknowledged(a, coverage, ticket));
        tracker.flushFinished(ticket);
        tracker.connectionLost(a, "gone");
        assertEquals(1, tracker.pendingLosses(), "the flush did not cover the later write");
    }
}
