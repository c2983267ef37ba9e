package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;

import pcache.api.BlockExtent;
import pcache.engine.internal.engine.CacheEngine;

/**
 * Block status of a cache engine against a plain model: an array saying, for each 512-byte
 * sector, what the cache holds there (nothing, data or zeroes; dirty or clean). After random
 * writes, write-zeroes, trims, reads (which cache misses as clean data), writes straight to the
 * sparse backing device and drains, every query's answers (asked again from where each ended,
 * until the range is covered) must equal the model sector by sector: base:allocation is the
 * cache's knowledge where it holds the sector dirty or zeroed, and the backing device's answer
 * elsewhere (a clean sector's bytes are on the backing device too), with the hole flag added where
 * a trim waits for write-back to pass it on;
 * pcache:dirty flags exactly the sectors written (or zeroed) since the last drain and not trimmed.
 * Each answer must also keep the contract's shape: in order, contiguous, within the range,
 * sector-aligned, at most the extents asked for. A failure prints the jqwik seed
 * ({@code -Dpcache.jqwik.seed=S} replays it).
 */
class BlockStatusModelTest {

    private static final int SECTOR = 512;
    private static final long LOGICAL = 12L << 20; // three 4 MiB slices
    private static final int SECTORS = (int) (LOGICAL / SECTOR);

    /** What the cache holds for one sector. */
    private static final byte NONE = 0;
    private static final byte DATA = 1;
    private static final byte ZEROES = 2;
    /** Added to DATA or ZEROES while the sector is not written back. */
    private static final byte DIRTY = 4;

    sealed interface Step permits Write, WriteZeroes, Trim, Read, BackingWrite, Drain, Query {
    }

    record Write(int sector, int sectors) implements Step {
    }

    record WriteZeroes(int sector, int sectors) implements Step {
    }

    record Trim(int sector, int sectors) implements Step {
    }

    record Read(int sector, int sectors) implements Step {
    }

    record BackingWrite(int sector, int sectors) implements Step {
    }

    record Drain() implements Step {
    }

    record Query(int sector, int sectors, int maxExtents) implements Step {
    }

    @Provide
    Arbitrary<List<Step>> steps() {
        Arbitrary<Integer> sector = Arbitraries.oneOf(
                Arbitraries.integers().between(0, SECTORS - 1),
                Arbitraries.integers().between(8150, 8250)); // around the first slice boundary
        Arbitrary<Integer> length = Arbitraries.frequencyOf(
                Tuple.of(5, Arbitraries.integers().between(1, 16)),
                Tuple.of(3, Arbitraries.integers().between(1, 512)),
                Tuple.of(1, Arbitraries.integers().between(1, 2048)));
        Arbitrary<Step> write = Combinators.combine(sector, length).as(Write::new);
        Arbitrary<Step> zeroes = Combinators.combine(sector, length).as(WriteZeroes::new);
        Arbitrary<Step> trim = Combinators.combine(sector, length).as(Trim::new);
        Arbitrary<Step> read = Combinators.combine(sector, length).as(Read::new);
        Arbitrary<Step> backing = Combinators.combine(sector, length).as(BackingWrite::new);
        Arbitrary<Step> drain = Arbitraries.just(new Drain());
        Arbitrary<Step> query = Combinators.combine(Arbitraries.integers().between(0, SECTORS - 1),
                Arbitraries.integers().between(1, SECTORS),
                Arbitraries.frequencyOf(Tuple.of(3, Arbitraries.integers().between(1, 4)),
                        Tuple.of(1, Arbitraries.integers().between(5, 2000))))
                .as(Query::new);
        Arbitrary<Step> step = Arbitraries.frequencyOf(Tuple.of(4, write), Tuple.of(2, zeroes), Tuple.of(2, trim),
                Tuple.of(2, read), Tuple.of(2, backing), Tuple.of(1, drain), Tuple.of(5, query));
        return step.list().ofMinSize(5).ofMaxSize(40);
    }

