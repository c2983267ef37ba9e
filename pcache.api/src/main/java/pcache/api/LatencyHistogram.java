package pcache.api;

import java.util.List;

/**
 * How long requests of one kind took: a histogram with fixed bucket bounds, as a cache measured
 * it (from the call's start, including any wait, to its successful return).
 *
 * <p>{@code bucketCounts} has one entry more than {@code upperBoundsNanos}: entry {@code i} counts
 * the requests that took more than {@code upperBoundsNanos[i - 1]} (or 0) and at most
 * {@code upperBoundsNanos[i]} nanoseconds; the last entry counts those that took longer than the
 * highest bound. The counts are not cumulative. Counts and sum are read one after the other
 * while requests go on, so they may disagree by the requests that completed meanwhile.
 *
 * @param upperBoundsNanos the bucket bounds in nanoseconds, ascending, each positive
 * @param bucketCounts requests per bucket, not cumulative; one more entry than the bounds
 * @param sumNanos the time all counted requests took, added up, in nanoseconds
 * @since 1.3
 */
public record LatencyHistogram(List<Long> upperBoundsNanos, List<Long> bucketCounts, long sumNanos) {

    /** A histogram that counted nothing, for caches that do not measure. */
    public static final LatencyHistogram EMPTY = new LatencyHistogram(List.of(), List.of(0L), 0);

    /**
     * @throws IllegalArgumentException if the bounds are not ascending and positive, or the counts
     *         are not one more than the bounds, or any count is negative
     */
    public LatencyHistogram {
        upperBoundsNanos = List.copyOf(upperBoundsNanos);
        bucketCounts = List.copyOf(bucketCounts);
        if (bucketCounts.size() != upperBoundsNanos.size() + 1) {
            throw new IllegalArgumentException("expected " + (upperBoundsNanos.size() + 1) + " bucket counts for "
                    + upperBoundsNanos.size() + " bounds, got " + bucketCounts.size());
        }
        long previous = 0;
        for (long bound : upperBoundsNanos) {
            if (bound <= previous) {
                throw new IllegalArgumentException("bucket bounds must be positive and ascending: " + upperBoundsNanos);
            }
            previous = bound;
        }
        for (long count : bucketCounts) {
            if (count < 0) {
                throw new IllegalArgumentException("negative bucket count: " + bucketCounts);
            }
        }
    }

    /** The number of requests counted: the sum of {@link #bucketCounts}. */
    public long count() {
        long total = 0;
        for (long c : bucketCounts) {
            total += c;
        }
        return total;
    }
}
