package pcache.keyindex.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;

import pcache.api.format.PcacheFormat;
import pcache.api.spi.CacheKey;
import pcache.api.spi.ExtentVisitor;
import pcache.api.spi.KeyValidity;

/**
 * Random sequences of inserts, placeholders, trims and invalidations on one 4 MiB slice, checked
 * after every step against a plain model: an array saying, for each 512-byte sector, which key
 * owns it and where in that key's original extent the sector's data lies.
 */
class SortedKeySliceModelTest {

    private static final int SECTOR = 512;
    private static final int SECTORS = (int) (PcacheFormat.SUBTREE_SIZE / SECTOR);

    /** One step; offsets and lengths in sectors. */
    sealed interface Step permits Insert, Placeholder, Trim, Invalidate, Remove, Walk {
    }

    record Insert(int sector, int sectors) implements Step {
    }

    /** Puts a placeholder into the first gap of the range, if there is one. */
    record Placeholder(int sector, int sectors) implements Step {
    }

    record Trim(int sector, int sectors) implements Step {
    }

    /**
     * Marks the {@code pick}-th (mod count) data key id present in the model as stale, then removes
     * up to {@code pick % 3} stale keys with removeInvalid (the check's walk removes the rest).
     */
    record Invalidate(int pick) implements Step {
    }

    /** Removes the {@code pick}-th (mod size) key of the slice. */
    record Remove(int pick) implements Step {
    }

    /** Walks a part of the slice and compares it with the model. */
    record Walk(int sector, int sectors) implements Step {
    }

    @Provide
    Arbitrary<List<Step>> steps() {
        Arbitrary<Integer> sector = Arbitraries.oneOf(
                Arbitraries.integers().between(0, SECTORS - 1),
                Arbitraries.integers().between(0, 255)); // crowd some steps together
        Arbitrary<Integer> length = Arbitraries.frequencyOf(
                Tuple.of(6, Arbitraries.integers().between(1, 16)),
                Tuple.of(3, Arbitraries.integers().between(1, 256)),
                Tuple.of(1, Arbitraries.integers().between(1, SECTORS)));
        Arbitrary<Step> insert = Combinators.combine(sector, length).as(Insert::new);
        Arbitrary<Step> placeholder = Combinators.combine(sector, length).as(Placeholder::new);
        Arbitrary<Step> trim = Combinators.combine(sector, length).as(Trim::new);
        Arbitrary<Step> invalidate = Arbitraries.integers().between(0, 1000).map(Invalidate::new);
        Arbitrary<Step> remove = Arbitraries.integers().between(0, 1000).map(Remove::new);
        Arbitrary<Step> walk = Combinators.combine(sector, length).as(Walk::new);
        return Arbitraries.frequencyOf(
                Tuple.of(6, insert),
                Tuple.of(2, placeholder),
                Tuple.of(2, trim),
                Tuple.of(1, invalidate),
                Tuple.of(1, remove),
                Tuple.of(1, walk)).list().ofMaxSize(60);
    }

    /** The plain model: owner id per sector (0 = none) and the sector's index in its key as written. */
    private static final class Model {
        final int[] owner = new int[SECTORS];
        final int[] indexInKey = new int[SECTORS];
        final Set<Integer> placeholders = new HashSet<>();

        /** Placeholders touching [from, to): back-cut at {@code from} or removed entirely. */
        void resolvePlaceholders(int from, int to) {
            Set<Integer> touched = new HashSet<>();
            for (int s = from; s < to; s++) {
                if (placeholders.contains(owner[s])) {
                    touched.add(owner[s]);
                }
            }
            for (int id : touched) {
                int first = first(id);
                int cutFrom = first < from ? from : first;
                for (int s = cutFrom; s < SECTORS && owner[s] == id; s++) {
                    owner[s] = 0;
                }
            }
        }

        int first(int id) {
            for (int s = 0; s < SECTORS; s++) {
                if (owner[s] == id) {
                    return s;
                }
            }
            return -1;
        }

        void set(int from, int to, int id) {
            for (int s = from; s < to; s++) {
                owner[s] = id;
                indexInKey[s] = s - from;
            }
        }

        void clear(int from, int to) {
            Arrays.fill(owner, from, to, 0);
        }

