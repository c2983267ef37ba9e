package pcache.api.config;

import java.util.Optional;

/** LDAP filters (RFC 1960, as OSGi uses them) for the reference targets of a cache. */
public final class LdapFilters {

    private LdapFilters() {
    }

    /** {@code value} with the characters special in a filter value ({@code \ * ( )}) escaped with a backslash. */
    public static String escape(String value) {
        StringBuilder b = new StringBuilder(value.length() + 8);
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '\\' || c == '*' || c == '(' || c == ')') {
                b.append('\\');
            }
            b.append(c);
        }
        return b.toString();
    }

    /** The filter {@code (attribute=value)}, with {@code value} escaped. */
    public static String equal(String attribute, String value) {
        return "(" + attribute + "=" + escape(value) + ")";
    }

    /**
     * The value of a filter of the form {@code (attribute=value)} (as {@link #equal} makes it),
     * unescaped; empty for a filter of any other form (a wildcard, a composite filter, another
     * attribute).
     */
    public static Optional<String> equalValue(String filter, String attribute) {
        String f = filter == null ? "" : filter.trim();
        String head = "(" + attribute + "=";
        if (!f.startsWith(head) || !f.endsWith(")")) {
            return Optional.empty();
        }
        String escaped = f.substring(head.length(), f.length() - 1);
        StringBuilder value = new StringBuilder(escaped.length());
        for (int i = 0; i < escaped.length(); i++) {
            char c = escaped.charAt(i);
            if (c == '\\') {
                if (++i == escaped.length()) {
                    return Optional.empty();
                }
                value.append(escaped.charAt(i));
            } else if (c == '*' || c == '(' || c == ')') {
                return Optional.empty();
            } else {
                value.append(c);
            }
        }
        return value.length() == 0 ? Optional.empty() : Optional.of(value.toString());
    }
}
