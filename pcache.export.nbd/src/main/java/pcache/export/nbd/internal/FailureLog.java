package pcache.export.nbd.internal;

import java.lang.System.Logger.Level;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * How one connection logs its failed requests: the first {@value #IN_FULL} each in a line of its
 * own, then at most one line per {@link #PERIOD_NANOS} saying how many were left out since and
 * the latest of them (on the next failure after the period, or when the server's timer asks,
 * {@link #due}), and at the end of the connection one for those left out after that. A client
 * pipelining requests the server must refuse (an unknown command, a range past the end) wrote a
 * line per request before, hundreds of thousands a second, burying every other warning and
 * filling the journal. Failures at ERROR (a fault in the device's memory, an internal error) are
 * always logged in full: they are pcache's, not the client's. Every failure is still counted in
 * the export's errors and answered.
 */
final class FailureLog {

    /** Failed requests of a connection logged each in a line of its own. */
    static final int IN_FULL = 16;
    /** At most one line per this long, after the first {@value #IN_FULL}. */
    static final long PERIOD_NANOS = TimeUnit.SECONDS.toNanos(10);

    /** What to log: a level and a message. */
    record Line(Level level, String message) {
    }

    private final LongSupplier clock;
    private int logged;
    private long leftOut;
    private Level leftOutLevel = Level.DEBUG;
    private String latest;
    private long periodStart;

    FailureLog(LongSupplier nanoClock) {
        this.clock = nanoClock;
    }

    /**
     * What to log for a failed request ({@code message} at {@code level}): itself, a line counting
     * it with those left out before it, or null (counted, to be told later). Failures logged below
     * INFO (routine probes) and at ERROR are let through and not counted against the others.
     */
    synchronized Line admit(Level level, String message) {
        if (level.getSeverity() < Level.INFO.getSeverity() || level.getSeverity() >= Level.ERROR.getSeverity()) {
            return new Line(level, message);
        }
        long now = clock.getAsLong();
        if (logged < IN_FULL) {
            if (++logged == IN_FULL) {
                periodStart = now;
            }
            return new Line(level, message);
        }
        leftOut++;
        latest = message;
        if (level.getSeverity() > leftOutLevel.getSeverity()) {
            leftOutLevel = level;
        }
        if (now - periodStart < PERIOD_NANOS) {
            return null;
        }
        periodStart = now;
        return takeLeftOut(IN_THE_LAST_PERIOD);
    }

    private static final String IN_THE_LAST_PERIOD = "in the last " + TimeUnit.NANOSECONDS.toSeconds(PERIOD_NANOS)
            + " s or so";

    /**
     * The line for failures left out since the last one told, once a period has passed since then
     * (the server's timer asks, so that a connection whose failures stop is told of them without
     * waiting for its end), or null.
     */
    synchronized Line due() {
        long now = clock.getAsLong();
        if (leftOut == 0 || now - periodStart < PERIOD_NANOS) {
            return null;
        }
        periodStart = now;
        return takeLeftOut(IN_THE_LAST_PERIOD);
    }

    /** The line for failures left out and not told yet (the connection ends), or null. */
    synchronized Line remaining() {
        return leftOut == 0 ? null : takeLeftOut("before the connection ended");
    }

    private Line takeLeftOut(String when) {
        Line line = new Line(leftOutLevel, leftOut + " more failed request(s) of this client " + when + " (logged"
                + " each after the first " + IN_FULL + " only every " + TimeUnit.NANOSECONDS.toSeconds(PERIOD_NANOS)
                + " s; all are counted in the export's errors); the latest: " + latest);
        leftOut = 0;
        leftOutLevel = Level.DEBUG;
        latest = null;
        return line;
    }
}
