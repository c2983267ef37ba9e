package pcache.api.config;

import java.nio.charset.StandardCharsets;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

import pcache.api.CacheMode;
import pcache.api.spi.BackingDevice;
import pcache.api.spi.BackingIdentity;

/**
 * One cache, validated: what the configuration file's {@code cache.<name>.*} keys or
 * {@code pcache:create}'s arguments define, and the ConfigAdmin configurations that make it:
 * <ul>
 * <li>the backing device, a factory configuration named {@code <name>.backing} of
 * {@value ConfigPids#BACKING_FILE} ({@code name, path, size_bytes, create[, identity]}) or
 * {@value ConfigPids#BACKING_NBD} ({@code name, uri[, identity]});</li>
 * <li>the cache, a factory configuration named {@code <name>} of {@value ConfigPids#TARGET} whose
 * reference targets select that backing device and each {@link CachePart}.</li>
 * </ul>
 *
 * @param name the cache's name ({@link CacheNames})
 * @param cacheDev absolute path of the cache device
 * @param cacheDevSizeBytes size to create a missing cache device with; 0 = it must exist
 * @param backing the backing device
 * @param backingSizeBytes size to create a missing backing file with; 0 = it must exist (always 0 for NBD)
 * @param mode the cache mode
 * @param dataCrc whether cached data carries a CRC
 * @param gcPercent the GC threshold
 * @param parts the name of each part
 * @param backingIdentity the backing device's identity label, if given
 * @param forceIdentity accept a backing device whose identity differs from the recorded one
 * @param backingTimeout how long requests wait for an unavailable backing device
 */
