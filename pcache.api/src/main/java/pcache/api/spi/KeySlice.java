package pcache.api.spi;

import java.util.function.Consumer;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * The part of a {@link KeyIndex} covering one 4 MiB-aligned logical slice: an ordered set of
 * non-overlapping keys with one lock (reference §3.2). Every method except {@link #lock()},
 * {@link #unlock()}, {@link #start()} and {@link #end()} requires the caller to hold the lock.
 */
@ConsumerType
public interface KeySlice {

    /** Logical offset where the slice starts. */
    long start();

    /** Logical offset where the slice ends (exclusive). */
    long end();

    /** Acquires the slice's lock (reentrant). */
    void lock();

    /** Releases the slice's lock. */
    void unlock();

    /**
     * Inserts {@code key} (not EMPTY), resolving every overlap as reference §3.4 prescribes: the
     * new key wins every byte it covers; older keys are cut, split or removed (placeholders are
     * only back-cut or removed, never front-cut or split). Invalid keys met on the way are
     * removed. The key becomes linked.
     */
    void insert(CacheKey key, KeyValidity validity);

    /**
     * Inserts a placeholder for a read miss. Placeholders only fill gaps: call it for a range the
     * walk reported as a gap, under the same lock hold.
     */
    void insertPlaceholder(CacheKey placeholder);

    /**
     * Visits {@code [offset, offset + length)} (inside this slice) in order as hits and gaps,
     * after removing invalid keys that overlap it.
     *
     * @return false if the visitor stopped the walk
     */
    boolean walk(long offset, long length, KeyValidity validity, ExtentVisitor visitor);

    /** Removes {@code key} if it is linked in this slice; returns whether it was. */
    boolean remove(CacheKey key);

    /**
     * Removes every byte of {@code [offset, offset + length)} from the index (trim): keys inside
     * are removed, keys crossing the edges are cut (placeholders crossing the start are back-cut,
     * those crossing only the end are removed).
     *
     * @return keys removed or cut
     */
    int removeRange(long offset, long length);

    /** Removes up to {@code max} invalid keys; returns how many. */
    int removeInvalid(KeyValidity validity, int max);

    /** Keys currently in the slice (placeholders included). */
    int size();

    /** Calls {@code action} for each key in offset order. The action must not modify the slice. */
    void forEach(Consumer<CacheKey> action);
}
