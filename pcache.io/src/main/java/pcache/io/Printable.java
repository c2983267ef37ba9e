package pcache.io;

/** Strings a peer supplied (an export name, a PSK identity), made safe to show in a log line. */
public final class Printable {

    /** Characters of a peer-supplied string shown in a log line or message; the rest is cut. */
    public static final int MAX_SHOWN_CHARS = 256;

    private Printable() {
    }

    /**
     * {@code s} made safe to put in a log line or an error message: control, line-separator and
     * format characters (which could start a forged log line or reorder the text, e.g. U+202E)
     * are shown as Java-style unicode escapes, and at most {@link #MAX_SHOWN_CHARS} characters
     * are shown.
     */
    public static String of(String s) {
        return of(s, MAX_SHOWN_CHARS);
    }

    /**
     * {@code s} made safe as {@link #of(String)} makes it, showing at most {@code maxShownChars}
     * characters: for a message of pcache's own that carries a peer's or a user's values.
     */
    public static String of(String s, int maxShownChars) {
        StringBuilder b = new StringBuilder(Math.min(s.length(), maxShownChars) + 16);
        int shown = Math.min(s.length(), maxShownChars);
        for (int i = 0; i < shown; i++) {
            char c = s.charAt(i);
            if (Character.isISOControl(c) || c == '\u2028' || c == '\u2029' || Character.getType(c) == Character.FORMAT
                    || Character.isSurrogate(c) && !validSurrogateAt(s, i)) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        if (s.length() > shown) {
            b.append("...(").append(s.length()).append(" characters)");
        }
        return b.toString();
    }

    private static boolean validSurrogateAt(String s, int i) {
        char c = s.charAt(i);
        return Character.isHighSurrogate(c) ? i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))
                : i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
    }
}
