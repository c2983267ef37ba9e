package pcache.keyindex.internal;

import java.util.Arrays;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

import pcache.api.spi.CacheKey;
import pcache.api.spi.ExtentVisitor;
import pcache.api.spi.KeySlice;
import pcache.api.spi.KeyValidity;

/**
 * One slice of the striped index: the keys of a 4 MiB logical range, ordered by offset and
 * disjoint, held in a sorted array (binary search, one array copy per insert). A slice holds at
 * most a few thousand keys (every key is at least one 512-byte sector of the 4 MiB slice), so the
 * copy stays short, and the arrays cost 12 bytes per key (a reference and the packed bounds) where
 * a tree's nodes cost 24 or more — the index keeps one object per cached extent and its size is a
 * target (reference §9.3 item 10).
 *
 * <p>Overlap resolution on insert follows reference §3.4: for an existing key T and a new key K,
 * <em>overlap_head</em> (T covers K's start) cuts T's back, <em>overlap_contained</em> (T covers
 * all of K) splits T in two (a placeholder T is only back-cut), <em>overlap_contain</em> (K covers
 * all of T) removes T, <em>overlap_tail</em> (T covers K's end) cuts T's front (a placeholder T is
 * removed). Invalid keys in the way are removed.
 */
final class SortedKeySlice implements KeySlice {

    private static final CacheKey[] NONE = new CacheKey[0];
    private static final long[] NO_BOUNDS = new long[0];

    private final long start;
    private final long end;
    private final ReentrantLock lock = new ReentrantLock();
    private final StripedKeyIndex owner;
    private CacheKey[] keys = NONE;
    /**
     * Both bounds of every held key, relative to the slice's start, in one long:
     * {@code bounds[k] == (keys[k].offset() - start) << 32 | (keys[k].end() - start)}. The searches
     * and the overlap tests read this array, not the keys. A key is an object somewhere in the
     * heap, so with thousands of keys each step of a search over them was a cache miss, and so was
     * the look at the key after a write's range just to find that it does not overlap; here a
     * search touches a few lines, the key after it is in the last of them, and only keys that do
     * overlap are touched. One long per key, so an insert's shift moves no more than one array of
     * ends did. Kept in step wherever a key is placed, moved or cut.
     */
    private long[] bounds = NO_BOUNDS;
    private int size;
    /**
     * The last answer of {@link #firstEndingAfter}, until the slice changes: a write walks its
     * range, then inserts its key at the same position, and each search is a reference to a key
     * somewhere in the heap per step (with thousands of keys, a cache miss per step: the searches
     * were the hottest code of small writes). {@link Long#MIN_VALUE} when there is none.
     */
    private long searchedPosition = Long.MIN_VALUE;
    private int searchedIndex;
    /** Where {@link #removeInvalid} goes on: keys ending after this offset are looked at next. */
    private long cleanCursor;
    /** Whether the owner lists this slice as holding keys (until {@link #clear}). */
    private boolean listed;

    SortedKeySlice(StripedKeyIndex owner, long start, long end) {
        if (start < 0 || end <= start || end - start > Integer.MAX_VALUE) {
            // bounds relative to the start must fit 31 bits each (a slice is 4 MiB)
            throw new IllegalArgumentException("slice [" + start + ", " + end + ") is empty or 2 GiB or longer");
        }
        this.owner = owner;
        this.start = start;
        this.end = end;
    }

    @Override
    public long start() {
        return start;
    }

    @Override
    public long end() {
        return end;
    }

    @Override
    public void lock() {
        lock.lock();
    }

    @Override
    public void unlock() {
        lock.unlock();
    }

    private void checkHeld() {
        if (!lock.isHeldByCurrentThread()) {
            throw new IllegalStateException("slice lock not held");
        }
    }

    private void checkRange(long offset, long length) {
        if (length <= 0 || offset < start || offset + length > end) {
            throw new IllegalArgumentException("range [" + offset + ", +" + length
                    + ") is empty or outside slice [" + start + ", " + end + ")");
        }
    }

