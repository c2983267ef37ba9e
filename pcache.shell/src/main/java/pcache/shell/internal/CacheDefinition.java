package pcache.shell.internal;

import java.nio.charset.StandardCharsets;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import pcache.api.CacheDevice;
import pcache.api.CacheMode;
import pcache.api.spi.BackingDevice;
import pcache.api.spi.BackingIdentity;
import pcache.api.spi.CrcProvider;
import pcache.api.spi.KeyIndexProvider;
import pcache.api.spi.PmemProvider;
import pcache.api.spi.SegmentAllocatorProvider;
import pcache.api.spi.WritebackPolicy;

/**
 * A cache to create, from {@code pcache:create NAME key=value...}, and the ConfigAdmin
 * configurations that make it. They are the ones pcache.launcher's ConfigAdminMapping makes for a
 * cache of its configuration file (the launcher is not a bundle, so its rules are restated here):
 * <ul>
 * <li>the backing device, a factory configuration named {@code <name>.backing} of
 * {@value #BACKING_FILE_PID} ({@code name, path, size_bytes, create[, identity]}) or
 * {@value #BACKING_NBD_PID} ({@code name, uri[, identity]});</li>
 * <li>the cache, a factory configuration named {@code <name>} of {@value #TARGET_PID} whose
 * reference targets select that backing device, the pmem mapping, the write-back policy, the CRC
 * provider, the key index and the segment allocator.</li>
 * </ul>
 * The parts are chosen by name among the services registered now ({@link InstalledParts}): there is
 * no list of them to keep up to date.
 *
 * @param name the cache's name
 * @param cacheDev absolute path of the cache device
 * @param cacheDevSizeBytes size to create a missing cache device with; 0 = it must exist
 * @param backing the backing device
 * @param backingSizeBytes size to create a missing backing file with; 0 = it must exist
 * @param mode the cache mode
 * @param dataCrc whether cached data carries a CRC
 * @param gcPercent the GC threshold
 * @param pmem the pmem provider type
 * @param policy the write-back policy
 * @param identity the backing device's identity label, or null for its default identity
 * @param crc the CRC provider's algorithm
 * @param keyIndex the key index provider
 * @param allocator the segment allocator provider
 */
