package pcache.api.config;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The checks of a configuration someone is about to save by other means than the launcher's file
 * or {@code pcache:create} (the Web Console's forms, a management agent): its values, with the
 * rules those two apply, and its place among the configurations that exist, with the conflicts
 * {@code pcache:create} refuses (a second cache of one name, two caches on one cache device, two
 * backing devices on one disk). Each problem names the key, the value and what is expected.
 *
 * <p>Values are read as ConfigAdmin holds them: numbers as any {@link Number} (or a numeric
 * string), booleans as {@link Boolean} (or {@code "true"}/{@code "false"}); a missing key takes
 * its metatype default.
 */
public final class ConfigurationChecks {

    /** A configuration that exists: its factory PID (null for a singleton), its PID and its properties. */
    public record Existing(String factoryPid, String pid, Map<String, ?> properties) {
        public Existing {
            Objects.requireNonNull(pid, "pid");
            properties = properties == null ? Map.of() : properties;
        }
    }

    /** {@code pcache:create}'s refusal of a second cache named {@code name}. */
    public static String cacheNameTaken(String name) {
        return "a cache named '" + name + "' already exists (pcache:remove " + name + " removes it)";
    }

    /** {@code pcache:create}'s refusal of a cache device another cache uses. */
    public static String cacheDeviceTaken(Object cacheDev, Object otherCache) {
        return "cache device " + cacheDev + " is already used by cache '" + otherCache
                + "': every cache needs its own cache device";
    }

    /** {@code pcache:create}'s refusal of a disk another backing device uses. */
    public static String diskTaken(String backingText, Object otherName, String otherText) {
        return "backing device " + backingText + " is already used by backing device '" + otherName + "' ("
                + otherText + "): two caches on one disk would destroy each other's data";
    }

    private ConfigurationChecks() {
    }

    /**
     * Every problem of saving {@code proposed} as configuration {@code pid} (null for a new one)
     * of factory {@code factoryPid}, among {@code existing} (which may include the configuration
     * itself: it is skipped). Empty when it may be saved. Checked are pcache's caches, backing
     * devices, NBD export ({@link ExportDefinition#parse}) and health checks' threshold;
     * configurations of other PIDs have no problems here.
     */
    public static List<String> problems(String factoryPid, String pid, Map<String, ?> proposed,
            Collection<Existing> existing) {
        if (factoryPid == null && ConfigPids.EXPORT_NBD.equals(pid)) {
            return ExportDefinition.parse(proposed, Path.of("").toAbsolutePath(), "").problems();
        }
        if (factoryPid == null && HealthProperties.PID.equals(pid)) {
            Object percent = proposed.get(HealthProperties.DIRTY_WARN_PERCENT);
            try {
                if (percent != null) {
                    HealthProperties.dirtyWarnPercent(percent.toString());
                }
                return List.of();
            } catch (IllegalArgumentException e) {
                return List.of(HealthProperties.DIRTY_WARN_PERCENT + "=" + percent + ": expected " + e.getMessage());
            }
        }
        if (ConfigPids.TARGET.equals(factoryPid)) {
            return target(pid, proposed, existing);
        }
        if (ConfigPids.BACKING_FILE.equals(factoryPid) || ConfigPids.BACKING_NBD.equals(factoryPid)) {
            return backing(factoryPid, pid, proposed, existing);
        }
        return List.of();
    }

    /**
     * Every problem of deleting configuration {@code pid} of factory {@code factoryPid}: a backing
     * device a cache still selects may not go (the cache would lose its disk while it may hold dirty
     * data).
     */
    public static List<String> deletionProblems(String factoryPid, String pid, Collection<Existing> existing) {
        if (!ConfigPids.BACKING_FILE.equals(factoryPid) && !ConfigPids.BACKING_NBD.equals(factoryPid)) {
            return List.of();
        }
        Object name = existing.stream().filter(e -> e.pid().equals(pid)).map(e -> e.properties().get(
                BackingProperties.NAME)).filter(Objects::nonNull).findFirst().orElse(null);
        List<String> problems = new ArrayList<>();
        for (Existing e : existing) {
            if (name != null && ConfigPids.TARGET.equals(e.factoryPid()) && selects(e, name.toString())) {
                problems.add("backing device '" + name + "' is the backing device of cache '"
                        + e.properties().get(TargetProperties.NAME) + "': remove the cache first (pcache:remove "
                        + e.properties().get(TargetProperties.NAME) + " writes its dirty data back), or point it"
                        + " at another backing device (pcache:swap-backing)");
            }
        }
        return problems;
    }

    // ---------------------------------------------------------------- caches

    private static List<String> target(String pid, Map<String, ?> p, Collection<Existing> existing) {
        List<String> problems = new ArrayList<>();
        String name = string(p, TargetProperties.NAME, null);
        String cacheDev = string(p, TargetProperties.CACHE_DEV, null);
        Long size = number(p, TargetProperties.CACHE_DEV_SIZE_BYTES, 0, problems);
        Long gc = number(p, TargetProperties.GC_PERCENT, TargetProperties.GC_PERCENT_DEFAULT, problems);
        Long timeout = number(p, TargetProperties.BACKING_TIMEOUT_MS, TargetProperties.BACKING_TIMEOUT_MS_DEFAULT,
                problems);
        Long streams = number(p, TargetProperties.STREAMS, TargetProperties.STREAMS_DEFAULT, problems);
        Long ksetDelay = number(p, TargetProperties.KSET_FLUSH_DELAY_MS, TargetProperties.KSET_FLUSH_DELAY_MS_DEFAULT,
                problems);
        Long gcInterval = number(p, TargetProperties.GC_INTERVAL_MS, TargetProperties.GC_INTERVAL_MS_DEFAULT,
                problems);
        if (size != null && gc != null && timeout != null) {
            int gcPercent = gc > Integer.MAX_VALUE || gc < Integer.MIN_VALUE ? -1 : gc.intValue();
            problems.addAll(CacheDefinition.targetProblems(name, cacheDev, size, string(p, TargetProperties.CACHE_MODE,
                    TargetProperties.CACHE_MODE_DEFAULT), gcPercent, timeout));
        }
        if (streams != null && ksetDelay != null && gcInterval != null) {
            problems.addAll(CacheDefinition.tuningProblems(streams, ksetDelay, gcInterval));
        }
        if (cacheDev != null && !cacheDev.isBlank() && size != null) {
            problems.addAll(cacheDeviceProblems(cacheDev, size));
        }
        for (Existing e : existing) {
            if (!ConfigPids.TARGET.equals(e.factoryPid()) || e.pid().equals(pid)) {
                continue;
            }
            if (name != null && name.equals(e.properties().get(TargetProperties.NAME))) {
                problems.add(cacheNameTaken(name));
            }
            if (cacheDev != null && DevicePaths.sameAsConfigured(cacheDev, e.properties().get(TargetProperties.CACHE_DEV))) {
                problems.add(cacheDeviceTaken(cacheDev, e.properties().get(TargetProperties.NAME)));
            }
        }
        for (Existing e : existing) { // nor another cache's disk: its write-back would overwrite the cache
            if (cacheDev != null && ConfigPids.BACKING_FILE.equals(e.factoryPid())
                    && DevicePaths.sameAsConfigured(cacheDev, e.properties().get(BackingProperties.PATH))) {
                problems.add(TargetProperties.CACHE_DEV + "=" + cacheDev + " is the disk of backing device '"
                        + e.properties().get(BackingProperties.NAME) + "' (" + backingText(e) + "): a cache device and"
                        + " a backing device must be different files; choose another cache_dev");
            }
        }
        String filter = string(p, TargetProperties.BACKING_TARGET, TargetProperties.BACKING_TARGET_DEFAULT);
        Optional<String> backingName = CacheDefinition.selectedBackingName(filter);
        if (backingName.isPresent() && existing.stream().noneMatch(e -> isBacking(e)
                && backingName.get().equals(e.properties().get(BackingProperties.NAME)))) {
            problems.add(TargetProperties.BACKING_TARGET + "=" + filter + ": no backing device named '"
                    + backingName.get() + "' is configured; create it first (pcache file backing device or"
                    + " pcache NBD backing device, name=" + backingName.get() + ")");
        }
        return problems;
    }

    /**
     * Whether {@code cacheDev} is a regular file too small for a cache device. An empty one is not
     * when {@code createSizeBytes} is positive: it is what a stop between creating the file and
     * sizing it leaves, and opening the cache gives it that size.
     */
    public static boolean tooSmall(Path cacheDev, long createSizeBytes) throws java.io.IOException {
        if (!Files.isRegularFile(cacheDev)) {
            return false;
        }
        long size = Files.size(cacheDev);
        return size < TargetProperties.CACHE_DEV_SIZE_MIN && !(size == 0 && createSizeBytes > 0);
    }

    /**
     * The problems of a cache definition's files, as the launcher checks them before it starts
     * and {@code pcache:create} before it configures anything: a cache device or backing file
     * that is missing without a size to create it with, that cannot be created (its folder is
     * missing), that is a directory or that this user cannot write, and a cache device too small.
     * {@code key} spells an attribute as the user wrote it (a configuration file's key, a
     * {@code pcache:create} argument). An NBD backing device is reached only when the cache opens.
     */
    public static List<String> deviceFileProblems(CacheDefinition d, java.util.function.Function<CacheAttribute, String> key) {
        List<String> problems = new ArrayList<>();
        fileProblem("cache device", d.cacheDev(), d.cacheDevSizeBytes(), key.apply(CacheAttribute.CACHE_DEV),
                key.apply(CacheAttribute.CACHE_DEV_SIZE) + "=SIZE (at least 512M)", problems);
        try {
            if (problems.isEmpty() && tooSmall(d.cacheDev(), d.cacheDevSizeBytes())) {
                problems.add("cache device " + d.cacheDev() + " has " + Files.size(d.cacheDev())
                        + " bytes; a cache device needs at least 512 MiB");
            }
        } catch (java.io.IOException e) {
            problems.add("cache device " + d.cacheDev() + " cannot be read: " + e.getMessage());
        }
        if (d.backing() instanceof BackingLocation.File f) {
            fileProblem("backing file", f.path(), d.backingSizeBytes(), key.apply(CacheAttribute.BACKING_DEV),
                    key.apply(CacheAttribute.BACKING_DEV_SIZE) + "=SIZE", problems);
        }
        return problems;
    }

    /** The problem of one file a cache opens ({@code what} at {@code path}), if any, into {@code problems}. */
    private static void fileProblem(String what, Path path, long createSizeBytes, String pathKey, String sizeGiven,
            List<String> problems) {
        if (Files.isDirectory(path)) {
            problems.add(what + " " + path + " is a directory; set " + pathKey + " to a file or a device");
        } else if (!Files.exists(path)) {
            Path folder = path.toAbsolutePath().getParent();
            if (folder != null && !Files.isDirectory(folder)) { // a size would not help
                problems.add(what + " " + path + " does not exist, nor does its folder " + folder
                        + ": check the path, or create the folder" + (createSizeBytes == 0 ? " and give " + sizeGiven
                        + " to create the file" : ""));
            } else if (createSizeBytes == 0) {
                problems.add(what + " " + path + " does not exist: give " + sizeGiven + " to create it");
            }
        } else if (!Files.isWritable(path)) {
            problems.add(what + " " + path + " is not writable by this user; give it write permission or set "
                    + pathKey + " to another file");
        }
    }

    /** What {@code pcache:create} says of a missing or too small cache device. */
    private static List<String> cacheDeviceProblems(String cacheDev, long sizeBytes) {
        Path path;
        try {
            path = Path.of(cacheDev);
        } catch (InvalidPathException e) {
            return List.of(TargetProperties.CACHE_DEV + "=" + cacheDev + ": not a valid path (" + e.getMessage() + ")");
        }
        if (!path.isAbsolute()) {
            return List.of(TargetProperties.CACHE_DEV + "=" + cacheDev + ": expected an absolute path");
        }
        try {
            if (!Files.exists(path) && sizeBytes == 0) {
                return List.of("cache device " + cacheDev + " does not exist: give " + TargetProperties.CACHE_DEV_SIZE_BYTES
                        + " (at least " + TargetProperties.CACHE_DEV_SIZE_MIN + ", 512 MiB) to create it");
            }
            if (tooSmall(path, sizeBytes)) {
                return List.of("cache device " + cacheDev + " has " + Files.size(path)
                        + " bytes; a cache device needs at least 512 MiB");
            }
        } catch (java.io.IOException e) {
            return List.of("cache device " + cacheDev + " cannot be read: " + e.getMessage());
        }
        return List.of();
    }

    // ---------------------------------------------------------------- backing devices

    private static List<String> backing(String factoryPid, String pid, Map<String, ?> p, Collection<Existing> existing) {
        List<String> problems = new ArrayList<>();
        String name = string(p, BackingProperties.NAME, null);
        if (name == null || !ConfigValues.PART_NAME.matcher(name).matches()) {
            problems.add(BackingProperties.NAME + "=" + (name == null ? "" : name) + ": expected a backing device name of "
                    + ConfigValues.PART_NAME_RULE);
        }
        String text = null;
        if (ConfigPids.BACKING_FILE.equals(factoryPid)) {
            text = fileProblems(p, problems);
        } else {
            String uri = string(p, BackingProperties.URI, null);
            try {
                BackingLocation location = BackingLocation.parse(uri == null ? "" : uri, Path.of("/"));
                if (!(location instanceof BackingLocation.Nbd)) {
                    problems.add(BackingProperties.URI + "=" + uri + ": expected an nbd://, nbd+unix://, nbds:// or"
                            + " nbds+unix:// URI");
                } else {
                    text = location.text();
                }
            } catch (IllegalArgumentException e) {
                problems.add(BackingProperties.URI + "=" + uri + ": " + e.getMessage());
            }
        }
        String disk = disk(text);
        for (Existing e : existing) {
            if (!isBacking(e) || e.pid().equals(pid)) {
                continue;
            }
            Object otherName = e.properties().get(BackingProperties.NAME);
            if (name != null && name.equals(otherName)) {
                problems.add("a backing device named '" + name + "' already exists (" + backingText(e)
                        + "): choose another name");
            }
            if (disk != null && disk.equals(disk(backingText(e)))) {
                problems.add(diskTaken(text, otherName, backingText(e)));
            }
        }
        Object path = p.get(BackingProperties.PATH);
        for (Existing e : existing) { // nor a cache's cache device: write-back would overwrite that cache
            if (path != null && ConfigPids.BACKING_FILE.equals(factoryPid) && ConfigPids.TARGET.equals(e.factoryPid())
                    && DevicePaths.sameAsConfigured(path.toString(), e.properties().get(TargetProperties.CACHE_DEV))) {
                problems.add(BackingProperties.PATH + "=" + path + " is the cache device of cache '"
                        + e.properties().get(TargetProperties.NAME) + "': a backing device must not be another"
                        + " cache's cache device; choose another path");
            }
        }
        return problems;
    }

    /** The problems of a file backing device's path, size and create flag; its {@code file:PATH} text when usable. */
    private static String fileProblems(Map<String, ?> p, List<String> problems) {
        String path = string(p, BackingProperties.PATH, null);
        Long size = number(p, BackingProperties.SIZE_BYTES, 0, problems);
        Boolean create = bool(p, BackingProperties.CREATE, false, problems);
        if (size != null && (size < 0 || size % 512 != 0)) {
            problems.add(BackingProperties.SIZE_BYTES + "=" + size + ": expected a non-negative multiple of 512, or 0"
                    + " for the existing file's size");
        }
        if (path == null || path.isBlank()) {
            problems.add(BackingProperties.PATH + " is missing: expected the absolute path of a file or a block device");
            return null;
        }
        Path file;
        try {
            file = Path.of(path);
        } catch (InvalidPathException e) {
            problems.add(BackingProperties.PATH + "=" + path + ": not a valid path (" + e.getMessage() + ")");
            return null;
        }
        if (!file.isAbsolute()) {
            problems.add(BackingProperties.PATH + "=" + path + ": expected an absolute path");
            return null;
        }
        if (Files.isDirectory(file)) {
            problems.add(BackingProperties.PATH + "=" + path + " is a directory; set it to a file or a block device");
        } else if (!Files.exists(file) && create != null && size != null) {
            if (!create) {
                problems.add("backing file " + path + " does not exist: set " + BackingProperties.CREATE + "=true and "
                        + BackingProperties.SIZE_BYTES + "=<size> to have it created");
            } else if (size == 0) {
                problems.add("backing file " + path + " does not exist: give " + BackingProperties.SIZE_BYTES
                        + " > 0 to create it");
            }
        }
        return "file:" + file.normalize();
    }

    // ---------------------------------------------------------------- helpers

    private static boolean isBacking(Existing e) {
        return ConfigPids.BACKING_FILE.equals(e.factoryPid()) || ConfigPids.BACKING_NBD.equals(e.factoryPid());
    }

    private static boolean selects(Existing target, String backingName) {
        Object filter = target.properties().get(TargetProperties.BACKING_TARGET);
        return filter != null && CacheDefinition.selectedBackingName(filter.toString()).filter(backingName::equals)
                .isPresent();
    }

    private static String backingText(Existing e) {
        return backingText(e.properties());
    }

    /** How a backing device's configuration ({@code properties}) names it: {@code file:PATH} or its URI. */
    public static String backingText(Map<String, ?> properties) {
        Object path = properties.get(BackingProperties.PATH);
        return path != null ? "file:" + path : String.valueOf(properties.get(BackingProperties.URI));
    }

    /** Where the data of a backing device named {@code backingText} is ({@link BackingLocation#disk()}), or null when unreadable. */
    public static String disk(String backingText) {
        if (backingText == null) {
            return null;
        }
        try {
            return BackingLocation.parse(backingText, Path.of("/")).disk();
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static String string(Map<String, ?> p, String key, String absent) {
        Object v = p.get(key);
        return v == null ? absent : v.toString().trim();
    }

    /** The number under {@code key}, its default when absent, or null (and a problem) when it is not a number. */
    private static Long number(Map<String, ?> p, String key, long absent, List<String> problems) {
        Object v = p.get(key);
        if (v == null) {
            return absent;
        }
        if (v instanceof Number n) {
            return n.longValue();
        }
        try {
            return Long.parseLong(v.toString().trim());
        } catch (NumberFormatException e) {
            problems.add(key + "=" + v + ": expected a whole number");
            return null;
        }
    }

    private static Boolean bool(Map<String, ?> p, String key, boolean absent, List<String> problems) {
        Object v = p.get(key);
        if (v == null) {
            return absent;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        String s = v.toString().trim();
        if (s.equalsIgnoreCase("true") || s.equalsIgnoreCase("false")) {
            return Boolean.parseBoolean(s);
        }
        problems.add(key + "=" + v + ": expected " + ConfigValues.BOOLEAN_EXPECTED);
        return null;
    }
}
