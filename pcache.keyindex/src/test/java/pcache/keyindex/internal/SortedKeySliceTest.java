package pcache.keyindex.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.StringJoiner;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import pcache.api.spi.CacheKey;
import pcache.api.spi.ExtentVisitor;
import pcache.api.spi.KeyValidity;

/**
 * One slice of the index: the overlap cases of reference §3.4, each with a data key and with a
 * placeholder as the existing key, plus walk, placeholders, removal and trimming.
 *
 * <p>Pictures: {@code "0-4#1@0"} is a data key over [0 KiB, 4 KiB) with id (segment) 1 whose data
 * starts 0 KiB into what key 1 was written with; {@code "0-4E"} a placeholder.
 */
class SortedKeySliceTest {

    private static final int K = 1024;
    /** Data of every test key starts 1 MiB into its segment, so front cuts show in the picture. */
    private static final int BASE = 1 << 20;
    /** Keys in segment 9 are stale. */
    private static final KeyValidity NOT_NINE = key -> key.segment() != 9;

    private final StripedKeyIndex index = new StripedKeyIndex(16L << 20);
    private SortedKeySlice slice;

    @BeforeEach
    void lock() {
        slice = (SortedKeySlice) index.slice(0);
        slice.lock();
    }

    @AfterEach
    void unlock() {
        slice.unlock();
    }

    private static CacheKey data(int fromKib, int toKib, int id) {
        return new CacheKey(fromKib * (long) K, (toKib - fromKib) * K).place(id, BASE, 0);
    }

    private static CacheKey empty(int fromKib, int toKib) {
        return CacheKey.placeholder(fromKib * (long) K, (toKib - fromKib) * K);
    }

    private void add(CacheKey k) {
        if (k.isEmpty()) {
            slice.insertPlaceholder(k);
        } else {
            slice.insert(k, KeyValidity.ALL);
        }
    }

    private String picture() {
        StringJoiner j = new StringJoiner(" ");
        slice.forEach(k -> {
            String s = k.offset() / K + "-" + k.end() / K;
            j.add(k.isEmpty() ? s + "E" : s + "#" + k.segment() + "@" + (k.segmentOffset() - BASE) / K);
        });
        return j.toString();
    }

    private void assertPicture(String expected) {
        assertEquals(expected, picture());
        assertEquals(slice.size(), index.keyCount());
        slice.forEach(k -> assertTrue(k.isLinked(), k + " is in the slice but not linked"));
    }

    // ---- overlap cases, data key existing ----------------------------------------------------

    @Test
    void overlapHead() {
        CacheKey t = data(0, 8, 1);
        add(t);
        CacheKey k = data(4, 12, 2);
        slice.insert(k, KeyValidity.ALL);
        assertPicture("0-4#1@0 4-12#2@0");
        assertTrue(t.isLinked(), "a cut key stays linked");
        assertTrue(k.isLinked());
    }

    @Test
    void overlapHeadEndingWhereTheNewKeyEnds() {
        add(data(0, 12, 1));
        slice.insert(data(4, 12, 2), KeyValidity.ALL);
        assertPicture("0-4#1@0 4-12#2@0");
    }

    @Test
    void overlapTail() {
        CacheKey t = data(8, 16, 1);
        add(t);
        slice.insert(data(4, 12, 2), KeyValidity.ALL);
        assertPicture("4-12#2@0 12-16#1@4");
        assertTrue(t.isLinked());
    }

    @Test
    void overlapTailStartingWhereTheNewKeyStarts() {
        add(data(4, 16, 1));
        slice.insert(data(4, 8, 2), KeyValidity.ALL);
        assertPicture("4-8#2@0 8-16#1@4");
    }

    @Test
    void overlapContain() {
        CacheKey t = data(4, 8, 1);
        add(t);
        slice.insert(data(0, 12, 2), KeyValidity.ALL);
        assertPicture("0-12#2@0");
        assertFalse(t.isLinked(), "a removed key is unlinked");
    }

