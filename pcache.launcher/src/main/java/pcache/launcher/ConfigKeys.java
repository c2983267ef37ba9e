package pcache.launcher;

import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import pcache.api.config.CacheAttribute;

/**
 * The vocabulary of the configuration file: global keys and the shape of per-cache keys. The
 * attributes themselves, and the cache-name rule, are pcache.api.config's.
 */
public final class ConfigKeys {

    /** Where relative paths and the framework cache live. */
    public static final String DATA = "pcache.data";
    /** The NBD server's listen address. */
    public static final String NBD_LISTEN = "nbd.listen";
    /** The java.util.logging level of the whole process. */
    public static final String LOG_LEVEL = "log.level";

    /** Keys outside {@code cache.<name>.}. */
    public static final Set<String> GLOBAL = Set.of(DATA, NBD_LISTEN, LOG_LEVEL);

    /** Prefix of per-cache keys: {@code cache.<name>.<attribute>}. */
    public static final String CACHE_PREFIX = "cache.";

    /** Every attribute a cache accepts, in documentation order (pcache.api.config's CacheAttribute). */
    public static final List<String> CACHE_ATTRIBUTES = CacheAttribute.keys();

    /** The attribute is what follows the last dot (attributes have none); the name may hold dots. */
    private static final Pattern CACHE_KEY = Pattern.compile("cache\\.(.*)\\.([^.]*)");

    private ConfigKeys() {
    }

    /** A key of the form {@code cache.<name>.<attribute>}, split (neither part validated). */
    public record CacheKey(String cacheName, String attribute) {
        /** The full key. */
        public String key() {
            return CACHE_PREFIX + cacheName + "." + attribute;
        }
    }

    /** Splits {@code cache.<name>.<attribute>}; empty when the key has another shape. */
    public static Optional<CacheKey> cacheKey(String key) {
        Matcher m = CACHE_KEY.matcher(key);
        return m.matches() ? Optional.of(new CacheKey(m.group(1), m.group(2))) : Optional.empty();
    }

    /** True for keys that belong to the pcache configuration (known or not). */
    public static boolean isConfigurationKey(String key) {
        return GLOBAL.contains(key) || key.startsWith(CACHE_PREFIX);
    }
}