    /** Index of the first key whose end lies after {@code position} (keys are disjoint, so ends ascend). */
    private int firstEndingAfter(long position) {
        if (position == searchedPosition) {
            return searchedIndex;
        }
        int lo = 0;
        int hi = size;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (endOf(mid) <= position) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        searchedPosition = position;
        searchedIndex = lo;
        return lo;
    }

    /** Every change of the keys held (their set or their ranges) ends the remembered search. */
    private void changed() {
        searchedPosition = Long.MIN_VALUE;
        assert boundsInStep();
    }

    /** Whether {@link #bounds} matches the keys (checked after every change when assertions are on, as in the tests). */
    private boolean boundsInStep() {
        for (int k = 0; k < size; k++) {
            if (startOf(k) != keys[k].offset() || endOf(k) != keys[k].end()) {
                throw new AssertionError("slice [" + start + ", " + end + "): bounds of key " + k + " = ["
                        + startOf(k) + ", " + endOf(k) + ") but the key there is " + keys[k]);
            }
        }
        return true;
    }

    /** Where the key at index {@code k} starts, read from {@link #bounds}. */
    private long startOf(int k) {
        return start + (bounds[k] >>> 32);
    }

    /** Where the key at index {@code k} ends, read from {@link #bounds}. */
    private long endOf(int k) {
        return start + (bounds[k] & 0xFFFF_FFFFL);
    }

    /** Places {@code key} at index {@code k}, its bounds with it. */
    private void put(int k, CacheKey key) {
        keys[k] = key;
        bounds[k] = (key.offset() - start) << 32 | (key.end() - start);
    }

    /** Moves the keys from index {@code from} on ({@code size - from} of them) to index {@code to}. */
    private void move(int from, int to) {
        System.arraycopy(keys, from, keys, to, size - from);
        System.arraycopy(bounds, from, bounds, to, size - from);
    }