        void clearId(int id) {
            for (int s = 0; s < SECTORS; s++) {
                if (owner[s] == id) {
                    owner[s] = 0;
                }
            }
        }

        List<Integer> dataIds() {
            List<Integer> ids = new ArrayList<>();
            Set<Integer> seen = new HashSet<>();
            for (int id : owner) {
                if (id != 0 && !placeholders.contains(id) && seen.add(id)) {
                    ids.add(id);
                }
            }
            return ids;
        }
    }

    /**
     * The slice is the first, the second, or one beyond 4 GiB of a device a little larger than
     * that, so that slices not at offset 0 are checked too, also where an absolute offset no
     * longer fits 32 bits (a slice keeps its keys' bounds relative to its start, 32 bits each).
     */
    @Property(tries = 300)
    void walkingTheSliceAlwaysGivesTheModel(@ForAll("steps") List<Step> steps,
            @ForAll @IntRange(min = 0, max = 2) int slicePick) {
        StripedKeyIndex index = new StripedKeyIndex((1L << 32) + 2 * PcacheFormat.SUBTREE_SIZE);
        long at = switch (slicePick) {
            case 0 -> 0;
            case 1 -> PcacheFormat.SUBTREE_SIZE;
            default -> (1L << 32) + PcacheFormat.SUBTREE_SIZE;
        };
        SortedKeySlice slice = (SortedKeySlice) index.slice(at);
        Model model = new Model();
        Set<Integer> stale = new HashSet<>();
        KeyValidity validity = key -> !stale.contains(key.segment());
        Map<CacheKey, Boolean> created = new IdentityHashMap<>();
        int nextId = 1;
        slice.lock();
        try {
            for (Step step : steps) {
                if (step instanceof Insert in) {
                    int from = in.sector();
                    int to = Math.min(SECTORS, from + in.sectors());
                    int id = nextId++;
                    CacheKey k = new CacheKey(at + (long) from * SECTOR, (to - from) * SECTOR).place(id, 0, 0);
                    created.put(k, true);
                    slice.insert(k, validity);
                    model.resolvePlaceholders(from, to);
                    model.set(from, to, id);
                } else if (step instanceof Placeholder p) {
                    int from = p.sector();
                    int to = Math.min(SECTORS, from + p.sectors());
                    long[] gap = firstGap(slice, at, from, to, validity);
                    if (gap != null) {
                        int id = nextId++;
                        CacheKey k = CacheKey.placeholder(gap[0], (int) gap[1]).place(id, 0, 0);
                        created.put(k, true);
                        slice.insertPlaceholder(k);
                        model.placeholders.add(id);
                        model.set((int) ((gap[0] - at) / SECTOR), (int) ((gap[0] - at + gap[1]) / SECTOR), id);
                    }
                } else if (step instanceof Trim t) {
                    int from = t.sector();
                    int to = Math.min(SECTORS, from + t.sectors());
                    slice.removeRange(at + (long) from * SECTOR, (long) (to - from) * SECTOR);
                    model.resolvePlaceholders(from, to);
                    for (int s = from; s < to; s++) {
                        if (!model.placeholders.contains(model.owner[s])) {
                            model.owner[s] = 0;
                        }
                    }
                } else if (step instanceof Invalidate inv) {
                    List<Integer> ids = model.dataIds();
                    if (!ids.isEmpty()) {
                        int id = ids.get(inv.pick() % ids.size());
                        stale.add(id);
                        model.clearId(id);
                        int[] pieces = {0};
                        slice.forEach(k -> pieces[0] += k.segment() == id ? 1 : 0);
                        int max = inv.pick() % 3;
                        assertEquals(Math.min(max, pieces[0]), slice.removeInvalid(validity, max));
                    }
                } else if (step instanceof Remove rm) {
                    List<CacheKey> keys = new ArrayList<>();
                    slice.forEach(keys::add);
                    if (!keys.isEmpty()) {
                        CacheKey k = keys.get(rm.pick() % keys.size());
                        assertTrue(slice.remove(k));
                        assertFalse(slice.remove(k));
                        for (long p = k.offset(); p < k.end(); p += SECTOR) {
                            model.owner[(int) ((p - at) / SECTOR)] = 0;
                        }
                    }
                } else if (step instanceof Walk w) {
                    int from = w.sector();
                    int to = Math.min(SECTORS, from + w.sectors());
                    compare(slice, model, validity, at, from, to);
                }
                check(slice, index, model, validity, created, at);
            }
        } finally {
            slice.unlock();
        }
    }

