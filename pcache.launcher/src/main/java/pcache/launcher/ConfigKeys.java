package pcache.launcher;

import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import pcache.api.config.CacheAttribute;
import pcache.api.config.ExportProperties;

/**
 * The vocabulary of the configuration file: global keys and the shape of per-cache keys. The
 * attributes themselves, and the cache-name rule, are pcache.api.config's.
 */
public final class ConfigKeys {

    /** Where relative paths and the framework cache live. */
    public static final String DATA = "pcache.data";
    /** Prefix of the NBD export's keys: {@code nbd.<property>}, the properties of pcache.api.config's ExportProperties. */
    public static final String NBD_PREFIX = "nbd.";
    /** The NBD server's listen address. */
    public static final String NBD_LISTEN = NBD_PREFIX + ExportProperties.LISTEN;
    /** TLS on the NBD export: off, on or require. */
    public static final String NBD_TLS = NBD_PREFIX + ExportProperties.TLS;
    /** The java.util.logging level of the whole process. */
    public static final String LOG_LEVEL = "log.level";
    /** Where the optional HTTP service (metrics) listens, {@code HOST:PORT}; absent: no HTTP at all. */
    public static final String HTTP_LISTEN = "http.listen";
    /**
     * The Web Console's credentials file (one line {@code USER:PASSWORD}, readable by its owner
     * only; relative to the data directory); absent: generated at the first start as
     * {@code console-credentials} in the data directory. Used with {@link #HTTP_LISTEN} only.
     */
    public static final String HTTP_CONSOLE_CREDENTIALS = "http.console_credentials";
    /**
     * Host names, comma-separated, that a request on a loopback address may name in its
     * {@code Host} header besides addresses, {@code localhost} (its usual aliases, names under
     * {@code .localhost}) and this machine's own name (a proxy on this machine that passes the
     * name on); any other name is refused as DNS rebinding. Used with
     * {@link #HTTP_LISTEN} only.
     */
    public static final String HTTP_ALLOWED_HOSTS = "http.allowed_hosts";
    /**
     * The dirty-data health check warns above this share of a cache's data capacity (a percentage;
     * configuration {@code pcache.health}, used with {@link #HTTP_LISTEN} only).
     */
    public static final String HEALTH_DIRTY_WARN_PERCENT = "health."
            + pcache.api.config.HealthProperties.DIRTY_WARN_PERCENT;

    /** The NBD export's keys, in documentation order. */
    public static final List<String> NBD = ExportProperties.ALL.stream().map(p -> NBD_PREFIX + p).toList();

    /** Keys outside {@code cache.<name>.}. */
    public static final Set<String> GLOBAL = global();

    /** Prefix of per-cache keys: {@code cache.<name>.<attribute>}. */
    public static final String CACHE_PREFIX = "cache.";

    /** Every attribute a cache accepts, in documentation order (pcache.api.config's CacheAttribute). */
    public static final List<String> CACHE_ATTRIBUTES = CacheAttribute.keys();

    /** The attribute is what follows the last dot (attributes have none); the name may hold dots. */
    private static final Pattern CACHE_KEY = Pattern.compile("cache\\.(.*)\\.([^.]*)");

    private ConfigKeys() {
    }

    private static Set<String> global() {
        Set<String> keys = new java.util.LinkedHashSet<>(List.of(DATA, LOG_LEVEL, HTTP_LISTEN, HTTP_CONSOLE_CREDENTIALS,
                HTTP_ALLOWED_HOSTS, HEALTH_DIRTY_WARN_PERCENT));
        keys.addAll(NBD);
        return java.util.Collections.unmodifiableSet(keys);
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