    @Test
    void overlapContainOfTheSameRange() {
        CacheKey t = data(4, 8, 1);
        add(t);
        slice.insert(data(4, 8, 2), KeyValidity.ALL);
        assertPicture("4-8#2@0");
        assertFalse(t.isLinked());
    }

    @Test
    void overlapContainedSplit() {
        CacheKey t = data(0, 16, 1);
        add(t);
        slice.insert(data(4, 8, 2), KeyValidity.ALL);
        assertPicture("0-4#1@0 4-8#2@0 8-16#1@8");
        List<CacheKey> keys = new ArrayList<>();
        slice.forEach(keys::add);
        assertTrue(keys.get(0) == t && t.isLinked(), "the original keeps the front and stays linked");
        assertNotSame(t, keys.get(2));
        assertTrue(keys.get(2).isLinked(), "the split copy is linked");
        assertEquals(t.generation(), keys.get(2).generation());
    }

    @Test
    void beforeAndAfterUntouched() {
        CacheKey left = data(0, 4, 1);
        CacheKey right = data(12, 16, 3);
        add(left);
        add(right);
        slice.insert(data(4, 12, 2), KeyValidity.ALL);
        assertPicture("0-4#1@0 4-12#2@0 12-16#3@0");
        assertTrue(left.isLinked() && right.isLinked());
    }

    @Test
    void aNewKeyOverSeveralExistingKeysResolvesEachCase() {
        add(data(0, 8, 1)); // head
        add(data(8, 12, 3)); // contain
        add(empty(12, 14)); // contain (placeholder)
        add(data(14, 20, 4)); // tail
        add(data(24, 28, 5)); // after: untouched
        slice.insert(data(4, 16, 2), KeyValidity.ALL);
        assertPicture("0-4#1@0 4-16#2@0 16-20#4@2 24-28#5@0");
    }

    // ---- overlap cases, placeholder existing -------------------------------------------------

    @Test
    void overlapHeadWithPlaceholder() {
        CacheKey t = empty(0, 8);
        add(t);
        slice.insert(data(4, 12, 2), KeyValidity.ALL);
        assertPicture("0-4E 4-12#2@0");
        assertTrue(t.isLinked() && t.isEmpty());
    }

    @Test
    void overlapTailWithPlaceholder() {
        CacheKey t = empty(8, 16);
        add(t);
        slice.insert(data(4, 12, 2), KeyValidity.ALL);
        assertPicture("4-12#2@0");
        assertFalse(t.isLinked(), "a placeholder is removed rather than front-cut");
    }

    @Test
    void overlapContainWithPlaceholder() {
        CacheKey t = empty(4, 8);
        add(t);
        slice.insert(data(0, 12, 2), KeyValidity.ALL);
        assertPicture("0-12#2@0");
        assertFalse(t.isLinked());
    }

    @Test
    void overlapContainedWithPlaceholderOnlyCutsItsBack() {
        CacheKey t = empty(0, 16);
        add(t);
        slice.insert(data(4, 8, 2), KeyValidity.ALL);
        assertPicture("0-4E 4-8#2@0");
        assertTrue(t.isLinked());
        assertEquals(0, t.offset(), "never front-cut");
    }

    @Test
    void beforeAndAfterUntouchedWithPlaceholders() {
        CacheKey left = empty(0, 4);
        CacheKey right = empty(12, 16);
        add(left);
        add(right);
        slice.insert(data(4, 12, 2), KeyValidity.ALL);
        assertPicture("0-4E 4-12#2@0 12-16E");
        assertTrue(left.isLinked() && right.isLinked());
    }

    // ---- stale keys --------------------------------------------------------------------------

    @Test
    void insertRemovesStaleKeysItMeets() {
        CacheKey stale = data(0, 16, 9);
        add(stale);
        slice.insert(data(4, 8, 2), NOT_NINE);
        assertPicture("4-8#2@0");
        assertFalse(stale.isLinked());
    }

