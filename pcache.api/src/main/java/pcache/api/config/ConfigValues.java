package pcache.api.config;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parsers of the value types of a cache definition, the one copy the launcher and the shell use;
 * each throws {@link IllegalArgumentException} saying what it expected.
 */
public final class ConfigValues {

    /** What {@link #sizeBytes} accepts, for messages. */
    public static final String SIZE_EXPECTED = "a positive size such as 1G, 512M or 4096 (bytes; units K M G T "
            + "are powers of 1024)";
    /** What {@link #duration} accepts, for messages. */
    public static final String DURATION_EXPECTED = "a duration such as 30s, 500ms, 2m or 1h (a plain number is seconds)";
    /** What {@link #bool} accepts, for messages. */
    public static final String BOOLEAN_EXPECTED = "true or false";
    /** What {@link #gcPercent} accepts, for messages. */
    public static final String GC_PERCENT_EXPECTED = "an integer from " + TargetProperties.GC_PERCENT_MIN + " to "
            + TargetProperties.GC_PERCENT_MAX;
    /** What a part's name may look like (its provider's registered name). */
    public static final Pattern PART_NAME = Pattern.compile("[A-Za-z0-9_.-]{1,64}");
    /** {@link #PART_NAME}, for messages. */
    public static final String PART_NAME_RULE = "1-64 letters, digits, '_', '-' or '.'";

    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(?:([KMGT])(?:I?B)?|B)?");
    private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*(MS|S|M|H)?");

    private ConfigValues() {
    }

    /**
     * Parses a size: digits, optionally followed by K, M, G or T (powers of 1024; a trailing
     * {@code B} or {@code iB} is allowed, case does not matter).
     *
     * @throws IllegalArgumentException if it is malformed, zero or does not fit in a long
     */
    public static long sizeBytes(String value) {
        Matcher m = SIZE.matcher(value.trim().toUpperCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException(SIZE_EXPECTED);
        }
        int shift = m.group(2) == null ? 0 : 10 * ("KMGT".indexOf(m.group(2)) + 1);
        long number;
        try {
            number = Long.parseLong(m.group(1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(SIZE_EXPECTED + "; this one does not fit in 64 bits");
        }
        if (number == 0) {
            throw new IllegalArgumentException(SIZE_EXPECTED + "; zero is not a size");
        }
        if (number > (Long.MAX_VALUE >> shift)) {
            throw new IllegalArgumentException(SIZE_EXPECTED + "; this one does not fit in 64 bits");
        }
        return number << shift;
    }

    /**
     * Parses a non-negative duration: digits followed by ms, s, m or h; plain digits are seconds.
     *
     * @throws IllegalArgumentException if it is malformed or too large
     */
    public static Duration duration(String value) {
        Matcher m = DURATION.matcher(value.trim().toUpperCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException(DURATION_EXPECTED);
        }
        try {
            long n = Long.parseLong(m.group(1));
            String unit = m.group(2) == null ? "S" : m.group(2);
            Duration d = switch (unit) {
                case "MS" -> Duration.ofMillis(n);
                case "S" -> Duration.ofSeconds(n);
                case "M" -> Duration.ofMinutes(n);
                default -> Duration.ofHours(n);
            };
            d.toNanos(); // users count it in milliseconds and deadlines in nanoseconds: it must fit both
            return d;
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException(DURATION_EXPECTED + "; this one is too large");
        }
    }

    /**
     * Parses {@code true} or {@code false}, ignoring case (nothing else: "yes" or "1" are
     * mistakes worth reporting).
     */
    public static boolean bool(String value) {
        String v = value.trim();
        if (v.equalsIgnoreCase("true")) {
            return true;
        }
        if (v.equalsIgnoreCase("false")) {
            return false;
        }
        throw new IllegalArgumentException(BOOLEAN_EXPECTED);
    }

    /** Parses a GC threshold, an integer from {@value TargetProperties#GC_PERCENT_MIN} to {@value TargetProperties#GC_PERCENT_MAX}. */
    public static int gcPercent(String value) {
        try {
            int percent = Integer.parseInt(value.trim());
            if (isGcPercent(percent)) {
                return percent;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(GC_PERCENT_EXPECTED);
    }

    /** Whether {@code percent} is a GC threshold a cache accepts. */
    public static boolean isGcPercent(int percent) {
        return percent >= TargetProperties.GC_PERCENT_MIN && percent <= TargetProperties.GC_PERCENT_MAX;
    }
}
