package pcache.launcher;

import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The vocabulary of the configuration file: global keys and per-cache attributes. */
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

    public static final String CACHE_DEV = "cache_dev";
    public static final String CACHE_DEV_SIZE = "cache_dev_size";
    /**
     * The smallest cache device (512 MiB), the engine's {@code PcacheFormat.CACHE_DEV_SIZE_MIN}: the
     * launcher keeps the bundles' API off its class path, so ApiConsistencyTest holds the two equal.
     */
    public static final long CACHE_DEV_SIZE_MIN = 512L << 20;
    public static final String BACKING_DEV = "backing_dev";
    public static final String BACKING_DEV_SIZE = "backing_dev_size";
    public static final String CACHE_MODE = "cache_mode";
    public static final String DATA_CRC = "data_crc";
    public static final String GC_PERCENT = "gc_percent";
    public static final String PMEM = "pmem";
    public static final String WRITEBACK_POLICY = "writeback_policy";
    public static final String BACKING_IDENTITY = "backing_identity";
    public static final String FORCE_IDENTITY = "force_identity";
    public static final String BACKING_TIMEOUT = "backing_timeout";
    public static final String CRC = "crc";
    public static final String KEY_INDEX = "key_index";
    public static final String ALLOCATOR = "allocator";

    /** Every attribute a cache accepts, in documentation order. */
    public static final List<String> CACHE_ATTRIBUTES = List.of(CACHE_DEV, CACHE_DEV_SIZE, BACKING_DEV,
            BACKING_DEV_SIZE, CACHE_MODE, DATA_CRC, GC_PERCENT, PMEM, WRITEBACK_POLICY, BACKING_IDENTITY,
            FORCE_IDENTITY, BACKING_TIMEOUT, CRC, KEY_INDEX, ALLOCATOR);

    /**
     * Cache names double as NBD export names and ConfigAdmin names: keep them plain. The same rule
     * as pcache.target's ({@code [A-Za-z0-9_.-]{1,64}}) without the dot, which separates key parts.
     */
    public static final Pattern CACHE_NAME = Pattern.compile("[A-Za-z0-9_-]{1,64}");

    private static final Pattern CACHE_KEY = Pattern.compile("cache\\.([^.]*)\\.([^.]*)");

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