    @Test
    void walkRemovesStaleKeysAndReportsTheirRangeAsAGap() {
        CacheKey stale = data(0, 4, 9);
        CacheKey live = data(4, 8, 1);
        add(stale);
        add(live);
        Recorder r = new Recorder();
        assertTrue(slice.walk(0, 8 * K, NOT_NINE, r));
        assertEquals(List.of("gap 0-4", "hit 4-8 #1+0"), r.pieces);
        assertFalse(stale.isLinked());
        assertPicture("4-8#1@0");
    }

    @Test
    void placeholdersAreNeverStale() {
        add(empty(0, 4));
        Recorder r = new Recorder();
        slice.walk(0, 4 * K, key -> false, r);
        assertEquals(List.of("hit 0-4 E+0"), r.pieces);
        assertEquals(0, slice.removeInvalid(key -> false, 10));
        assertPicture("0-4E");
    }

    // ---- walk ----------------------------------------------------------------------------------

    /** Records the pieces of a walk and checks that they are contiguous. */
    private static final class Recorder implements ExtentVisitor {
        final List<String> pieces = new ArrayList<>();
        long next = -1;
        int stopAfter = Integer.MAX_VALUE;

        private boolean record(String s, long position, int length) {
            if (next >= 0) {
                assertEquals(next, position, "pieces must be contiguous");
            }
            assertTrue(length > 0);
            next = position + length;
            pieces.add(s);
            return pieces.size() < stopAfter;
        }

        @Override
        public boolean hit(CacheKey key, long position, int length) {
            assertTrue(position >= key.offset() && position + length <= key.end(), "hit inside its key");
            String id = key.isEmpty() ? "E" : "#" + key.segment();
            return record("hit " + position / K + "-" + (position + length) / K + " " + id + "+"
                    + (position - key.offset()) / K, position, length);
        }

        @Override
        public boolean gap(long position, int length) {
            return record("gap " + position / K + "-" + (position + length) / K, position, length);
        }
    }

    @Test
    void walkGivesHitsAndGapsCoveringTheRangeExactly() {
        add(data(4, 8, 1));
        add(empty(12, 16));
        add(data(16, 20, 2));
        add(data(30, 40, 3));
        Recorder r = new Recorder();
        assertTrue(slice.walk(2 * K, 16 * K, KeyValidity.ALL, r)); // [2, 18)
        assertEquals(List.of("gap 2-4", "hit 4-8 #1+0", "gap 8-12", "hit 12-16 E+0", "hit 16-18 #2+0"), r.pieces);

        Recorder inside = new Recorder();
        slice.walk(33 * K, 2 * K, KeyValidity.ALL, inside);
        assertEquals(List.of("hit 33-35 #3+3"), inside.pieces);

        Recorder empty = new Recorder();
        slice.walk(20 * K, 10 * K, KeyValidity.ALL, empty);
        assertEquals(List.of("gap 20-30"), empty.pieces);

        Recorder all = new Recorder();
        slice.walk(0, 4 << 20, KeyValidity.ALL, all);
        assertEquals(List.of("gap 0-4", "hit 4-8 #1+0", "gap 8-12", "hit 12-16 E+0", "hit 16-20 #2+0",
                "gap 20-30", "hit 30-40 #3+0", "gap 40-4096"), all.pieces);
    }

    @Test
    void aVisitorCanStopTheWalk() {
        add(data(4, 8, 1));
        Recorder r = new Recorder();
        r.stopAfter = 1;
        assertFalse(slice.walk(0, 16 * K, KeyValidity.ALL, r));
        assertEquals(List.of("gap 0-4"), r.pieces);
        Recorder h = new Recorder();
        h.stopAfter = 2;
        assertFalse(slice.walk(0, 16 * K, KeyValidity.ALL, h));
        assertEquals(List.of("gap 0-4", "hit 4-8 #1+0"), h.pieces);
    }

    @Test
    void walkRejectsRangesOutsideTheSlice() {
        assertThrows(IllegalArgumentException.class, () -> slice.walk(-512, 1024, KeyValidity.ALL, new Recorder()));
        assertThrows(IllegalArgumentException.class, () -> slice.walk((4 << 20) - 512, 1024, KeyValidity.ALL, new Recorder()));
        assertThrows(IllegalArgumentException.class, () -> slice.walk(0, 0, KeyValidity.ALL, new Recorder()));
        assertThrows(IllegalArgumentException.class, () -> slice.insert(data(4092, 4100, 1), KeyValidity.ALL));
    }

