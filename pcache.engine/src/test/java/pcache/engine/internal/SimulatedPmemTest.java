package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The crash model of {@link SimulatedPmem} itself: a crash yields, for each 8-byte word, its
 * committed value (flushed, then fenced by the same thread; the value at the flush) or one of the
 * values it held since — every one of those outcomes occurs, and no other.
 *
 * <p>Each scenario is built again and crashed {@value #CRASHES} times with crash seeds {@code S},
 * {@code S + 1}, ...; {@code S} is printed and comes from {@code -Dpcache.pmem.seed} (default 1).
 * The random model-based test draws its operations from the same seed.
 */
class SimulatedPmemTest {

    private static final int CRASHES = 200;
    private static final long SEED = Long.getLong("pcache.pmem.seed", 1);
    private static final int PAGE = SimulatedPmem.PAGE;
    /** A word on page 1, with neighbours on the same page. */
    private static final long W = PAGE + 64;
    private static final long A = 0xA1A1_A1A1_A1A1_A1A1L;
    private static final long B = 0xB2B2_B2B2_B2B2_B2B2L;
    private static final long C = 0xC3C3_C3C3_C3C3_C3C3L;
    private static final long P = 0x0F0F_0F0F_0F0F_0F0FL;

    @BeforeAll
    static void printSeed() {
        System.out.println("SimulatedPmemTest: crash seeds from " + SEED + " (replay with -Dpcache.pmem.seed=" + SEED
                + ")");
    }

    /** Operations on a fresh tracking device, run again before each crash. */
    @FunctionalInterface
    private interface Scenario {
        void run(SimulatedPmem pmem) throws Exception;
    }

    /** The distinct contents of the words at {@code offsets} over {@value #CRASHES} crashes of {@code scenario}. */
    private static Set<List<Long>> outcomes(Scenario scenario, long... offsets) throws Exception {
        Set<List<Long>> seen = new LinkedHashSet<>();
        for (int i = 0; i < CRASHES; i++) {
            SimulatedPmem pmem = new SimulatedPmem(4L * PAGE, true);
            scenario.run(pmem);
            pmem.crashNow(new Random(SEED + i));
            SimulatedPmem after = pmem.afterCrash(false);
            List<Long> words = new ArrayList<>();
            for (long off : offsets) {
                words.add(after.getLong(off));
            }
            seen.add(words);
        }
        return seen;
    }

    private static Set<Long> outcomesOf(Scenario scenario, long offset) throws Exception {
        Set<Long> seen = new HashSet<>();
        for (List<Long> o : outcomes(scenario, offset)) {
            seen.add(o.get(0));
        }
        return seen;
    }

    private static void commit(SimulatedPmem pmem, long off, long len) throws IOException {
        pmem.flush(off, len);
        pmem.fence();
    }

    /** Keeps page 1 pending whatever happens to {@link #W}: an unflushed store to a neighbour word. */
    private static void keepPagePending(SimulatedPmem pmem) throws IOException {
        pmem.putLong(W + 8, 0x5555_5555_5555_5555L);
    }

    private static String hex(Set<Long> values) {
        StringBuilder b = new StringBuilder("{");
        for (long v : values) {
            b.append(b.length() > 1 ? ", " : "").append(Long.toHexString(v));
        }
        return b.append('}').toString();
    }

    private static void assertOutcomes(Set<Long> expected, Set<Long> seen) {
        assertEquals(expected, seen, "expected exactly " + hex(expected) + ", saw " + hex(seen));
    }

    @Test
    void committedThenStoredTwiceYieldsTheCommittedValueOrEitherLaterOne() throws Exception {
        Set<Long> seen = outcomesOf(pmem -> {
            keepPagePending(pmem);
            pmem.putLong(W, A);
            commit(pmem, W, 8);
            pmem.putLong(W, B);
            pmem.putLong(W, C);
        }, W);
        assertOutcomes(Set.of(A, B, C), seen);
    }

    @Test
    void committedValueReplacesTheOneBeforeIt() throws Exception {
        // P committed, then A committed while the page stays pending, then B stored: never back to P or zero
        Set<Long> seen = outcomesOf(pmem -> {
            pmem.putLong(W, P);
            commit(pmem, W, 8);
            keepPagePending(pmem);
            pmem.putLong(W, A);
            commit(pmem, W, 8);
            pmem.putLong(W, B);
        }, W);
        assertOutcomes(Set.of(A, B), seen);
    }

    @Test
    void committedWordStaysCommittedWhileItsPageIsPending() throws Exception {
        Set<Long> seen = outcomesOf(pmem -> {
            keepPagePending(pmem);
            pmem.putLong(W, A);
            commit(pmem, W, 8);
        }, W);
        assertOutcomes(Set.of(A), seen);
    }

    @Test
    void flushWithoutFenceCommitsNothing() throws Exception {
        Set<Long> seen = outcomesOf(pmem -> {
            pmem.putLong(W, A);
            commit(pmem, W, 8);
            pmem.putLong(W, B);
            pmem.flush(W, 8);
        }, W);
        assertOutcomes(Set.of(A, B), seen);
    }

    @Test
    void fenceCommitsTheValueAtTheFlushNotALaterStore() throws Exception {
        Set<Long> seen = outcomesOf(pmem -> {
            pmem.putLong(W, P);
            commit(pmem, W, 8);
            pmem.putLong(W, A);
            pmem.flush(W, 8);
            pmem.putLong(W, B); // after the flush, before the fence: may or may not be written back
            pmem.fence();
        }, W);
        assertOutcomes(Set.of(A, B), seen);
    }

    @Test
    void fenceOnAnotherThreadDoesNotCommitThisThreadsFlush() throws Exception {
        Scenario flushHereFenceThere = pmem -> {
            pmem.putLong(W, A);
            pmem.flush(W, 8);
            onOtherThread(pmem::fence);
        };
        assertOutcomes(Set.of(0L, A), outcomesOf(flushHereFenceThere, W));

        Scenario thenFenceHere = pmem -> {
            flushHereFenceThere.run(pmem);
            pmem.fence();
        };
        assertOutcomes(Set.of(A), outcomesOf(thenFenceHere, W));

        Scenario flushThereFenceHere = pmem -> {
            pmem.putLong(W, A);
            onOtherThread(() -> pmem.flush(W, 8));
            pmem.fence();
        };
        assertOutcomes(Set.of(0L, A), outcomesOf(flushThereFenceHere, W));
    }

    private interface IoAction {
        void run() throws IOException;
    }

    private static void onOtherThread(IoAction action) throws Exception {
        Throwable[] failure = new Throwable[1];
        Thread t = new Thread(() -> {
            try {
                action.run();
            } catch (Throwable e) {
                failure[0] = e;
            }
        }, "other-thread");
        t.start();
        t.join();
        if (failure[0] != null) {
            throw new AssertionError("on the other thread", failure[0]);
        }
    }

    @Test
    void multiWordStoreTearsAtEightBytesInAnyCombination() throws Exception {
        long[] offs = {W, W + 8, W + 16, W + 24};
        Set<List<Long>> seen = outcomes(pmem -> {
            ByteBuffer old = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
            ByteBuffer now = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < 4; i++) {
                old.putLong(A + i);
                now.putLong(B + i);
            }
            pmem.write(W, old.flip());
            commit(pmem, W, 32);
            pmem.write(W, now.flip());
        }, offs);
        Set<List<Long>> all = new HashSet<>();
        for (int mask = 0; mask < 16; mask++) {
            List<Long> words = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                words.add((mask & (1 << i)) != 0 ? B + i : A + i);
            }
            all.add(words);
        }
        assertEquals(all, new HashSet<>(seen), "each word old or new independently: all 16 mixes and nothing else");
    }

    @Test
    void storeAcrossAPageBoundaryTearsPerWord() throws Exception {
        long at = 2L * PAGE - 8;
        Set<List<Long>> seen = outcomes(pmem -> {
            ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(A).putLong(B);
            pmem.write(at, b.flip());
        }, at, at + 8);
        assertEquals(Set.of(List.of(0L, 0L), List.of(A, 0L), List.of(0L, B), List.of(A, B)), new HashSet<>(seen));
    }

    @Test
    void fillIsAStore() throws Exception {
        long ones = 0x1111_1111_1111_1111L;
        long twos = 0x2222_2222_2222_2222L;
        Set<List<Long>> pending = outcomes(pmem -> {
            pmem.fill(W, 16, (byte) 0x11);
            commit(pmem, W, 16);
            pmem.fill(W, 16, (byte) 0x22);
        }, W, W + 8);
        assertEquals(Set.of(List.of(ones, ones), List.of(twos, ones), List.of(ones, twos), List.of(twos, twos)),
                new HashSet<>(pending));

        Set<List<Long>> committed = outcomes(pmem -> {
            pmem.fill(W, 16, (byte) 0x11);
            pmem.fill(W, 16, (byte) 0x22);
            commit(pmem, W, 16);
        }, W, W + 8);
        assertEquals(Set.of(List.of(twos, twos)), committed);

        Set<List<Long>> zeroed = outcomes(pmem -> {
            pmem.putLong(W, A);
            commit(pmem, W, 8);
            pmem.fill(0, 4L * PAGE, (byte) 0);
        }, W);
        assertEquals(Set.of(List.of(A), List.of(0L)), zeroed);
    }

    @Test
    void partialWordStoreYieldsTheWholeWordBeforeOrAfterIt() throws Exception {
        long merged = (A & 0xFFFF_FFFF_0000_0000L) | (B & 0xFFFF_FFFFL);
        Set<Long> seen = outcomesOf(pmem -> {
            pmem.putLong(W, A);
            commit(pmem, W, 8);
            pmem.write(W, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) B).flip());
        }, W);
        assertOutcomes(Set.of(A, merged), seen);
    }

    @Test
    void storingTheSameValueAgainChangesNothing() throws Exception {
        SimulatedPmem pmem = new SimulatedPmem(4L * PAGE, true);
        pmem.putLong(W, A);
        commit(pmem, W, 8);
        assertEquals(0, pmem.pendingPages());
        pmem.putLong(W, A);
        assertEquals(0, pmem.pendingPages(), "a store that changes nothing leaves nothing pending");
        pmem.putLong(W, B);
        assertEquals(1, pmem.pendingPages());
        commit(pmem, W, 8);
        assertEquals(0, pmem.pendingPages(), "the flush and fence committed the only pending word");
    }

    @Test
    void valueThatReturnsStillYieldsTheOneInBetween() throws Exception {
        Set<Long> seen = outcomesOf(pmem -> {
            pmem.putLong(W, A);
            commit(pmem, W, 8);
            pmem.putLong(W, B);
            pmem.putLong(W, A);
        }, W);
        assertOutcomes(Set.of(A, B), seen);
    }

    @Test
    void armedCrashStrikesBeforeTheOperationTakesEffect() throws Exception {
        SimulatedPmem pmem = new SimulatedPmem(4L * PAGE, true);
        pmem.putLong(W, A);
        pmem.flush(W, 8);
        pmem.armCrash(1, new Random(SEED));
        try {
            pmem.fence();
            fail("the armed fence should crash");
        } catch (SimulatedPmem.SimulatedCrash expected) {
            // the fence never ran
        }
        assertTrue(pmem.crashed());
        try {
            pmem.getLong(W);
            fail("a crashed device should refuse every call");
        } catch (SimulatedPmem.SimulatedCrash expected) {
            // as documented
        }
        long got = pmem.afterCrash(false).getLong(W);
        assertTrue(got == 0 || got == A, "the word before the fence: 0 or A, got " + Long.toHexString(got));
    }

    /**
     * Random stores (of any length and alignment, across a page boundary), fills, flushes and
     * fences against a plain reference that keeps, per word, the committed value and every value
     * held since. Each run is replayed {@value #CRASHES} times with different crash seeds: every
     * word must come back as one of its reference values, and each of those values must occur.
     */
    @Test
    void randomOperationsAgainstAReference() throws Exception {
        Random seeds = new Random(SEED);
        for (int run = 0; run < 40; run++) {
            long opsSeed = seeds.nextLong();
            Reference ref = new Reference();
            randomOps(new Random(opsSeed), null, ref);
            List<Set<Long>> seen = new ArrayList<>();
            for (int w = 0; w < Reference.WINDOW_WORDS; w++) {
                seen.add(new HashSet<>());
            }
            for (int i = 0; i < CRASHES; i++) {
                SimulatedPmem pmem = new SimulatedPmem(4L * PAGE, true);
                randomOps(new Random(opsSeed), pmem, null);
                for (int w = 0; w < Reference.WINDOW_WORDS; w++) {
                    assertEquals(ref.current(w), pmem.getLong(Reference.WINDOW + 8L * w), "ops seed " + opsSeed);
                }
                pmem.crashNow(new Random(SEED + i));
                SimulatedPmem after = pmem.afterCrash(false);
                for (int w = 0; w < Reference.WINDOW_WORDS; w++) {
                    long got = after.getLong(Reference.WINDOW + 8L * w);
                    if (!ref.allowed(w).contains(got)) {
                        fail("ops seed " + opsSeed + ", crash seed " + (SEED + i) + ": word " + w + " holds "
                                + Long.toHexString(got) + ", allowed " + hex(ref.allowed(w)));
                    }
                    seen.get(w).add(got);
                }
            }
            for (int w = 0; w < Reference.WINDOW_WORDS; w++) {
                // with at most 6 values, each is missed in all crashes with probability below 1e-15
                if (ref.allowed(w).size() <= 6) {
                    assertEquals(ref.allowed(w), seen.get(w), "ops seed " + opsSeed + ", word " + w
                            + ": every allowed value occurs");
                }
            }
        }
    }

    /** Applies the same random operations to the device (when not null) and to the reference (when not null). */
    private static void randomOps(Random r, SimulatedPmem pmem, Reference ref) throws IOException {
        int ops = 4 + r.nextInt(14);
        for (int op = 0; op < ops; op++) {
            int kind = r.nextInt(10);
            int from = r.nextInt(Reference.WINDOW_WORDS * 8);
            int len = 1 + r.nextInt(Math.min(40, Reference.WINDOW_WORDS * 8 - from));
            if (kind < 4) {
                byte[] data = new byte[len];
                for (int i = 0; i < len; i++) {
                    data[i] = (byte) r.nextInt(3); // few distinct bytes: stores that change nothing are common
                }
                if (pmem != null) {
                    pmem.write(Reference.WINDOW + from, data, 0, len);
                }
                if (ref != null) {
                    ref.store(from, data);
                }
            } else if (kind < 5) {
                byte value = (byte) r.nextInt(3);
                if (pmem != null) {
                    pmem.fill(Reference.WINDOW + from, len, value);
                }
                if (ref != null) {
                    byte[] data = new byte[len];
                    java.util.Arrays.fill(data, value);
                    ref.store(from, data);
                }
            } else if (kind < 8) {
                if (pmem != null) {
                    pmem.flush(Reference.WINDOW + from, len);
                }
                if (ref != null) {
                    ref.flush(from, len);
                }
            } else {
                if (pmem != null) {
                    pmem.fence();
                }
                if (ref != null) {
                    ref.fence();
                }
            }
        }
    }

    /** Per word of a window across the boundary of pages 1 and 2: the committed value and the values held since. */
    private static final class Reference {
        static final long WINDOW = 2L * PAGE - 96;
        static final int WINDOW_WORDS = 24;

        final byte[] bytes = new byte[WINDOW_WORDS * 8];
        final long[] committed = new long[WINDOW_WORDS];
        final List<List<Long>> since = new ArrayList<>();
        /** Per word: how many of its values since the commit had been stored at its last flush. */
        final Map<Integer, Integer> flushed = new HashMap<>();

        Reference() {
            for (int w = 0; w < WINDOW_WORDS; w++) {
                since.add(new ArrayList<>());
            }
        }

        long current(int w) {
            return ByteBuffer.wrap(bytes, w * 8, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        }

        void store(int from, byte[] data) {
            System.arraycopy(data, 0, bytes, from, data.length);
            for (int w = from / 8; w * 8 < from + data.length; w++) {
                since.get(w).add(current(w));
            }
        }

        void flush(int from, int len) {
            for (int w = from / 8; w * 8 < from + len; w++) {
                if (!since.get(w).isEmpty()) {
                    flushed.merge(w, since.get(w).size(), Math::max);
                }
            }
        }

        void fence() {
            for (Map.Entry<Integer, Integer> e : flushed.entrySet()) {
                List<Long> values = since.get(e.getKey());
                committed[e.getKey()] = values.get(e.getValue() - 1);
                values.subList(0, e.getValue()).clear();
            }
            flushed.clear();
        }

        Set<Long> allowed(int w) {
            Set<Long> s = new HashSet<>(since.get(w));
            s.add(committed[w]);
            return s;
        }
    }
}