    /** The first gap the walk reports inside [from, to), as {offset, length} in bytes, or null. */
    private static long[] firstGap(SortedKeySlice slice, long at, int from, int to, KeyValidity validity) {
        long[] found = new long[2];
        boolean stopped = !slice.walk(at + (long) from * SECTOR, (long) (to - from) * SECTOR, validity, new ExtentVisitor() {
            @Override
            public boolean hit(CacheKey key, long position, int length) {
                return true;
            }

            @Override
            public boolean gap(long position, int length) {
                found[0] = position;
                found[1] = length;
                return false;
            }
        });
        return stopped ? found : null;
    }

    private static void check(SortedKeySlice slice, StripedKeyIndex index, Model model, KeyValidity validity,
            Map<CacheKey, Boolean> created, long at) {
        compare(slice, model, validity, at, 0, SECTORS);
        checkKeys(slice, index, created, at);
    }

    /** Walks sectors [from, to) of the slice at {@code at} and compares every piece with the model. */
    private static void compare(SortedKeySlice slice, Model model, KeyValidity validity, long at, int from, int to) {
        long[] next = {at + (long) from * SECTOR};
        slice.walk(at + (long) from * SECTOR, (long) (to - from) * SECTOR, validity, new ExtentVisitor() {
            @Override
            public boolean hit(CacheKey key, long position, int length) {
                assertEquals(next[0], position, "pieces are contiguous");
                assertTrue(length > 0 && length % SECTOR == 0);
                assertEquals(model.placeholders.contains(key.segment()), key.isEmpty(), key.toString());
                for (long p = position; p < position + length; p += SECTOR) {
                    int s = (int) ((p - at) / SECTOR);
                    if (model.owner[s] != key.segment()) {
                        assertEquals(model.owner[s], key.segment(), "owner of sector " + s);
                    }
                    if (!key.isEmpty() && key.segmentOffset() + (p - key.offset()) != (long) model.indexInKey[s] * SECTOR) {
                        assertEquals((long) model.indexInKey[s] * SECTOR, key.segmentOffset() + (p - key.offset()),
                                "data of sector " + s + " in " + key);
                    }
                }
                next[0] = position + length;
                return true;
            }

            @Override
            public boolean gap(long position, int length) {
                assertEquals(next[0], position, "pieces are contiguous");
                assertTrue(length > 0 && length % SECTOR == 0);
                for (long p = position; p < position + length; p += SECTOR) {
                    if (model.owner[(int) ((p - at) / SECTOR)] != 0) {
                        throw new AssertionError("sector " + (p - at) / SECTOR + " should be cached by "
                                + model.owner[(int) ((p - at) / SECTOR)]);
                    }
                }
                next[0] = position + length;
                return true;
            }
        });
        assertEquals(at + (long) to * SECTOR, next[0], "the walk covers the whole range");
    }

    private static void checkKeys(SortedKeySlice slice, StripedKeyIndex index, Map<CacheKey, Boolean> created, long at) {

        // the keys themselves: sorted, disjoint, non-empty, inside the slice, linked, counted
        List<CacheKey> keys = new ArrayList<>();
        slice.forEach(keys::add);
        Set<CacheKey> inSlice = Collections.newSetFromMap(new IdentityHashMap<>());
        long end = at;
        for (CacheKey k : keys) {
            assertTrue(k.offset() >= end, "sorted and disjoint: " + keys);
            assertTrue(k.length() > 0);
            assertTrue(k.isLinked(), k + " is in the slice but not linked");
            end = k.end();
            inSlice.add(k);
        }
        assertTrue(end <= at + PcacheFormat.SUBTREE_SIZE);
        assertEquals(keys.size(), slice.size());
        assertEquals(keys.size(), index.keyCount());
        for (CacheKey k : created.keySet()) {
            if (!inSlice.contains(k)) {
                assertFalse(k.isLinked(), k + " was removed but is still linked");
            }
        }
    }
}
