package pcache.api.config;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The attributes of a cache definition: the keys {@code cache.<name>.<key>} of the configuration
 * file, and (where offered) the {@code KEY=VALUE} arguments of {@code pcache:create}, which spells
 * some of them shorter.
 */
public enum CacheAttribute {
    CACHE_DEV("cache_dev", "cache_dev", true),
    CACHE_DEV_SIZE("cache_dev_size", "cache_dev_size", false),
    BACKING_DEV("backing_dev", "backing", true),
    BACKING_DEV_SIZE("backing_dev_size", "backing_size", false),
    CACHE_MODE("cache_mode", "mode", false),
    DATA_CRC("data_crc", "data_crc", false),
    GC_PERCENT("gc_percent", "gc_percent", false),
    PMEM("pmem", "pmem", false),
    WRITEBACK_POLICY("writeback_policy", "policy", false),
    BACKING_IDENTITY("backing_identity", "identity", false),
    FORCE_IDENTITY("force_identity", null, false),
    BACKING_TIMEOUT("backing_timeout", null, false),
    CRC("crc", "crc", false),
    KEY_INDEX("key_index", "key_index", false),
    ALLOCATOR("allocator", "allocator", false);

    private final String key;
    private final String createKey;
    private final boolean required;

    CacheAttribute(String key, String createKey, boolean required) {
        this.key = key;
        this.createKey = createKey;
        this.required = required;
    }

    /** Its key in the configuration file ({@code cache.<name>.<key>}). */
    public String key() {
        return key;
    }

    /** Its key in {@code pcache:create}; empty when the command does not offer it. */
    public Optional<String> createKey() {
        return Optional.ofNullable(createKey);
    }

    /** Whether every definition must give it. */
    public boolean required() {
        return required;
    }

    /** The attribute whose configuration-file key is {@code key}. */
    public static Optional<CacheAttribute> byKey(String key) {
        for (CacheAttribute a : values()) {
            if (a.key.equals(key)) {
                return Optional.of(a);
            }
        }
        return Optional.empty();
    }

    /** The attribute whose {@code pcache:create} key is {@code key}. */
    public static Optional<CacheAttribute> byCreateKey(String key) {
        for (CacheAttribute a : values()) {
            if (key.equals(a.createKey)) {
                return Optional.of(a);
            }
        }
        return Optional.empty();
    }

    /** Every configuration-file key, in documentation order. */
    public static List<String> keys() {
        List<String> keys = new ArrayList<>();
        for (CacheAttribute a : values()) {
            keys.add(a.key);
        }
        return keys;
    }

    /** Every {@code pcache:create} key, the required ones first. */
    public static List<String> createKeys() {
        List<String> keys = new ArrayList<>();
        for (boolean required : new boolean[] {true, false}) {
            for (CacheAttribute a : values()) {
                if (a.required == required && a.createKey != null) {
                    keys.add(a.createKey);
                }
            }
        }
        return keys;
    }
}
