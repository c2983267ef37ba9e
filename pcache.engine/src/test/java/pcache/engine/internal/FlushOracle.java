package pcache.engine.internal;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * What each sector may hold, given writes and flushes from several threads at once (several NBD
 * connections), judged by ticks of one clock shared by the threads instead of by the order in
 * which the threads happened to run.
 *
 * <p>A thread takes a tick right before it issues a write and right after the write returns
 * (its acknowledgement), and right before it issues a flush. A tick taken before the call is
 * earlier than the call and one taken after is later, so every order the oracle derives from
 * ticks is one that really happened; the oracle may promise slightly less than the engine, never
 * more.
 *
 * <p>The promise (NBD and block layer): a flush that returns makes durable every write that was
 * acknowledged before the flush was issued, on any thread; a FUA write is durable when it returns.
 * A sector then holds the version of a promised write or of a write that was not over before that
 * one began. Formally, with {@code M} the latest issue tick of the promised writes covering the
 * sector, a write covering it is acceptable when it was acknowledged after {@code M} (or never):
 * a write acknowledged before {@code M} ended before some promised write began, so that promised
 * write is newer and must have replaced it. Writes whose execution overlapped the newest promised
 * one have no defined order with it and are all acceptable. The initial zeroes are acceptable only
 * when no write to the sector is promised. The same rule judges a read while the writes run, with
 * every write acknowledged before the read was issued as promised and only writes issued before
 * the read returned as candidates.
 */
final class FlushOracle {

    static final int SECTOR = SectorHistory.SECTOR;
    /** The acknowledgement tick of a write that never returned. */
    static final long NOT_ACKNOWLEDGED = Long.MAX_VALUE;

    /** One write (or write-zeroes) as one thread issued it. */
    static final class Write {
        final int thread;
        final long offset;
        final long length;
        final long version;
        final boolean zero;
        final boolean fua;
        final long issued;
        long acknowledged = NOT_ACKNOWLEDGED;

        Write(int thread, long offset, long length, long version, boolean zero, boolean fua, long issued) {
            this.thread = thread;
            this.offset = offset;
            this.length = length;
            this.version = version;
            this.zero = zero;
            this.fua = fua;
            this.issued = issued;
        }

        long value() {
            return zero ? SectorHistory.ZERO : version;
        }

        @Override
        public String toString() {
            return (zero ? "zeroes#" + version : "v" + version) + (fua ? " FUA" : "") + " by thread " + thread + " ["
                    + issued + ", " + (acknowledged == NOT_ACKNOWLEDGED ? "never acknowledged" : acknowledged) + "]";
        }
    }

    private final List<Write> writes = new ArrayList<>();
    private final Map<Long, List<Write>> bySector = new HashMap<>();
    /** Issue tick of the latest flush that returned; 0 while none has. */
    private long flushIssued;
    private int flushingThread = -1;

    /** Records a write (the caller sets its acknowledgement tick once it returns). */
    void add(Write w) {
        writes.add(w);
        for (long s = w.offset / SECTOR; s < (w.offset + w.length) / SECTOR; s++) {
            bySector.computeIfAbsent(s, k -> new ArrayList<>(2)).add(w);
        }
    }

    /** Records a flush by {@code thread}, issued at tick {@code issued}, that returned. */
    void flushReturned(int thread, long issued) {
        if (issued > flushIssued) {
            flushIssued = issued;
            flushingThread = thread;
        }
    }

    /** Durable for sure: acknowledged as FUA, or acknowledged before a flush that returned was issued. */
    boolean promised(Write w) {
        return w.acknowledged != NOT_ACKNOWLEDGED && (w.fua || w.acknowledged < flushIssued);
    }

    /** Every sector some write covers, in order. */
    TreeSet<Long> sectors() {
        return new TreeSet<>(bySector.keySet());
    }

    /** Why sector {@code s} may not hold {@code got} (a version, ZERO or FOREIGN) after a crash; null when it may. */
    String judgeAfterCrash(long s, long got) {
        List<Write> ws = bySector.getOrDefault(s, List.of());
        long floor = 0;
        for (Write w : ws) {
            if (promised(w)) {
                floor = Math.max(floor, w.issued);
            }
        }
        return judge(s, got, ws, floor, Long.MAX_VALUE);
    }

    /**
     * Why sector {@code s} may not hold {@code got} in a read issued at tick {@code readIssued} that
     * returned at {@code readReturned}; null when it may.
     */
    String judgeRead(long s, long got, long readIssued, long readReturned) {
        List<Write> ws = bySector.getOrDefault(s, List.of());
        long floor = 0;
        for (Write w : ws) {
            if (w.acknowledged < readIssued) {
                floor = Math.max(floor, w.issued);
            }
        }
        return judge(s, got, ws, floor, readReturned);
    }

    private static String judge(long s, long got, List<Write> ws, long floor, long issuedBefore) {
        if (got == SectorHistory.FOREIGN) {
            return "sector " + s + " holds bytes never written to it";
        }
        if (got == SectorHistory.ZERO && floor == 0) {
            return null; // its initial content, nothing promised replaced it
        }
        for (Write w : ws) {
            if (w.value() == got && w.issued < issuedBefore && w.acknowledged > floor) {
                return null;
            }
        }
        String held = got == SectorHistory.ZERO ? "zeroes" : "v" + got;
        StringBuilder b = new StringBuilder("sector " + s + " holds " + held
                + ", not acceptable when the promised floor is tick " + floor + "; its writes:");
        for (Write w : ws) {
            b.append("\n    ").append(w);
        }
        return b.toString();
    }

    /** Non-FUA writes of threads other than the flushing one that the latest flush made durable. */
    int promisedForOtherThreads() {
        int n = 0;
        for (Write w : writes) {
            if (!w.fua && w.thread != flushingThread && promised(w)) {
                n++;
            }
        }
        return n;
    }

    /**
     * Sectors where writes of two threads ran at the same time (so that either may be the one that
     * stays): the cases whose order only the shared clock can settle.
     */
    int contestedSectors() {
        int n = 0;
        for (List<Write> ws : bySector.values()) {
            search:
            for (int i = 0; i < ws.size(); i++) {
                for (int j = i + 1; j < ws.size(); j++) {
                    Write a = ws.get(i);
                    Write b = ws.get(j);
                    if (a.thread != b.thread && a.issued < b.acknowledged && b.issued < a.acknowledged) {
                        n++;
                        break search;
                    }
                }
            }
        }
        return n;
    }
}
