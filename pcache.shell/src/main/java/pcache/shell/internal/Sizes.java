package pcache.shell.internal;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Byte counts for people ({@code 512 B}, {@code 4 GiB}, {@code 1.5 GiB}) and from them ({@code 512M}). */
final class Sizes {

    private static final String[] UNITS = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    /** What {@link #parse} accepts, for messages (the launcher's configuration file takes the same). */
    static final String EXPECTED = "a size such as 1G, 512M or 4096 (bytes; units K M G T are powers of 1024)";
    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(?:([KMGT])(?:I?B)?|B)?");

    private Sizes() {
    }

    static String human(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        int unit = (63 - Long.numberOfLeadingZeros(bytes)) / 10;
        long whole = bytes >> (10 * unit);
        if (whole << (10 * unit) == bytes) {
            return whole + " " + UNITS[unit];
        }
        return String.format(Locale.ROOT, "%.1f %s", bytes / Math.pow(1024, unit), UNITS[unit]);
    }

    /**
     * Parses a positive size: digits, optionally followed by K, M, G or T (powers of 1024; a
     * trailing {@code B} or {@code iB} is allowed, case does not matter).
     *
     * @throws IllegalArgumentException saying what is expected
     */
    static long parse(String value) {
        Matcher m = SIZE.matcher(value.trim().toUpperCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException(EXPECTED);
        }
        int shift = m.group(2) == null ? 0 : 10 * ("KMGT".indexOf(m.group(2)) + 1);
        long number;
        try {
            number = Long.parseLong(m.group(1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(EXPECTED + "; this one does not fit in 64 bits");
        }
        if (number == 0) {
            throw new IllegalArgumentException(EXPECTED + "; zero is not a size");
        }
        if (number > (Long.MAX_VALUE >> shift)) {
            throw new IllegalArgumentException(EXPECTED + "; this one does not fit in 64 bits");
        }
        return number << shift;
    }
}