public record CacheDefinition(String name, Path cacheDev, long cacheDevSizeBytes, BackingLocation backing,
        long backingSizeBytes, CacheMode mode, boolean dataCrc, int gcPercent, Map<CachePart, String> parts,
        Optional<String> backingIdentity, boolean forceIdentity, Duration backingTimeout) {

    /** What a cache device size must be, for messages. */
    public static final String CACHE_DEV_SIZE_EXPECTED = "at least 512M: the smallest cache device dm-pcache's"
            + " format allows (512 MiB)";
    /** What an identity label must be, for messages. */
    public static final String IDENTITY_EXPECTED = "a label of 1 to " + BackingIdentity.MAX_ID_BYTES
            + " bytes of UTF-8 (leave the key out for the device's default identity)";

    public CacheDefinition {
        parts = Collections.unmodifiableMap(new EnumMap<>(parts));
    }

    /** The default name of every part. */
    public static Map<CachePart, String> defaultParts() {
        Map<CachePart, String> parts = new EnumMap<>(CachePart.class);
        for (CachePart p : CachePart.values()) {
            parts.put(p, p.defaultName());
        }
        return parts;
    }

    /** The name of the part of {@code kind}. */
    public String part(CachePart kind) {
        return parts.get(kind);
    }

    /** The outcome of {@link #parse}: a definition, or every problem found. */
    public record Parsed(Optional<CacheDefinition> definition, List<Problem> problems) {
        public Parsed {
            problems = List.copyOf(problems);
        }
    }

    /**
     * Validates a cache definition. Missing optional attributes take their defaults; relative
     * paths are resolved against {@code base}. Whether each named part is registered is not
     * checked here (see {@link CachePart#notRegistered}).
     *
     * @param name the cache's name
     * @param values the attributes given, as text
     * @param base the directory relative paths are relative to
     * @return the definition, or every problem (each naming its attribute, the value and what to do)
     */
    public static Parsed parse(String name, Map<CacheAttribute, String> values, Path base) {
        return new Parser(values, base).parse(name);
    }

    /** Turns text into typed values, collecting problems. */
    private static final class Parser {
        private final Map<CacheAttribute, String> values;
        private final Path base;
        private final List<Problem> problems = new ArrayList<>();

        Parser(Map<CacheAttribute, String> values, Path base) {
            this.values = values;
            this.base = base;
        }

        Parsed parse(String name) {
            if (!CacheNames.isValid(name)) {
                problems.add(Problem.expected(null, name, CacheNames.RULE));
            }
            Path cacheDev = required(CacheAttribute.CACHE_DEV, "the path of its cache device") ? path() : null;
            long cacheDevSize = size(CacheAttribute.CACHE_DEV_SIZE);
            if (cacheDevSize > 0 && cacheDevSize < TargetProperties.CACHE_DEV_SIZE_MIN) {
                problem(CacheAttribute.CACHE_DEV_SIZE, CACHE_DEV_SIZE_EXPECTED);
            }
            BackingLocation backing = required(CacheAttribute.BACKING_DEV, BackingLocation.EXPECTED) ? backing() : null;
            long backingSize = backingSize(backing);
            CacheMode mode = mode();
            boolean dataCrc = bool(CacheAttribute.DATA_CRC, TargetProperties.DATA_CRC_DEFAULT);
            int gcPercent = gcPercent();
            Map<CachePart, String> parts = parts();
            Optional<String> identity = identity();
            boolean force = bool(CacheAttribute.FORCE_IDENTITY, TargetProperties.FORCE_IDENTITY_DEFAULT);
            Duration timeout = timeout();
            if (!problems.isEmpty()) {
                return new Parsed(Optional.empty(), problems);
            }
            return new Parsed(Optional.of(new CacheDefinition(name, cacheDev, cacheDevSize, backing, backingSize, mode,
                    dataCrc, gcPercent, parts, identity, force, timeout)), List.of());
        }

        private void problem(CacheAttribute a, String expected) {
            problems.add(Problem.expected(a, values.get(a), expected));
        }

        private boolean required(CacheAttribute a, String expected) {
            if (!values.containsKey(a)) {
                problems.add(Problem.expected(a, null, expected));
                return false;
            }
            return true;
        }

        private Path path() {
            String value = values.get(CacheAttribute.CACHE_DEV);
            if (value.isBlank()) {
                problem(CacheAttribute.CACHE_DEV, "a path");
                return null;
            }
            try {
                return base.resolve(value.trim()).toAbsolutePath().normalize();
            } catch (InvalidPathException e) {
                problem(CacheAttribute.CACHE_DEV, "a path (" + e.getReason() + ")");
                return null;
            }
        }

        private BackingLocation backing() {
            try {
                BackingLocation location = BackingLocation.parse(values.get(CacheAttribute.BACKING_DEV).trim(), base);
                if (location instanceof BackingLocation.Nbd nbd) {
                    // the device would take a relative socket from its working directory, not from
                    // base as every other relative path, and refuses relative TLS files after start
                    String relative = nbd.relativePath();
                    if (relative != null) {
                        problem(CacheAttribute.BACKING_DEV, "an absolute path in " + relative + " (a path inside"
                                + " an NBD URI is not resolved against the data directory; write it in full)");
                        return null;
                    }
                }
                return location;
            } catch (IllegalArgumentException e) {
                problem(CacheAttribute.BACKING_DEV, e.getMessage());
                return null;
            }
        }

        private long backingSize(BackingLocation backing) {
            if (backing instanceof BackingLocation.Nbd && values.containsKey(CacheAttribute.BACKING_DEV_SIZE)) {
                problem(CacheAttribute.BACKING_DEV_SIZE, "no size: an NBD backing device has the size of its"
                        + " export (leave the key out)");
                return 0;
            }
            long size = size(CacheAttribute.BACKING_DEV_SIZE);
            if (size % 512 != 0) {
                problem(CacheAttribute.BACKING_DEV_SIZE, "a multiple of 512 bytes");
            }
            return size;
        }

        private long size(CacheAttribute a) {
            String value = values.get(a);
            if (value == null) {
                return 0;
            }
            try {
                return ConfigValues.sizeBytes(value);
            } catch (IllegalArgumentException e) {
                problem(a, e.getMessage());
                return 0;
            }
        }

        private CacheMode mode() {
            String value = values.getOrDefault(CacheAttribute.CACHE_MODE, TargetProperties.CACHE_MODE_DEFAULT);
            for (CacheMode m : CacheMode.values()) {
                if (m.configName().equals(value.trim().toLowerCase(Locale.ROOT))) {
                    return m;
                }
            }
            List<String> names = new ArrayList<>();
            for (CacheMode m : CacheMode.values()) {
                names.add(m.configName());
            }
            problem(CacheAttribute.CACHE_MODE, "one of " + String.join(", ", names));
            return CacheMode.WRITEBACK;
        }

        private boolean bool(CacheAttribute a, boolean defaultValue) {
            String value = values.get(a);
            if (value == null) {
                return defaultValue;
            }
            try {
                return ConfigValues.bool(value);
            } catch (IllegalArgumentException e) {
                problem(a, e.getMessage());
                return defaultValue;
            }
        }

        private int gcPercent() {
            String value = values.get(CacheAttribute.GC_PERCENT);
            if (value == null) {
                return TargetProperties.GC_PERCENT_DEFAULT;
            }
            try {
                return ConfigValues.gcPercent(value);
            } catch (IllegalArgumentException e) {
                problem(CacheAttribute.GC_PERCENT, e.getMessage());
                return TargetProperties.GC_PERCENT_DEFAULT;
            }
        }

        private Map<CachePart, String> parts() {
            Map<CachePart, String> parts = new EnumMap<>(CachePart.class);
            for (CachePart p : CachePart.values()) {
                String value = values.getOrDefault(p.attribute(), p.defaultName()).trim();
                if (!ConfigValues.PART_NAME.matcher(value).matches()) {
                    problem(p.attribute(), "the name of a " + p.what() + " (" + ConfigValues.PART_NAME_RULE + ")");
                }
                parts.put(p, value);
            }
            return parts;
        }

        private Optional<String> identity() {
            String value = values.get(CacheAttribute.BACKING_IDENTITY);
            if (value == null) {
                return Optional.empty();
            }
            if (value.isEmpty() || value.getBytes(StandardCharsets.UTF_8).length > BackingIdentity.MAX_ID_BYTES) {
                problem(CacheAttribute.BACKING_IDENTITY, IDENTITY_EXPECTED);
            }
            return Optional.of(value);
        }

        private Duration timeout() {
            String value = values.get(CacheAttribute.BACKING_TIMEOUT);
            Duration timeout = Duration.ofMillis(TargetProperties.BACKING_TIMEOUT_MS_DEFAULT);
            if (value != null) {
                try {
                    timeout = ConfigValues.duration(value);
                    if (timeout.toMillis() <= 0 || timeout.toMillis() > TargetProperties.BACKING_TIMEOUT_MS_MAX) {
                        // the cache refuses it: say so here, before anything starts
                        problem(CacheAttribute.BACKING_TIMEOUT, "a duration of at least 1ms and at most 87600h"
                                + " (requests that need the backing device wait that long for one)");
                    }
                } catch (IllegalArgumentException e) {
                    problem(CacheAttribute.BACKING_TIMEOUT, e.getMessage());
                }
            }
            return timeout;
        }
    }

    // ---------------------------------------------------------------- the ConfigAdmin mapping

    /** The name of this cache's backing-device configuration and service. */
    public String backingName() {
        return CacheNames.backingName(name);
    }

    /** The backing device's configuration (factory PID {@code backing().pid()}, named {@link #backingName()}). */
    public Map<String, Object> backingProperties() {
        return backingProperties(backingName(), backing, backingSizeBytes, backingIdentity);
    }

    /**
     * A backing-device configuration's properties.
     *
     * @param backingName the device's name
     * @param backing where it is
     * @param sizeBytes size to create a missing file with; 0 = it must exist (ignored for NBD)
     * @param identity its identity label, if any
     */
    public static Map<String, Object> backingProperties(String backingName, BackingLocation backing, long sizeBytes,
            Optional<String> identity) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put(BackingProperties.NAME, backingName);
        if (backing instanceof BackingLocation.File file) {
            p.put(BackingProperties.PATH, file.path().toString());
            p.put(BackingProperties.SIZE_BYTES, sizeBytes);
            p.put(BackingProperties.CREATE, sizeBytes > 0);
        } else {
            p.put(BackingProperties.URI, ((BackingLocation.Nbd) backing).uri().toString());
        }
        identity.ifPresent(id -> p.put(BackingProperties.IDENTITY, id));
        return p;
    }

    /** The cache's configuration (factory PID {@value ConfigPids#TARGET}, named {@link #name()}). */
    public Map<String, Object> targetProperties() {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put(TargetProperties.NAME, name);
        p.put(TargetProperties.CACHE_DEV, cacheDev.toString());
        p.put(TargetProperties.CACHE_DEV_SIZE_BYTES, cacheDevSizeBytes);
        p.put(TargetProperties.CACHE_MODE, mode.configName());
        p.put(TargetProperties.DATA_CRC, dataCrc);
        p.put(TargetProperties.GC_PERCENT, gcPercent);
        p.put(TargetProperties.BACKING_TARGET, backingFilter(backingName()));
        for (CachePart part : CachePart.values()) {
            p.put(part.targetProperty(), part.filter(parts.get(part)));
        }
        p.put(TargetProperties.FORCE_IDENTITY, forceIdentity);
        p.put(TargetProperties.BACKING_TIMEOUT_MS, backingTimeout.toMillis());
        return p;
    }

    /** The {@code backing.target} filter selecting the backing device named {@code backingName}. */
    public static String backingFilter(String backingName) {
        return LdapFilters.equal(BackingDevice.NAME, backingName);
    }

    /** The backing device name a {@code backing.target} filter selects, when it selects one by name. */
    public static Optional<String> selectedBackingName(String backingTarget) {
        return LdapFilters.equalValue(backingTarget, BackingDevice.NAME);
    }

    // ---------------------------------------------------------------- the target's own check

    /**
     * The problems of a cache configuration as the target receives it (property names of
     * {@link TargetProperties}), each {@code key=value: expected ...}; empty when it is sound. The
     * same ranges {@link #parse} applies, for configurations made by other means.
     */
    public static List<String> targetProblems(String name, String cacheDev, long cacheDevSizeBytes, String cacheMode,
            int gcPercent, long backingTimeoutMs) {
        List<String> problems = new ArrayList<>();
        if (!CacheNames.isValid(name)) {
            problems.add(TargetProperties.NAME + "=" + name + ": expected a cache name of " + CacheNames.RULE);
        }
        if (cacheDev == null || cacheDev.isBlank()) {
            problems.add(TargetProperties.CACHE_DEV + " is missing: expected the path of the cache device");
        }
        if (cacheDevSizeBytes != 0 && cacheDevSizeBytes < TargetProperties.CACHE_DEV_SIZE_MIN) {
            problems.add(TargetProperties.CACHE_DEV_SIZE_BYTES + "=" + cacheDevSizeBytes + ": expected 0 (the device"
                    + " must exist) or at least " + TargetProperties.CACHE_DEV_SIZE_MIN + " (512 MiB, the smallest"
                    + " cache device dm-pcache's format allows)");
        }
        if (!ConfigValues.isGcPercent(gcPercent)) {
            problems.add(TargetProperties.GC_PERCENT + "=" + gcPercent + ": expected "
                    + ConfigValues.GC_PERCENT_EXPECTED);
        }
        try {
            CacheMode.parse(cacheMode);
        } catch (IllegalArgumentException e) {
            problems.add(TargetProperties.CACHE_MODE + "=" + cacheMode + ": " + e.getMessage());
        }
        if (backingTimeoutMs <= 0 || backingTimeoutMs > TargetProperties.BACKING_TIMEOUT_MS_MAX) {
            problems.add(TargetProperties.BACKING_TIMEOUT_MS + "=" + backingTimeoutMs + ": expected a positive"
                    + " number of milliseconds, at most " + TargetProperties.BACKING_TIMEOUT_MS_MAX + " (ten years)");
        }
        return problems;
    }

    /**
     * The problems of the engine's tuning keys (not written by the launcher or the shell), each
     * {@code key=value: expected ...}; empty when they are sound.
     */
    public static List<String> tuningProblems(long streams, long ksetFlushDelayMs, long gcIntervalMs) {
        List<String> problems = new ArrayList<>();
        if (streams < 0 || streams > TargetProperties.STREAMS_MAX) {
            problems.add(TargetProperties.STREAMS + "=" + streams + ": expected 0 (one per CPU, at most "
                    + TargetProperties.STREAMS_MAX + ") .. " + TargetProperties.STREAMS_MAX);
        }
        if (ksetFlushDelayMs < 1) {
            problems.add(TargetProperties.KSET_FLUSH_DELAY_MS + "=" + ksetFlushDelayMs
                    + ": expected a positive number of milliseconds");
        }
        if (gcIntervalMs < 1) {
            problems.add(TargetProperties.GC_INTERVAL_MS + "=" + gcIntervalMs
                    + ": expected a positive number of milliseconds");
        }
        return problems;
    }
}