    @Property(tries = 40)
    void blockStatusMatchesTheModel(@ForAll("steps") List<Step> steps) throws IOException {
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(5), false);
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine engine = Harness.open(Harness.config("bs"), pmem, Harness.holder(backing), Harness.drainOnlyPolicy());
        byte[] model = new byte[SECTORS];
        boolean[] trimWaits = new boolean[SECTORS]; // trimmed, not yet passed on to the backing device
        try {
            long tag = 1;
            for (Step step : steps) {
                if (step instanceof Write w) {
                    int n = clip(w.sector(), w.sectors());
                    engine.write(bytes(w.sector()), Harness.pattern(bytes(w.sector()), n * SECTOR, tag++), false);
                    Arrays.fill(model, w.sector(), w.sector() + n, (byte) (DATA | DIRTY));
                } else if (step instanceof WriteZeroes z) {
                    int n = clip(z.sector(), z.sectors());
                    engine.writeZeroes(bytes(z.sector()), (long) n * SECTOR, false);
                    Arrays.fill(model, z.sector(), z.sector() + n, (byte) (ZEROES | DIRTY));
                } else if (step instanceof Trim t) {
                    int n = clip(t.sector(), t.sectors());
                    engine.trim(bytes(t.sector()), (long) n * SECTOR);
                    Arrays.fill(model, t.sector(), t.sector() + n, NONE);
                    Arrays.fill(trimWaits, t.sector(), t.sector() + n, true);
                    if (!anyDirty(model)) {
                        // nothing logged before it is dirty, so write-back passes the trim on to the
                        // backing device now, on its own thread; wait for that (a drain with nothing
                        // dirty changes nothing else), or a query or a write straight to the backing
                        // device would race with it. Behind dirty data it waits for the next Drain.
                        engine.drain(null);
                        Arrays.fill(trimWaits, false);
                    }
                } else if (step instanceof Read r) {
                    int n = clip(r.sector(), r.sectors());
                    engine.read(bytes(r.sector()), ByteBuffer.allocate(n * SECTOR));
                    for (int s = r.sector(); s < r.sector() + n; s++) {
                        if (model[s] == NONE) {
                            model[s] = DATA; // a miss is cached as clean data
                        }
                    }
                } else if (step instanceof BackingWrite b) {
                    int n = clip(b.sector(), b.sectors());
                    backing.write(bytes(b.sector()), Harness.pattern(bytes(b.sector()), n * SECTOR, tag++), false);
                } else if (step instanceof Drain) {
                    engine.drain(null);
                    for (int s = 0; s < SECTORS; s++) {
                        model[s] &= ~DIRTY;
                    }
                    Arrays.fill(trimWaits, false);
                } else if (step instanceof Query q) {
                    check(engine, backing, model, trimWaits, q);
                }
            }
            check(engine, backing, model, trimWaits, new Query(0, SECTORS, Integer.MAX_VALUE));
        } finally {
            engine.close();
        }
    }

    /**
     * A trim behind older dirty data waits for write-back: until then its range is a hole that is
     * not zero (the backing device still holds its old bytes, and reads return them), then the
     * backing device's own answer (here a hole of zeroes, as the trim made it), and reads follow
     * it: a miss read in between, cached with the old bytes, is dropped when the trim is passed on.
     */
    @Example
    void aTrimWaitingForWriteBackIsAHoleUntilPassedOn() throws IOException {
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(5), false);
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        backing.write(0, Harness.pattern(0, 1 << 20, 1), false);
        CacheEngine engine = Harness.open(Harness.config("bs"), pmem, Harness.holder(backing), Harness.drainOnlyPolicy());
        try {
            engine.write(4L << 20, Harness.pattern(4L << 20, 64 << 10, 2), false); // logged before the trim
            engine.trim(0, 256 << 10);
            ByteBuffer before = ByteBuffer.allocate(4096);
            engine.read(128 << 10, before); // a miss, cached clean with the bytes from before the trim
            byte[] old = Arrays.copyOfRange(Harness.pattern(0, 1 << 20, 1).array(), 128 << 10, (128 << 10) + 4096);
            assertArrayEquals(old, before.array(), "the trim has not reached the backing device yet");
            assertEquals(List.of(new BlockExtent(0, 256 << 10, BlockExtent.HOLE), new BlockExtent(256 << 10, 768 << 10, 0)),
                    engine.blockStatus(0, 1 << 20, 16));
            assertEquals(List.of(new BlockExtent(0, 1 << 20, 0)), engine.dirtyStatus(0, 1 << 20, 16),
                    "a trimmed range is not dirty");
            engine.drain(null);
            assertEquals(List.of(new BlockExtent(0, 256 << 10, BlockExtent.HOLE | BlockExtent.ZERO),
                    new BlockExtent(256 << 10, 768 << 10, 0)), engine.blockStatus(0, 1 << 20, 16));
            ByteBuffer after = ByteBuffer.allocate(4096);
            engine.read(128 << 10, after);
            assertArrayEquals(new byte[4096], after.array(), "reads follow the backing device once it took the trim");
        } finally {
            engine.close();
        }
    }

    private static boolean anyDirty(byte[] model) {
        for (byte b : model) {
            if ((b & DIRTY) != 0) {
                return true;
            }
        }
        return false;
    }

    private static void check(CacheEngine engine, MemoryBacking backing, byte[] model, boolean[] trimWaits, Query q)
            throws IOException {
        int n = clip(q.sector(), q.sectors());
        int[] expectedAllocation = new int[n];
        int[] expectedDirty = new int[n];
        for (int i = 0; i < n; i++) {
            int s = q.sector() + i;
            int held = model[s] & ~DIRTY;
            boolean dirty = (model[s] & DIRTY) != 0;
            expectedAllocation[i] = held == ZEROES ? BlockExtent.ZERO : held == DATA && dirty ? 0
                    : backing.blockStatus(bytes(s), SECTOR, 1).get(0).flags() | (trimWaits[s] ? BlockExtent.HOLE : 0);
            expectedDirty[i] = (model[s] & DIRTY) != 0 ? BlockExtent.DIRTY : 0;
        }
        String where = q.toString();
        assertEquals(Arrays.toString(runs(expectedAllocation)), Arrays.toString(runs(
                collect(engine, true, q.sector(), n, q.maxExtents()))), "base:allocation of " + where);
        assertEquals(Arrays.toString(runs(expectedDirty)), Arrays.toString(runs(
                collect(engine, false, q.sector(), n, q.maxExtents()))), "pcache:dirty of " + where);
    }

    /** Per-sector flags of the range, from answers asked again where each ended. */
    private static int[] collect(CacheEngine engine, boolean allocation, int sector, int sectors, int maxExtents)
            throws IOException {
        int[] flags = new int[sectors];
        long end = bytes(sector + sectors);
        long pos = bytes(sector);
        for (int asked = 0; pos < end; asked++) {
            assertTrue(asked <= sectors, "no progress at " + pos);
            List<BlockExtent> answer = allocation ? engine.blockStatus(pos, end - pos, maxExtents)
                    : engine.dirtyStatus(pos, end - pos, maxExtents);
            assertTrue(!answer.isEmpty() && answer.size() <= Math.max(1, maxExtents),
                    answer.size() + " extents for a limit of " + maxExtents);
            for (BlockExtent e : answer) {
                assertEquals(pos, e.offset(), "extents must follow each other: " + answer);
                assertTrue(e.end() <= end && e.lengthBytes() % SECTOR == 0, "extent " + e + " of " + answer);
                assertEquals(0, e.flags() & (allocation ? BlockExtent.DIRTY : ~BlockExtent.DIRTY), e.toString());
                for (long p = e.offset(); p < e.end(); p += SECTOR) {
                    flags[(int) ((p - bytes(sector)) / SECTOR)] = e.flags();
                }
                pos = e.end();
            }
        }
        return flags;
    }

    /** The runs of equal flags, as "start+length:flags" in sectors. */
    private static String[] runs(int[] flags) {
        List<String> runs = new ArrayList<>();
        for (int i = 0; i < flags.length; ) {
            int j = i;
            while (j < flags.length && flags[j] == flags[i]) {
                j++;
            }
            runs.add(i + "+" + (j - i) + ":" + flags[i]);
            i = j;
        }
        return runs.toArray(String[]::new);
    }

    private static int clip(int sector, int sectors) {
        return Math.min(sectors, SECTORS - sector);
    }

    private static long bytes(int sector) {
        return (long) sector * SECTOR;
    }
}
