package pcache.api.config;

import java.util.regex.Pattern;

/**
 * The one rule for cache names: 1 to 64 letters, digits, {@code _}, {@code -} or {@code .}.
 *
 * <p>A name is a ConfigAdmin factory configuration name, the CacheDevice service property
 * {@code pcache.cache.name}, the NBD export name, part of a JMX object name and of thread names;
 * it never needs quoting in any of them. The dot is allowed because the cache target has always
 * accepted it (a cache configured through ConfigAdmin with a dot in its name opens today and must
 * keep opening); the configuration file splits {@code cache.<name>.<attribute>} at the last dot,
 * so such names are writable there too.
 */
public final class CacheNames {

    /** The rule, as a regular expression. */
    public static final Pattern PATTERN = Pattern.compile("[A-Za-z0-9_.-]{1,64}");
    /** The rule, for messages. */
    public static final String RULE = "1-64 letters, digits, '_', '-' or '.'";

    private CacheNames() {
    }

    /** Whether {@code name} follows the rule. */
    public static boolean isValid(String name) {
        return name != null && PATTERN.matcher(name).matches();
    }

    /** The name of a cache's backing-device configuration and service. */
    public static String backingName(String cacheName) {
        return cacheName + ".backing";
    }
}