    // ---- placeholders --------------------------------------------------------------------------

    @Test
    void placeholdersGoIntoGapsOnly() {
        add(data(4, 8, 1));
        CacheKey p = empty(0, 4);
        slice.insertPlaceholder(p);
        assertTrue(p.isLinked());
        slice.insertPlaceholder(empty(8, 12));
        assertPicture("0-4E 4-8#1@0 8-12E");
        assertThrows(IllegalStateException.class, () -> slice.insertPlaceholder(empty(6, 10)));
        assertThrows(IllegalStateException.class, () -> slice.insertPlaceholder(empty(11, 13)));
        assertThrows(IllegalStateException.class, () -> slice.insertPlaceholder(empty(2, 3)));
        assertPicture("0-4E 4-8#1@0 8-12E");
    }

    @Test
    void placeholdersAndDataKeysUseTheirOwnMethods() {
        assertThrows(IllegalArgumentException.class, () -> slice.insert(empty(0, 4), KeyValidity.ALL));
        assertThrows(IllegalArgumentException.class, () -> slice.insertPlaceholder(data(0, 4, 1)));
        assertPicture("");
    }

    // ---- remove ------------------------------------------------------------------------------

    @Test
    void removeUnlinksALinkedKeyOnly() {
        CacheKey a = data(0, 4, 1);
        CacheKey b = data(4, 8, 2);
        add(a);
        add(b);
        assertTrue(slice.remove(a));
        assertFalse(a.isLinked());
        assertPicture("4-8#2@0");
        assertFalse(slice.remove(a), "already removed");
        assertFalse(slice.remove(data(4, 8, 2)), "an equal key that is not the linked object");
        CacheKey elsewhere = data(4096 + 4, 4096 + 8, 5);
        elsewhere.setLinked(true); // linked in another slice
        assertFalse(slice.remove(elsewhere));
        assertTrue(elsewhere.isLinked());
        assertPicture("4-8#2@0");
    }

    // ---- removeRange (trim) --------------------------------------------------------------------

    @Test
    void removeRangeRemovesKeysInsideAndCutsKeysAcrossItsEdges() {
        add(data(0, 8, 1));
        CacheKey inside = data(8, 10, 2);
        add(inside);
        add(data(10, 20, 3));
        add(data(30, 34, 4));
        assertEquals(3, slice.removeRange(4 * K, 12 * K)); // [4, 16)
        assertPicture("0-4#1@0 16-20#3@6 30-34#4@0");
        assertFalse(inside.isLinked());
        assertEquals(0, slice.removeRange(20 * K, 10 * K), "nothing in [20, 30)");
        assertPicture("0-4#1@0 16-20#3@6 30-34#4@0");
    }

    @Test
    void removeRangeInsideAKeySplitsIt() {
        CacheKey t = data(0, 16, 1);
        add(t);
        assertEquals(1, slice.removeRange(4 * K, 4 * K));
        assertPicture("0-4#1@0 8-16#1@8");
        assertTrue(t.isLinked());
    }

    @Test
    void removeRangeBackCutsPlaceholdersAcrossItsStartAndRemovesThoseAcrossItsEnd() {
        CacheKey head = empty(0, 8);
        CacheKey tail = empty(12, 20);
        add(head);
        add(tail);
        assertEquals(2, slice.removeRange(4 * K, 12 * K)); // [4, 16)
        assertPicture("0-4E");
        assertTrue(head.isLinked());
        assertFalse(tail.isLinked());
    }

    @Test
    void removeRangeInsideAPlaceholderOnlyCutsItsBack() {
        add(empty(0, 16));
        assertEquals(1, slice.removeRange(4 * K, 4 * K));
        assertPicture("0-4E");
    }

    // ---- removeInvalid -----------------------------------------------------------------------

