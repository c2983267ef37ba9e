package pcache.webconsole.internal;

/** The little JSON the pcache page needs: string and number fields, escaped. */
final class Json {

    private Json() {
    }

    /** {@code "name":"value"}, the value escaped. */
    static String field(String name, String value) {
        return quote(name) + ":" + (value == null ? "null" : quote(value));
    }

    /** {@code "name":value}. */
    static String field(String name, long value) {
        return quote(name) + ":" + value;
    }

    /** {@code "name":value}; NaN and infinities as 0. */
    static String field(String name, double value) {
        return quote(name) + ":" + (Double.isFinite(value) ? Double.toString(value) : "0");
    }

    /** A JSON string: quotes, backslashes, control characters and {@code <} escaped (safe inside HTML too). */
    static String quote(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == '\u2028' || c == '\u2029') {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
