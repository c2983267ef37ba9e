package pcache.engine.internal.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;

import pcache.api.CachePos;

/**
 * The waiting trims (and those write-back took and is still sending) answer block status's
 * questions as a scan of every such range would.
 */
class PendingTrimsTest {

    private static final long SPAN = 1 << 20;

    @Test
    void withinAgreesWithAScanOfEveryWaitingRange() throws Exception {
        long seed = Long.getLong("pcache.trims.seed", new Random().nextLong());
        System.out.println("PendingTrimsTest seed " + seed + " (replay with -Dpcache.trims.seed=" + seed + ")");
        Random random = new Random(seed);
        PendingTrims trims = new PendingTrims();
        List<CachePos> places = new ArrayList<>();
        List<List<long[]>> model = new ArrayList<>();
        CachePos sendingAt = null;
        List<long[]> sending = List.of();
        for (int step = 0; step < 20_000; step++) {
            int what = random.nextInt(10);
            if (what < 5 || places.isEmpty()) {
                // a new place, or the latest one again (the next slice of a trim, or another trim there)
                boolean again = !places.isEmpty() && random.nextBoolean();
                if (!again) {
                    places.add(new CachePos(step, 0));
                    model.add(new ArrayList<>());
                }
                int p = places.size() - 1;
                List<long[]> at = model.get(p);
                long offset = again && !at.isEmpty() && random.nextBoolean()
                        ? at.get(at.size() - 1)[0] + at.get(at.size() - 1)[1]
                        : random.nextLong(SPAN);
                long length = 1 + random.nextLong(random.nextInt(4) == 0 ? SPAN / 4 : 4096);
                assertTrue(trims.add(places.get(p), offset, length), "seed " + seed);
                at.add(new long[] {offset, length});
            } else if (what < 7) {
                // write-back sends what it took before it takes more; until then it still waits
                if (sendingAt != null) {
                    assertTrue(trims.waitsAt(sendingAt), "seed " + seed + ": taken, not yet sent");
                    trims.sent(sendingAt);
                    assertFalse(trims.waitsAt(sendingAt), "seed " + seed + ": sent");
                    sendingAt = null;
                    sending = List.of();
                }
                int p = random.nextInt(places.size());
                List<long[]> taken = trims.take(places.get(p));
                assertEquals(joined(model.get(p), 0, Long.MAX_VALUE), joined(taken, 0, Long.MAX_VALUE),
                        "seed " + seed + ": what take returns");
                sendingAt = places.remove(p);
                sending = model.remove(p);
            } else {
                long offset = random.nextLong(SPAN);
                long end = offset + 1 + random.nextLong(random.nextBoolean() ? 8192 : SPAN);
                List<long[]> all = new ArrayList<>(sending);
                model.forEach(all::addAll);
                assertEquals(joined(all, offset, end), asText(trims.within(offset, end)),
                        "seed " + seed + ", step " + step + ": within(" + offset + ", " + end + ")");
            }
            assertEquals(!places.isEmpty(), trims.waitsAt(places.isEmpty() ? new CachePos(-1, 0)
                    : places.get(places.size() - 1)), "seed " + seed);
        }
        if (sendingAt != null) {
            trims.sent(sendingAt);
        }
        trims.clear();
        assertEquals(List.of(), trims.within(0, Long.MAX_VALUE));
        for (CachePos place : places) {
            assertFalse(trims.waitsAt(place), "nothing waits after clear");
        }
    }

    /**
     * Dropping every trim (a switch to write-through) waits for the one being sent, and tells
     * the sender to send no more of those it took.
     */
    @Test
    void clearWaitsForTheTrimBeingSentAndStopsTheRest() throws Exception {
        PendingTrims trims = new PendingTrims();
        CachePos place = new CachePos(1, 0);
        trims.add(place, 0, 4096);
        trims.add(place, 65536, 4096);
        trims.add(new CachePos(2, 0), 1 << 20, 4096);
        assertEquals(2, trims.take(place).size());
        assertTrue(trims.keepSending());
        java.util.concurrent.CompletableFuture<Void> cleared = java.util.concurrent.CompletableFuture.runAsync(() -> {
            try {
                trims.clear();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
        while (trims.keepSending() && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertFalse(trims.keepSending(), "the sender is told to stop after the trim it sends");
        assertFalse(cleared.isDone(), "clear waits while a trim is being sent");
        assertTrue(trims.waitsAt(place), "the taken trims wait until sent");
        trims.sent(place);
        cleared.get(10, java.util.concurrent.TimeUnit.SECONDS);
        assertFalse(trims.waitsAt(place));
        assertFalse(trims.waitsAt(new CachePos(2, 0)));
        assertEquals(List.of(), trims.within(0, Long.MAX_VALUE));
        assertTrue(trims.keepSending(), "the next sender sends again");
    }

    /** The model: every range cut to [offset, end), sorted, overlapping or touching ones joined. */
    private static String joined(List<long[]> ranges, long offset, long end) {
        List<long[]> found = new ArrayList<>();
        for (long[] r : ranges) {
            long from = Math.max(offset, r[0]);
            long to = Math.min(end, r[0] + r[1]);
            if (from < to) {
                found.add(new long[] {from, to});
            }
        }
        found.sort(Comparator.comparingLong(r -> r[0]));
        List<long[]> out = new ArrayList<>();
        for (long[] r : found) {
            long[] last = out.isEmpty() ? null : out.get(out.size() - 1);
            if (last != null && r[0] <= last[1]) {
                last[1] = Math.max(last[1], r[1]);
            } else {
                out.add(r);
            }
        }
        return asText(out);
    }

    private static String asText(List<long[]> ranges) {
        StringBuilder b = new StringBuilder();
        for (long[] r : ranges) {
            b.append('[').append(r[0]).append(", ").append(r[1]).append(") ");
        }
        return b.toString();
    }
}