    @Test
    void removeInvalidRemovesAtMostMaxStaleKeysInOrder() {
        List<CacheKey> stale = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            CacheKey s = data(i * 8, i * 8 + 4, 9);
            stale.add(s);
            add(s);
            add(data(i * 8 + 4, i * 8 + 6, 1));
        }
        add(empty(100, 104));
        assertEquals(11, slice.size());
        assertEquals(2, slice.removeInvalid(NOT_NINE, 2));
        assertFalse(stale.get(0).isLinked());
        assertFalse(stale.get(1).isLinked());
        assertTrue(stale.get(2).isLinked());
        assertEquals(9, slice.size());
        assertEquals(3, slice.removeInvalid(NOT_NINE, 10));
        assertEquals(0, slice.removeInvalid(NOT_NINE, 10));
        assertPicture("4-6#1@0 12-14#1@0 20-22#1@0 28-30#1@0 36-38#1@0 100-104E");
        assertEquals(0, slice.removeInvalid(key -> false, 0), "max 0 removes nothing");
    }

    // ---- locking -----------------------------------------------------------------------------

    @Test
    void everyOperationNeedsTheLock() {
        SortedKeySlice other = (SortedKeySlice) index.slice(4 << 20);
        long at = 4 << 20;
        assertThrows(IllegalStateException.class, () -> other.insert(new CacheKey(at, 512), KeyValidity.ALL));
        assertThrows(IllegalStateException.class, () -> other.insertPlaceholder(CacheKey.placeholder(at, 512)));
        assertThrows(IllegalStateException.class, () -> other.walk(at, 512, KeyValidity.ALL, new Recorder()));
        assertThrows(IllegalStateException.class, () -> other.removeRange(at, 512));
        assertThrows(IllegalStateException.class, () -> other.removeInvalid(KeyValidity.ALL, 1));
        assertThrows(IllegalStateException.class, () -> other.remove(new CacheKey(at, 512)));
        assertThrows(IllegalStateException.class, () -> other.forEach(k -> { }));
        other.lock();
        other.lock(); // reentrant
        other.insert(new CacheKey(at, 512), KeyValidity.ALL);
        other.unlock();
        other.unlock();
        assertEquals(1, other.size());
    }

    /**
     * A cleaner removing a few invalid keys per call: successive calls go on where the previous
     * one stopped, so a round looks at each key about once (it used to rescan the valid keys in
     * front at every call: quadratic), and every invalid key is removed, also those before where
     * the round started.
     */
    @Test
    void removeInvalidGoesOnWhereItStoppedAndWrapsAround() {
        for (int i = 0; i < 1000; i++) {
            add(data(4 * i, 4 * i + 4, i % 3 == 0 ? 9 : 1)); // every third key invalid: 334 of them
        }
        int[] checks = {0};
        KeyValidity counting = key -> {
            checks[0]++;
            return NOT_NINE.isValid(key);
        };
        // start a round in the middle: 5 removed from key 0 on, then a cursor at key 12
        assertEquals(5, slice.removeInvalid(counting, 5));
        int removed = 5;
        int calls = 1;
        int r;
        while ((r = slice.removeInvalid(counting, 5)) == 5) {
            removed += r;
            calls++;
        }
        removed += r;
        assertEquals(334, removed);
        assertEquals(666, slice.size());
        assertTrue(checks[0] <= 2 * 1000, checks[0] + " validity checks in " + calls + " calls: a round looks at each key about once");
        slice.forEach(k -> assertTrue(NOT_NINE.isValid(k), "left " + k));
        // nothing more to remove: the next call finds nothing, wrapping around once
        checks[0] = 0;
        assertEquals(0, slice.removeInvalid(counting, 5));
        assertEquals(666, checks[0]);
        // keys invalidated before the cursor of an unfinished round are still found
        for (int i = 0; i < 20; i++) {
            add(data(4 * (1000 + i), 4 * (1000 + i) + 4, 9));
        }
        assertEquals(5, slice.removeInvalid(counting, 5)); // cursor now inside the new keys
        add(data(0, 4, 9)); // an invalid key in front of the cursor
        int rest = 0;
        while ((r = slice.removeInvalid(counting, 5)) == 5) {
            rest += r;
        }
        rest += r;
        assertEquals(16, rest, "the 15 left after the cursor and the one in front of it");
        assertEquals(666, slice.size());
    }

    /**
     * The slice remembers its last search until it changes: a write walks its range and then
     * inserts at the same position, and the search after the insert (which cut the key in front
     * and put the new one after it) must not reuse the answer from before.
     */
    @Test
    void aSearchAfterAnInsertAtTheSamePositionSeesTheInsert() {
        add(data(0, 8, 1));
        java.util.List<String> before = new java.util.ArrayList<>();
        slice.walk(4 * K, 4 * K, KeyValidity.ALL, recorder(before));
        assertEquals(java.util.List.of("hit 0-8 at 4+4"), before);
        slice.insert(data(4, 12, 2), KeyValidity.ALL); // cuts 0-8 to 0-4: the search at 4 now finds 4-12
        java.util.List<String> after = new java.util.ArrayList<>();
        slice.walk(4 * K, 4 * K, KeyValidity.ALL, recorder(after));
        assertEquals(java.util.List.of("hit 4-12 at 4+4"), after);
        slice.insert(data(4, 6, 3), KeyValidity.ALL);
        assertPicture("0-4#1@0 4-6#3@0 6-12#2@2");
        slice.removeRange(4 * K, 2 * K);
        java.util.List<String> gap = new java.util.ArrayList<>();
        slice.walk(4 * K, 4 * K, KeyValidity.ALL, recorder(gap));
        assertEquals(java.util.List.of("gap 4+2", "hit 6-12 at 6+2"), gap);
    }

    /**
     * A slice's arrays give their room back as keys leave: once nearly empty they hold about
     * twice the keys left, once empty nothing. Before, they kept the room of the slice's busiest
     * moment for good (a pass of 4 KiB writes over a large device left about 18 KB per 4 MiB
     * slice it crossed: gigabytes of heap with nothing cached). The keys left stay in order as keys
     * are cut and added afterwards.
     */
    @Test
    void theArraysGiveTheirRoomBackAsKeysLeave() {
        for (int i = 0; i < 1024; i++) {
            slice.insert(data(4 * i, 4 * i + 4, 1), KeyValidity.ALL);
        }
        assertTrue(slice.capacity() >= 1024, "room for " + slice.capacity());
        slice.removeRange(0, 4000L * K); // every key but the last 24
        assertEquals(24, slice.size());
        assertEquals(48, slice.capacity(), "room for twice the 24 keys left");
        slice.insert(data(4000, 4090, 2), KeyValidity.ALL); // cuts 18 and adds one
        assertPicture("4000-4090#2@0 4090-4092#1@2 4092-4096#1@0");
        assertEquals(SortedKeySlice.MIN_CAPACITY, slice.capacity(), "the smallest arrays for 3 keys");
        slice.removeRange(0, 4096L * K);
        assertEquals(0, slice.size());
        assertTrue(slice.capacity() <= SortedKeySlice.MIN_CAPACITY, "the smallest arrays stay: " + slice.capacity());
        slice.insert(data(8, 12, 3), KeyValidity.ALL);
        slice.insert(data(0, 4, 4), KeyValidity.ALL);
        assertPicture("0-4#4@0 8-12#3@0");
        for (int i = 0; i < 100; i++) {
            slice.insert(data(16 + 4 * i, 20 + 4 * i, 5), KeyValidity.ALL);
        }
        slice.removeRange(0, 4096L * K); // all at once
        assertEquals(0, slice.capacity(), "an emptied slice gives larger arrays back");
    }

    private static pcache.api.spi.ExtentVisitor recorder(java.util.List<String> out) {
        return new pcache.api.spi.ExtentVisitor() {
            @Override
            public boolean hit(CacheKey key, long position, int length) {
                out.add("hit " + key.offset() / K + "-" + key.end() / K + " at " + position / K + "+" + length / K);
                return true;
            }

            @Override
            public boolean gap(long position, int length) {
                out.add("gap " + position / K + "+" + length / K);
                return true;
            }
        };
    }
}