record CacheDefinition(String name, Path cacheDev, long cacheDevSizeBytes, BackingTarget backing,
        long backingSizeBytes, CacheMode mode, boolean dataCrc, int gcPercent, String pmem, String policy,
        String identity, String crc, String keyIndex, String allocator) {

    static final String TARGET_PID = "pcache.target";
    static final String BACKING_FILE_PID = "pcache.backing.file";
    static final String BACKING_NBD_PID = "pcache.backing.nbd";

    /** Service property the {@code backing.target} filter selects on. */
    static final String BACKING_NAME_PROPERTY = BackingDevice.NAME;

    /** Cache names double as NBD export names and ConfigAdmin names: keep them plain. */
    static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-]+");
    static final List<String> KEYS = List.of("cache_dev", "backing", "cache_dev_size", "backing_size", "mode",
            "data_crc", "gc_percent", "pmem", "policy", "identity", "crc", "key_index", "allocator");
    /** What a part's name may be: it goes into an LDAP filter unescaped. */
    private static final Pattern PART_NAME = Pattern.compile("[A-Za-z0-9_.-]+");
    /** The parts a cache gets when its definition names none (the target's own defaults). */
    static final String DEFAULT_PMEM = "mapped";
    static final String DEFAULT_POLICY = "ordered";
    static final String DEFAULT_CRC = CrcProvider.PCACHE_CRC32C;
    static final String DEFAULT_KEY_INDEX = "striped";
    static final String DEFAULT_ALLOCATOR = "fifo";
    /** dm-pcache's smallest cache device. */
    static final long CACHE_DEV_SIZE_MIN = 512L << 20;
    /** How long requests wait for a missing backing device (the launcher's default). */
    static final long BACKING_TIMEOUT_MS = 30_000;

    /**
     * Parses {@code name} and the {@code key=value} arguments; relative paths are resolved against
     * {@code cwd}; the parts named must be among those {@code installed}.
     *
     * @throws IllegalArgumentException listing every problem, each with what is expected
     */
    static CacheDefinition parse(String name, List<String> keyValues, Path cwd, InstalledParts installed) {
        List<String> problems = new ArrayList<>();
        checkName(name, problems);
        Map<String, String> values = new LinkedHashMap<>();
        for (String kv : keyValues) {
            int eq = kv.indexOf('=');
            String key = eq < 0 ? kv : kv.substring(0, eq);
            if (eq < 0 || !KEYS.contains(key)) {
                problems.add("'" + kv + "': expected KEY=VALUE with KEY one of " + String.join(", ", KEYS));
            } else if (values.put(key, kv.substring(eq + 1)) != null) {
                problems.add(key + " is given twice");
            }
        }
        Path cacheDev = null;
        if (!values.containsKey("cache_dev")) {
            problems.add("cache_dev=PATH is missing: the path of the cache device");
        } else {
            cacheDev = path("cache_dev", values.get("cache_dev"), cwd, problems);
        }
        BackingTarget backing = null;
        if (!values.containsKey("backing")) {
            problems.add("backing=... is missing: expected " + BackingTarget.EXPECTED);
        } else {
            try {
                backing = BackingTarget.parse(values.get("backing"), cwd);
            } catch (IllegalArgumentException e) {
                problems.add(e.getMessage());
            }
        }
        long cacheDevSize = size("cache_dev_size", values.get("cache_dev_size"), problems);
        if (cacheDevSize > 0 && cacheDevSize < CACHE_DEV_SIZE_MIN) {
            problems.add("cache_dev_size=" + values.get("cache_dev_size") + ": expected at least 512M (dm-pcache's"
                    + " smallest cache device)");
        }
        long backingSize = size("backing_size", values.get("backing_size"), problems);
        if (backingSize > 0 && backing instanceof BackingTarget.NbdTarget) {
            problems.add("backing_size=" + values.get("backing_size") + ": an NBD backing device has the size of its"
                    + " export; leave backing_size out");
        }
        if (backingSize % 512 != 0) {
            problems.add("backing_size=" + values.get("backing_size") + ": expected a multiple of 512 bytes");
        }
        CacheMode mode = CacheMode.WRITEBACK;
        try {
            mode = CacheMode.parse(values.getOrDefault("mode", "writeback"));
        } catch (IllegalArgumentException e) {
            problems.add("mode=" + values.get("mode") + ": " + e.getMessage());
        }
        boolean dataCrc = bool("data_crc", values.getOrDefault("data_crc", "false"), problems);
        int gcPercent = gcPercent(values.getOrDefault("gc_percent", Integer.toString(CacheDevice.GC_PERCENT_DEFAULT)),
                problems);
        String pmem = part("pmem", values.getOrDefault("pmem", DEFAULT_PMEM), "pmem mapping", installed.pmem(),
                problems);
        String policy = part("policy", values.getOrDefault("policy", DEFAULT_POLICY), "write-back policy",
                installed.policies(), problems);
        String crc = part("crc", values.getOrDefault("crc", DEFAULT_CRC), "CRC provider", installed.crcs(), problems);
        String keyIndex = part("key_index", values.getOrDefault("key_index", DEFAULT_KEY_INDEX), "key index",
                installed.keyIndexes(), problems);
        String allocator = part("allocator", values.getOrDefault("allocator", DEFAULT_ALLOCATOR), "segment allocator",
                installed.allocators(), problems);
        String identity = values.get("identity");
        if (identity != null && (identity.isEmpty()
                || identity.getBytes(StandardCharsets.UTF_8).length > BackingIdentity.MAX_ID_BYTES)) {
            problems.add("identity=" + identity + ": expected a label of 1 to " + BackingIdentity.MAX_ID_BYTES
                    + " bytes (leave it out for the device's default identity)");
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("cannot create cache '" + name + "': " + String.join("; ", problems));
        }
        return new CacheDefinition(name, cacheDev, cacheDevSize, backing, backingSize, mode, dataCrc, gcPercent, pmem,
                policy, identity, crc, keyIndex, allocator);
    }

    static void checkName(String name, List<String> problems) {
        if (name == null || !NAME.matcher(name).matches()) {
            problems.add("cache name '" + name + "': expected letters, digits, '_' and '-' only");
        }
    }

    private static Path path(String key, String value, Path cwd, List<String> problems) {
        if (value.isEmpty()) {
            problems.add(key + "=: expected a path");
            return null;
        }
        try {
            return cwd.resolve(value).toAbsolutePath().normalize();
        } catch (InvalidPathException e) {
            problems.add(key + "=" + value + ": expected a path (" + e.getReason() + ")");
            return null;
        }
    }

    private static long size(String key, String value, List<String> problems) {
        if (value == null) {
            return 0;
        }
        try {
            return Sizes.parse(value);
        } catch (IllegalArgumentException e) {
            problems.add(key + "=" + value + ": expected " + e.getMessage());
            return 0;
        }
    }

    private static boolean bool(String key, String value, List<String> problems) {
        if (value.equalsIgnoreCase("true")) {
            return true;
        }
        if (!value.equalsIgnoreCase("false")) {
            problems.add(key + "=" + value + ": expected true or false");
        }
        return false;
    }

    /** Parses a GC threshold, adding a problem when it is not an integer from 0 to 90. */
    static int gcPercent(String value, List<String> problems) {
        try {
            int percent = Integer.parseInt(value.trim());
            if (percent >= CacheDevice.GC_PERCENT_MIN && percent <= CacheDevice.GC_PERCENT_MAX) {
                return percent;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        problems.add("gc_percent " + value + ": expected an integer from " + CacheDevice.GC_PERCENT_MIN + " to "
                + CacheDevice.GC_PERCENT_MAX);
        return CacheDevice.GC_PERCENT_DEFAULT;
    }

    /** The name of this cache's backing-device configuration and service. */
    String backingName() {
        return name + ".backing";
    }

    /** The backing device's configuration (factory PID {@link BackingTarget#pid()}, named {@link #backingName()}). */
    Map<String, Object> backingProperties() {
        return backingProperties(backingName(), backing, backingSizeBytes, identity);
    }

    /** A backing-device configuration, as the launcher makes it. */
    static Map<String, Object> backingProperties(String backingName, BackingTarget backing, long sizeBytes,
            String identity) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("name", backingName);
        if (backing instanceof BackingTarget.FileTarget file) {
            p.put("path", file.path().toString());
            p.put("size_bytes", sizeBytes);
            p.put("create", sizeBytes > 0);
        } else {
            p.put("uri", ((BackingTarget.NbdTarget) backing).uri().toString());
        }
        if (identity != null) {
            p.put("identity", identity);
        }
        return p;
    }

    /** The cache's configuration (factory PID {@value #TARGET_PID}, named {@link #name()}). */
    Map<String, Object> targetProperties() {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("name", name);
        p.put("cache_dev", cacheDev.toString());
        p.put("cache_dev_size_bytes", cacheDevSizeBytes);
        p.put("cache_mode", mode.configName());
        p.put("data_crc", dataCrc);
        p.put("gc_percent", gcPercent);
        p.put("backing.target", backingFilter(backingName()));
        p.put("pmem.target", filter(PmemProvider.TYPE, pmem));
        p.put("writeback.target", filter(WritebackPolicy.NAME, policy));
        p.put("crc.target", filter(CrcProvider.ALGORITHM, crc));
        p.put("keyindex.target", filter(KeyIndexProvider.NAME, keyIndex));
        p.put("allocator.target", filter(SegmentAllocatorProvider.NAME, allocator));
        p.put("force_identity", false);
        p.put("backing_timeout_ms", BACKING_TIMEOUT_MS);
        return p;
    }

    /**
     * A part chosen by name: {@code value} must be a plain name and one of the {@code installed}
     * services of its kind; the problem names what is registered (or that nothing is).
     */
    private static String part(String key, String value, String what, List<String> installed, List<String> problems) {
        if (!PART_NAME.matcher(value).matches()) {
            problems.add(key + "=" + value + ": expected the name of a " + what + " (letters, digits, '_', '-', '.')");
        } else if (!installed.contains(value)) {
            problems.add(key + "=" + value + ": no " + what + " named '" + value + "' is registered; "
                    + (installed.isEmpty() ? "none is (is its bundle started?)" : "registered: "
                    + String.join(", ", installed)));
        }
        return value;
    }

    /** The {@code backing.target} filter selecting backing device {@code backingName}. */
    static String backingFilter(String backingName) {
        return filter(BACKING_NAME_PROPERTY, backingName);
    }

    /** Values are validated names ([A-Za-z0-9_.-]), so they need no LDAP escaping. */
    private static String filter(String property, String value) {
        return "(" + property + "=" + value + ")";
    }
}
