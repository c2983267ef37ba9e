package pcache.engine.internal.image;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What one scan of an image writes as it goes: the readable dump, the summary lines, the errors
 * (the cache cannot be used or data is lost) and the warnings (the cache recovers). The parts of
 * the scan share one report, so lines and problems keep the order in which the image was read.
 */
final class ScanReport {

    private final StringBuilder dump = new StringBuilder();
    private final List<String> summary = new ArrayList<>();
    private final List<String> errors = new ArrayList<>();
    private final List<String> warnings = new ArrayList<>();

    /** Appends a formatted line to the dump. */
    void line(String format, Object... args) {
        dump.append(String.format(Locale.ROOT, format, args)).append('\n');
    }

    void error(String format, Object... args) {
        errors.add(String.format(Locale.ROOT, format, args));
    }

    void warning(String format, Object... args) {
        warnings.add(String.format(Locale.ROOT, format, args));
    }

    void summary(String line) {
        summary.add(line);
    }

    String dump() {
        return dump.toString();
    }

    List<String> summary() {
        return summary;
    }

    List<String> errors() {
        return errors;
    }

    List<String> warnings() {
        return warnings;
    }

    /** {@code 512 B}, {@code 1.5 MiB}: a byte count for people. */
    static String human(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    /** Problems as a readable block ({@code problems: none} when there are none). */
    String problems() {
        StringBuilder out = new StringBuilder();
        if (errors.isEmpty() && warnings.isEmpty()) {
            return "problems: none\n";
        }
        if (!errors.isEmpty()) {
            out.append("errors (").append(errors.size()).append("):\n");
            errors.forEach(e -> out.append("  - ").append(e).append('\n'));
        }
        if (!warnings.isEmpty()) {
            out.append("warnings (").append(warnings.size()).append("):\n");
            warnings.forEach(w -> out.append("  - ").append(w).append('\n'));
        }
        return out.toString();
    }
}
