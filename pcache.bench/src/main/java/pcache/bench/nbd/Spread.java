package pcache.bench.nbd;

import java.util.Collection;
import java.util.Locale;

/**
 * Median, minimum and maximum of the values of several rounds (the median of an even count is the
 * mean of the middle two).
 *
 * @param median the middle value
 * @param min the lowest value
 * @param max the highest value
 * @param count how many values
 */
record Spread(double median, double min, double max, int count) {

    /** The spread of {@code values}; at least one. */
    static Spread of(Collection<Double> values) {
        if (values.isEmpty()) {
            throw new IllegalArgumentException("no values");
        }
        double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        int n = v.length;
        double median = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
        return new Spread(median, v[0], v[n - 1], n);
    }

    /** {@code 1.05× (0.90–1.20×)} for ratios; the range left out when there is one value. */
    String ratio() {
        String m = String.format(Locale.ROOT, "%.2f×", median);
        return count == 1 ? m : m + String.format(Locale.ROOT, " (%.2f–%.2f×)", min, max);
    }
}
