package pcache.engine.internal;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

import pcache.api.LatencyHistogram;

/**
 * Counts how long requests of one kind take, in fixed buckets from 10 µs to 10 s: one
 * {@link LongAdder} per bucket and one for the sum, so recording from many threads costs an
 * increment and no lock. Read with {@link #snapshot()}.
 */
final class LatencyRecorder {

    /** Upper bounds of the buckets, in nanoseconds: 1, 2.5, 5 per decade, from 10 µs to 10 s. */
    static final long[] UPPER_BOUNDS_NANOS = {
        10_000L, 25_000L, 50_000L,
        100_000L, 250_000L, 500_000L,
        1_000_000L, 2_500_000L, 5_000_000L,
        10_000_000L, 25_000_000L, 50_000_000L,
        100_000_000L, 250_000_000L, 500_000_000L,
        1_000_000_000L, 2_500_000_000L, 5_000_000_000L,
        10_000_000_000L,
    };

    private static final List<Long> BOUNDS = Arrays.stream(UPPER_BOUNDS_NANOS).boxed().toList();

    /** One more than the bounds: the last counts what took longer than the highest bound. */
    private final LongAdder[] buckets = new LongAdder[UPPER_BOUNDS_NANOS.length + 1];
    private final LongAdder sumNanos = new LongAdder();

    LatencyRecorder() {
        for (int i = 0; i < buckets.length; i++) {
            buckets[i] = new LongAdder();
        }
    }

    /** Counts one request that took {@code nanos} (a negative value, a clock oddity, counts as 0). */
    void record(long nanos) {
        long n = Math.max(0, nanos);
        buckets[bucketOf(n)].increment();
        sumNanos.add(n);
    }

    /** The bucket of {@code nanos}: the first whose upper bound is at least {@code nanos}. */
    static int bucketOf(long nanos) {
        int i = Arrays.binarySearch(UPPER_BOUNDS_NANOS, nanos);
        return i >= 0 ? i : -i - 1;
    }

    /** The counts so far. */
    LatencyHistogram snapshot() {
        List<Long> counts = new ArrayList<>(buckets.length);
        for (LongAdder b : buckets) {
            counts.add(b.sum());
        }
        return new LatencyHistogram(BOUNDS, counts, sumNanos.sum());
    }
}
