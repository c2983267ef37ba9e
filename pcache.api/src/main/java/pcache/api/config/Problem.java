package pcache.api.config;

/**
 * One problem of a cache definition. Each front end spells the key its own way (the
 * configuration file's {@code cache.<name>.<key>}, {@code pcache:create}'s {@code KEY}); the
 * value and what to do are the same everywhere.
 *
 * @param attribute the attribute it concerns; null for the cache's name
 * @param value the value given; null when the attribute is missing
 * @param text what to do, e.g. {@code expected an integer from 0 to 90}
 */
public record Problem(CacheAttribute attribute, String value, String text) {

    static Problem expected(CacheAttribute attribute, String value, String expected) {
        return new Problem(attribute, value, "expected " + expected);
    }

    /** Whether the attribute is missing (it is required). */
    public boolean missing() {
        return value == null;
    }

    /** {@code key=value: text}, or {@code key is missing: text}. */
    public String render(String key) {
        return missing() ? key + " is missing: " + text : key + "=" + value + ": " + text;
    }
}