    /** Index of the first key whose offset is at or after {@code position}. */
    private int firstStartingAtOrAfter(long position) {
        int lo = 0;
        int hi = size;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (startOf(mid) < position) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    @Override
    public void insert(CacheKey key, KeyValidity validity) {
        checkHeld();
        if (key.isEmpty()) {
            throw new IllegalArgumentException("insert a placeholder with insertPlaceholder: " + key);
        }
        checkRange(key.offset(), key.length());
        carve(key.offset(), key.end(), key, validity);
    }

    @Override
    public int removeRange(long offset, long length) {
        checkHeld();
        checkRange(offset, length);
        return carve(offset, offset + length, null, KeyValidity.ALL);
    }

    /**
     * Frees {@code [from, to)} of every existing key (the overlap cases of §3.4) and puts
     * {@code key} (if not null) in its place. Returns how many existing keys were cut or removed.
     */
    private int carve(long from, long to, CacheKey key, KeyValidity validity) {
        int i = firstEndingAfter(from);
        int j = i;
        while (j < size && startOf(j) < to) {
            j++;
        }
        CacheKey left = null;
        CacheKey right = null;
        int touched = j - i;
        // room first, for the most the window can become (a key kept on each side and the new
        // one): an allocation failing after the cuts below would leave keys cut and bounds not
        int mostAdded = (key != null ? 1 : 0) + (touched > 0 ? 2 : 0) - touched;
        if (mostAdded > 0) {
            ensureCapacity(size + mostAdded);
        }
        for (int k = i; k < j; k++) {
            CacheKey t = keys[k];
            if (!t.isEmpty() && !validity.isValid(t)) {
                continue; // stale: dropped with the rest of the window
            }
            if (t.offset() < from) {
                if (t.end() > to) {
                    // overlap_contained: T covers the whole new range
                    if (!t.isEmpty()) {
                        right = t.copy();
                        right.cutFront((int) (to - t.offset()));
                    }
                    t.cutBack((int) (t.end() - from));
                    left = t;
                } else {
                    // overlap_head: the new range covers T's tail
                    t.cutBack((int) (t.end() - from));
                    left = t;
                }
            } else if (t.end() > to) {
                // overlap_tail: the new range covers T's head; placeholders are never front-cut
                if (!t.isEmpty()) {
                    t.cutFront((int) (to - t.offset()));
                    right = t;
                }
            }
            // otherwise overlap_contain: T disappears
        }
        int replacements = (left != null ? 1 : 0) + (key != null ? 1 : 0) + (right != null ? 1 : 0);
        for (int k = i; k < j; k++) {
            CacheKey t = keys[k];
            if (t != left && t != right) {
                t.setLinked(false);
            }
        }
        int delta = replacements - (j - i);
        if (delta != 0) {
            move(j, j + delta);
        }
        int at = i;
        if (left != null) {
            put(at++, left);
        }
        if (key != null) {
            key.setLinked(true);
            put(at++, key);
        }
        if (right != null) {
            right.setLinked(true);
            put(at++, right);
        }
        if (delta < 0) {
            Arrays.fill(keys, size + delta, size, null);
        }
        size += delta;
        owner.countChange(delta);
        changed();
        noteHeld();
        shrinkIfSparse();
        return touched;
    }

    @Override
    public void insertPlaceholder(CacheKey placeholder) {
        checkHeld();
        if (!placeholder.isEmpty()) {
            throw new IllegalArgumentException("not a placeholder: " + placeholder);
        }
        checkRange(placeholder.offset(), placeholder.length());
        int i = firstEndingAfter(placeholder.offset());
        if (i < size && startOf(i) < placeholder.end()) {
            throw new IllegalStateException(placeholder + " overlaps " + keys[i]
                    + ": placeholders fill gaps only");
        }
        ensureCapacity(size + 1);
        move(i, i + 1);
        put(i, placeholder);
        placeholder.setLinked(true);
        size++;
        owner.countChange(1);
        changed();
        noteHeld();
    }

    /** Has the owner list this slice once it holds a key (see {@link StripedKeyIndex#holdsKeys}). */
    private void noteHeld() {
        if (size > 0 && !listed) {
            listed = true;
            owner.holdsKeys(this);
        }
    }

    @Override
    public boolean walk(long offset, long length, KeyValidity validity, ExtentVisitor visitor) {
        checkHeld();
        checkRange(offset, length);
        long stop = offset + length;
        dropInvalid(offset, stop, validity);
        long pos = offset;
        int i = firstEndingAfter(offset);
        while (pos < stop) {
            long keyStart;
            if (i < size && (keyStart = startOf(i)) < stop) {
                if (keyStart > pos) {
                    if (!visitor.gap(pos, (int) (keyStart - pos))) {
                        return false;
                    }
                    pos = keyStart;
                }
                long hitEnd = Math.min(endOf(i), stop);
                if (!visitor.hit(keys[i], pos, (int) (hitEnd - pos))) {
                    return false;
                }
                pos = hitEnd;
                i++;
            } else {
                if (!visitor.gap(pos, (int) (stop - pos))) {
                    return false;
                }
                pos = stop;
            }
        }
        return true;
    }

    /** Removes invalid keys overlapping {@code [from, to)}. */
    private void dropInvalid(long from, long to, KeyValidity validity) {
        int i = firstEndingAfter(from);
        int w = i;
        int r = i;
        while (r < size && startOf(r) < to) {
            CacheKey t = keys[r++];
            if (!t.isEmpty() && !validity.isValid(t)) {
                t.setLinked(false);
            } else {
                keep(r - 1, w++);
            }
        }
        if (w != r) {
            compactFrom(w, r);
        }
    }

    /** Moves the key at index {@code r} to index {@code w} (at or before it) while removals close up. */
    private void keep(int r, int w) {
        if (r != w) {
            keys[w] = keys[r];
            bounds[w] = bounds[r];
        }
    }

    /** Closes the hole {@code [w, r)} left by removals. */
    private void compactFrom(int w, int r) {
        int removed = r - w;
        move(r, w);
        Arrays.fill(keys, size - removed, size, null);
        size -= removed;
        owner.countChange(-removed);
        changed();
        shrinkIfSparse();
    }

    @Override
    public boolean remove(CacheKey key) {
        checkHeld();
        if (!key.isLinked()) {
            return false;
        }
        int i = firstStartingAtOrAfter(key.offset());
        if (i < size && keys[i] == key) {
            key.setLinked(false);
            compactFrom(i, i + 1);
            return true;
        }
        return false;
    }

    /**
     * Removes up to {@code max} invalid keys. Successive calls go on where the previous one
     * stopped and wrap around once, so a cleaner that removes a few keys per lock hold looks at
     * each key once per round instead of rescanning the valid keys before the invalid ones at every
     * call (with thousands of keys that made a round quadratic).
     */
    @Override
    public int removeInvalid(KeyValidity validity, int max) {
        checkHeld();
        int from = Math.min(firstEndingAfter(cleanCursor), size);
        int removed = removeInvalidBetween(from, size, validity, max);
        if (removed < max) {
            // reached the end: the keys before where this round started, then a fresh round
            removed += removeInvalidBetween(0, Math.min(from, size), validity, max - removed);
            if (removed < max) {
                cleanCursor = start;
            }
        }
        return removed;
    }

    /**
     * Removes up to {@code max} invalid keys among indexes {@code [lo, hi)}; leaves
     * {@link #cleanCursor} at the end of the last key looked at.
     */
    private int removeInvalidBetween(int lo, int hi, KeyValidity validity, int max) {
        int w = lo;
        int r = lo;
        int removed = 0;
        long lastEnd = Long.MIN_VALUE;
        while (r < hi && removed < max) {
            lastEnd = endOf(r);
            CacheKey t = keys[r++];
            if (!t.isEmpty() && !validity.isValid(t)) {
                t.setLinked(false);
                removed++;
            } else {
                keep(r - 1, w++);
            }
        }
        if (lastEnd != Long.MIN_VALUE) {
            cleanCursor = lastEnd;
        }
        if (removed > 0) {
            compactFrom(w, r);
        }
        return removed;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public void forEach(Consumer<CacheKey> action) {
        checkHeld();
        for (int i = 0; i < size; i++) {
            action.accept(keys[i]);
        }
    }

    void clear() {
        checkHeld();
        for (int i = 0; i < size; i++) {
            keys[i].setLinked(false);
        }
        owner.countChange(-size);
        keys = NONE;
        bounds = NO_BOUNDS;
        size = 0;
        listed = false;
        changed();
    }

    /**
     * Gives back most of the arrays once they are three quarters empty (all of them once the slice
     * is empty, unless they are the smallest): a slice's arrays followed its busiest moment for good, so one pass of small writes over
     * a large device left every slice it crossed holding arrays for a thousand keys, gigabytes of
     * heap, with nothing cached any more. Halving the room at a quarter full keeps a slice whose
     * size goes up and down by a few keys from copying its arrays each time.
     */
    private void shrinkIfSparse() {
        if (keys.length <= MIN_CAPACITY || size >= keys.length / 4 && size > 0) {
            return; // a slice going between empty and a key or two (read misses) keeps its first arrays
        }
        if (size == 0) {
            keys = NONE;
            bounds = NO_BOUNDS;
            return;
        }
        int room = Math.max(MIN_CAPACITY, size * 2);
        try {
            CacheKey[] fewerKeys = Arrays.copyOf(keys, room);
            long[] fewerBounds = Arrays.copyOf(bounds, room);
            keys = fewerKeys;
            bounds = fewerBounds;
        } catch (OutOfMemoryError e) {
            // best effort: the change is done, and the arrays as they are hold it
        }
    }

    /** Room for this many keys when a slice takes its first. */
    static final int MIN_CAPACITY = 8;

    /** How many keys the slice's arrays have room for now (for tests). */
    int capacity() {
        return keys.length;
    }

    private void ensureCapacity(int needed) {
        if (needed > keys.length) {
            int grown = Math.max(needed, keys.length < MIN_CAPACITY ? MIN_CAPACITY : keys.length + (keys.length >> 1));
            // both copied before either is kept: one failing leaves the slice as it was
            CacheKey[] moreKeys = Arrays.copyOf(keys, grown);
            long[] moreBounds = Arrays.copyOf(bounds, grown);
            keys = moreKeys;
            bounds = moreBounds;
        }
    }
}
