package pcache.shell.internal;

import java.util.Locale;

/** Byte counts for people ({@code 512 B}, {@code 4 GiB}, {@code 1.5 GiB}); sizes people write are parsed by pcache.api.config's ConfigValues. */
final class Sizes {

    private static final String[] UNITS = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};

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
}
