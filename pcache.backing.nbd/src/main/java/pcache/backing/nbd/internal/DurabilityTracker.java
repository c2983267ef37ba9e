package pcache.backing.nbd.internal;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.TreeSet;

/**
 * Decides whether a flush may report success when connections were lost on the way.
 *
 * <h2>The problem</h2>
 * NBD FLUSH makes durable the writes the server had acknowledged <em>on that connection's
 * server</em> before the flush (design doc §3.6). A write acknowledged on connection A lives in
 * the server's volatile cache until a flush; if A drops and the server restarts, the write may
 * be gone, and a FLUSH on the new connection B says nothing about it. Yet
 * {@link pcache.api.BlockDevice#flush()} promises that every write acknowledged before the flush
 * started is durable when it returns.
 *
 * <h2>The rule</h2>
 * Every write-type request (WRITE, WRITE_ZEROES) acknowledged without FUA gets the next number
 * of one device-wide sequence. Each connection remembers which numbers were acknowledged on it
 * and up to which number a successful FLUSH on it covered them. When a connection is lost with
 * acknowledged writes not covered by a completed flush, those numbers form a <em>loss</em>. A
 * flush that started after any of them was acknowledged (its coverage reaches into the loss)
 * fails with {@link pcache.api.BackingDeviceException} even though the server answered it:
 * the caller must write that data again (the cache re-issues the write-back of the whole
 * batch). A flush interrupted by a reconnect is re-sent, and fails by the same rule exactly when
 * the lost connection carried unflushed writes.
 *
 * <p>A loss is reported like a Linux write-back error (errseq): to every flush that had started
 * when the first report was made; flushes started after that report succeed again, because by
 * then the caller has been told and re-writes. FUA writes are durable when acknowledged and
 * trims promise nothing, so neither counts.
 *
 * <p>Not thread-safe: the device calls it under its lock.
 */
final class DurabilityTracker {

    /** Number of the last write acknowledged (device-wide). */
    private long ackSequence;
    /** Number of the last flush started. */
    private long flushStarts;
    /** Start numbers of flushes not yet finished. */
    private final TreeSet<Long> activeFlushes = new TreeSet<>();
    private final List<Loss> losses = new ArrayList<>();

    /** What a flush covers: writes acknowledged before it started. */
    record FlushTicket(long startNumber, long coverage) {
    }

    /** Per-connection state. */
    static final class ConnectionRecord {
        private long firstAck;
        private long lastAck;
        private long flushedThrough;

        /** True if this connection holds acknowledged writes no completed flush covered. */
        boolean hasUnflushedWrites() {
            return lastAck > flushedThrough;
        }
    }

    /** Writes acknowledged on a lost connection and never covered by a flush. */
    private static final class Loss {
        final long from;
        final long to;
        final String cause;
        /** Flushes with a start number up to this one are told; MAX_VALUE until the first report. */
        long reportedThrough = Long.MAX_VALUE;

        Loss(long from, long to, String cause) {
            this.from = from;
            this.to = to;
            this.cause = cause;
        }
    }

    /** A write without FUA was acknowledged on {@code connection}; returns its number. */
    long writeAcknowledged(ConnectionRecord connection) {
        ackSequence++;
        if (connection.firstAck == 0) {
            connection.firstAck = ackSequence;
        }
        connection.lastAck = ackSequence;
        return ackSequence;
    }

    /** Where a write was acknowledged: the connection, and the write's number in the sequence. */
    record Acknowledged(ConnectionRecord connection, long number) {
    }

    /**
     * Whether {@code write} is covered by a flush its server acknowledged on the connection that
     * acknowledged the write. Unlike a flush's verdict, which tells of a loss once, this answers for
     * one write whatever was reported to others: a FUA write emulated by a flush must not return
     * while one of its own parts was lost.
     */
    static boolean flushed(Acknowledged write) {
        return write.connection().flushedThrough >= write.number();
    }

    /** The current end of the acknowledged-write sequence (what a flush sent now covers). */
    long acknowledgedSoFar() {
        return ackSequence;
    }

    /** A flush starts: it must cover everything acknowledged so far. */
    FlushTicket flushStarted() {
        FlushTicket ticket = new FlushTicket(++flushStarts, ackSequence);
        activeFlushes.add(ticket.startNumber());
        return ticket;
    }

    /** A flush returned (successfully or not). */
    void flushFinished(FlushTicket ticket) {
        activeFlushes.remove(ticket.startNumber());
        prune();
    }

    /**
     * The server acknowledged a FLUSH on {@code connection} that covered the writes acknowledged
     * up to {@code coverageAtSend}.
     *
     * @return null if the flush may succeed, else why it must fail
     */
    String flushAcknowledged(ConnectionRecord connection, long coverageAtSend, FlushTicket ticket) {
        return flushAcknowledged(connection, coverageAtSend, ticket, reason -> true);
    }

    /**
     * The same, the failure handed to {@code deliver} (under the caller's lock): a loss counts as
     * reported only when it accepts it. A flush whose caller already gave up (timed out,
     * interrupted) reports nothing to anyone, so a later flush must still fail.
     */
    String flushAcknowledged(ConnectionRecord connection, long coverageAtSend, FlushTicket ticket,
            java.util.function.Predicate<String> deliver) {
        connection.flushedThrough = Math.max(connection.flushedThrough, coverageAtSend);
        String reason = null;
        java.util.List<Loss> reported = new java.util.ArrayList<>();
        for (Loss loss : losses) {
            if (loss.from <= ticket.coverage() && ticket.startNumber() <= loss.reportedThrough) {
                if (loss.reportedThrough == Long.MAX_VALUE) {
                    reported.add(loss);
                }
                if (reason == null) {
                    long count = Math.min(loss.to, ticket.coverage()) - loss.from + 1;
                    reason = count + " acknowledged write(s) were not yet flushed when the "
                            + "connection was lost (" + loss.cause + "); the server may have lost "
                            + "them, so this flush cannot vouch for them: write the data again "
                            + "and flush";
                }
            }
        }
        if (reason != null && deliver.test(reason)) {
            for (Loss loss : reported) {
                loss.reportedThrough = flushStarts;
            }
        }
        return reason;
    }

    /** {@code connection} is gone; its unflushed writes become a loss. */
    void connectionLost(ConnectionRecord connection, String cause) {
        if (connection.hasUnflushedWrites()) {
            long from = Math.max(connection.flushedThrough + 1, connection.firstAck);
            losses.add(new Loss(from, connection.lastAck, cause));
        }
    }

    /** Number of losses still to be reported (for tests and status). */
    int pendingLosses() {
        int n = 0;
        for (Loss loss : losses) {
            if (loss.reportedThrough == Long.MAX_VALUE) {
                n++;
            }
        }
        return n;
    }

    /** Drops losses every flush that could still see them has already been told about. */
    private void prune() {
        long oldestActive = activeFlushes.isEmpty() ? Long.MAX_VALUE : activeFlushes.first();
        for (Iterator<Loss> it = losses.iterator(); it.hasNext();) {
            Loss loss = it.next();
            if (loss.reportedThrough != Long.MAX_VALUE && loss.reportedThrough < oldestActive) {
                it.remove();
            }
        }
    }
}
