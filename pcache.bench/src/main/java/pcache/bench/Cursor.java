package pcache.bench;

import java.util.SplittableRandom;

import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/** Per-thread positions: sequential (wrapping) and random, aligned to the access size. */
@State(Scope.Thread)
public class Cursor {

    private final SplittableRandom random = new SplittableRandom(42);
    private long next;

    /** The next of consecutive {@code size}-byte slots in {@code [0, areaBytes)}, wrapping. */
    public long sequential(long size, long areaBytes) {
        long at = next;
        next = at + size >= areaBytes ? 0 : at + size;
        return at;
    }

    /** A random {@code size}-aligned offset of a {@code size}-byte slot in {@code [0, areaBytes)}. */
    public long random(long size, long areaBytes) {
        return random.nextLong(areaBytes / size) * size;
    }
}
