package pcache.launcher;

import static pcache.launcher.ConfigException.problem;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.logging.Level;
import java.util.regex.Pattern;

import pcache.launcher.BackingSpec.FileBacking;
import pcache.launcher.BackingSpec.NbdBacking;

/**
 * Validates the configuration keys and builds {@link PcacheSettings}. Reports every problem at
 * once, each with the key, the value and what was expected.
 */
public final class SettingsParser {

    /** Accepted {@code cache_mode} values (pcache.api's CacheMode, in configuration spelling). */
    public static final List<String> CACHE_MODES = List.of("writeback", "writethrough", "passthrough");
    /**
     * What a part's name ({@code pmem}, {@code writeback_policy}, {@code crc}, {@code key_index},
     * {@code allocator}) may look like; whether a provider of that name is registered is checked
     * once the framework runs ({@link ProviderCheck}).
     */
    static final Pattern PART_NAME = Pattern.compile("[A-Za-z0-9_.-]{1,64}");
    /** Range of {@code gc_percent} (pcache.api's CacheDevice.GC_PERCENT_MIN/MAX). */
    public static final int GC_PERCENT_MIN = 0;
    public static final int GC_PERCENT_MAX = 90;
    public static final int GC_PERCENT_DEFAULT = 70;
    public static final Duration BACKING_TIMEOUT_DEFAULT = Duration.ofSeconds(30);
    /** Longest backing identity label, in UTF-8 bytes (pcache.api's BackingIdentity.MAX_ID_BYTES). */
    public static final int MAX_IDENTITY_BYTES = 1024;

    private final List<String> problems = new ArrayList<>();
    private final Path dataDir;

    private SettingsParser(Path dataDir) {
        this.dataDir = dataDir;
    }

    /**
     * Validates {@code values} (as produced by {@link ConfigSources#load}).
     *
     * @throws ConfigException listing every problem
     */
    public static PcacheSettings parse(Map<String, String> values) throws ConfigException {
        String data = values.getOrDefault(ConfigKeys.DATA, ConfigSources.GLOBAL_DEFAULTS.get(ConfigKeys.DATA));
        Path dataDir;
        try {
            dataDir = Path.of(data).toAbsolutePath().normalize();
        } catch (InvalidPathException e) {
            throw new ConfigException(problem(ConfigKeys.DATA, data, "a directory path"));
        }
        return new SettingsParser(dataDir).parseAll(values);
    }

    private PcacheSettings parseAll(Map<String, String> values) throws ConfigException {
        Map<String, Map<String, String>> cacheAttributes = new TreeMap<>();
        for (Map.Entry<String, String> e : values.entrySet()) {
            String key = e.getKey();
            if (ConfigKeys.GLOBAL.contains(key)) {
                continue;
            }
            Optional<ConfigKeys.CacheKey> ck = ConfigKeys.cacheKey(key);
            if (ck.isEmpty()) {
                problems.add("unknown key " + key + ": expected cache.<name>.<attribute>, "
                        + String.join(", ", new java.util.TreeSet<>(ConfigKeys.GLOBAL)));
                continue;
            }
            String name = ck.get().cacheName();
            String attribute = ck.get().attribute();
            if (!ConfigKeys.CACHE_NAME.matcher(name).matches()) {
                problems.add("bad cache name '" + name + "' in key " + key
                        + ": expected 1-64 letters, digits, '_' and '-'");
                continue;
            }
            if (!ConfigKeys.CACHE_ATTRIBUTES.contains(attribute)) {
                problems.add("unknown key " + key + ": expected one of cache." + name + ".{"
                        + String.join(",", ConfigKeys.CACHE_ATTRIBUTES) + "}");
                continue;
            }
            cacheAttributes.computeIfAbsent(name, n -> new HashMap<>()).put(attribute, e.getValue());
        }

        String listen = listen(values.getOrDefault(ConfigKeys.NBD_LISTEN,
                ConfigSources.GLOBAL_DEFAULTS.get(ConfigKeys.NBD_LISTEN)));
        Level level = logLevel(values.getOrDefault(ConfigKeys.LOG_LEVEL,
                ConfigSources.GLOBAL_DEFAULTS.get(ConfigKeys.LOG_LEVEL)));
        List<CacheSettings> caches = new ArrayList<>();
        cacheAttributes.forEach((name, attributes) -> cache(name, attributes).ifPresent(caches::add));
        checkDistinctDevices(caches);
        if (!problems.isEmpty()) {
            throw new ConfigException(problems);
        }
        return new PcacheSettings(dataDir, listen, level, caches);
    }

    private Optional<CacheSettings> cache(String name, Map<String, String> a) {
        int before = problems.size();
        String prefix = ConfigKeys.CACHE_PREFIX + name + ".";
        Path cacheDev = null;
        if (a.containsKey(ConfigKeys.CACHE_DEV)) {
            cacheDev = path(prefix + ConfigKeys.CACHE_DEV, a.get(ConfigKeys.CACHE_DEV));
        } else {
            problems.add("cache " + name + " has no " + prefix + ConfigKeys.CACHE_DEV
                    + ": expected the path of its cache device");
        }
        long cacheDevSize = a.containsKey(ConfigKeys.CACHE_DEV_SIZE)
                ? size(prefix + ConfigKeys.CACHE_DEV_SIZE, a.get(ConfigKeys.CACHE_DEV_SIZE)) : 0;
        if (cacheDevSize > 0 && cacheDevSize < ConfigKeys.CACHE_DEV_SIZE_MIN) {
            problems.add(problem(prefix + ConfigKeys.CACHE_DEV_SIZE, a.get(ConfigKeys.CACHE_DEV_SIZE),
                    "at least 512M: the smallest cache device dm-pcache's format allows (512 MiB)"));
        }
        BackingSpec backing = null;
        if (a.containsKey(ConfigKeys.BACKING_DEV)) {
            backing = backing(prefix, a.get(ConfigKeys.BACKING_DEV), a.get(ConfigKeys.BACKING_DEV_SIZE));
        } else {
            problems.add("cache " + name + " has no " + prefix + ConfigKeys.BACKING_DEV
                    + ": expected file:PATH, nbd://HOST:PORT/EXPORT or nbd+unix:///EXPORT?socket=PATH");
        }
        String mode = oneOf(prefix + ConfigKeys.CACHE_MODE, a.getOrDefault(ConfigKeys.CACHE_MODE, "writeback"),
                CACHE_MODES);
        boolean dataCrc = bool(prefix + ConfigKeys.DATA_CRC, a.getOrDefault(ConfigKeys.DATA_CRC, "false"));
        int gcPercent = gcPercent(prefix + ConfigKeys.GC_PERCENT,
                a.getOrDefault(ConfigKeys.GC_PERCENT, Integer.toString(GC_PERCENT_DEFAULT)));
        List<String> partNames = new ArrayList<>();
        for (int i = 0; i < CacheParts.KINDS.size(); i++) {
            CacheParts.Kind kind = CacheParts.KINDS.get(i);
            String value = a.getOrDefault(kind.key(), CacheParts.DEFAULTS.names().get(i)).trim();
            if (!PART_NAME.matcher(value).matches()) {
                problems.add(problem(prefix + kind.key(), value, "the name of a " + kind.what()
                        + " (1-64 letters, digits, '_', '-' or '.')"));
            }
            partNames.add(value);
        }
        Optional<String> identity = identity(prefix + ConfigKeys.BACKING_IDENTITY, a.get(ConfigKeys.BACKING_IDENTITY));
        boolean force = bool(prefix + ConfigKeys.FORCE_IDENTITY, a.getOrDefault(ConfigKeys.FORCE_IDENTITY, "false"));
        Duration timeout = BACKING_TIMEOUT_DEFAULT;
        if (a.containsKey(ConfigKeys.BACKING_TIMEOUT)) {
            try {
                timeout = Values.duration(a.get(ConfigKeys.BACKING_TIMEOUT));
            } catch (IllegalArgumentException e) {
                problems.add(problem(prefix + ConfigKeys.BACKING_TIMEOUT, a.get(ConfigKeys.BACKING_TIMEOUT),
                        e.getMessage()));
            }
        }
        if (problems.size() > before) {
            return Optional.empty();
        }
        return Optional.of(new CacheSettings(name, cacheDev, cacheDevSize, backing, mode, dataCrc, gcPercent,
                CacheParts.of(partNames), identity, force, timeout));
    }

    private BackingSpec backing(String prefix, String value, String sizeValue) {
        String key = prefix + ConfigKeys.BACKING_DEV;
        String expected = "file:PATH, nbd://HOST:PORT/EXPORT or nbd+unix:///EXPORT?socket=PATH";
        int colon = value.indexOf(':');
        String scheme = colon < 0 ? "" : value.substring(0, colon).toLowerCase(Locale.ROOT);
        switch (scheme) {
            case "file" -> {
                String p = value.substring(colon + 1);
                if (p.startsWith("//")) {
                    p = p.substring(2); // file:///abs/path
                }
                if (p.isEmpty()) {
                    problems.add(problem(key, value, "file:PATH with a non-empty PATH"));
                    return null;
                }
                Path path = path(key, p);
                long size = sizeValue == null ? 0 : size(prefix + ConfigKeys.BACKING_DEV_SIZE, sizeValue);
                return path == null ? null : new FileBacking(path, size);
            }
            case "nbd", "nbd+unix" -> {
                if (sizeValue != null) {
                    problems.add(problem(prefix + ConfigKeys.BACKING_DEV_SIZE, sizeValue,
                            "no backing_dev_size with an NBD backing device (its export has a size)"));
                }
                URI uri = nbdUri(key, value, scheme);
                return uri == null ? null : new NbdBacking(uri);
            }
            default -> {
                problems.add(problem(key, value, expected + (colon < 0 ? "" : " (unknown scheme '"
                        + value.substring(0, colon) + "')")));
                return null;
            }
        }
    }

    private URI nbdUri(String key, String value, String scheme) {
        URI uri;
        try {
            uri = new URI(value);
        } catch (URISyntaxException e) {
            problems.add(problem(key, value, "a valid URI (" + e.getMessage() + ")"));
            return null;
        }
        String path = uri.getRawPath() == null ? "" : uri.getRawPath();
        if (!path.isEmpty() && !path.startsWith("/")) {
            problems.add(problem(key, value, scheme + "://...[/EXPORT]"));
            return null;
        }
        if (scheme.equals("nbd")) {
            if (uri.getHost() == null || uri.getHost().isEmpty()) {
                problems.add(problem(key, value, "nbd://HOST[:PORT]/EXPORT with a host"));
                return null;
            }
            if (uri.getPort() == 0 || uri.getPort() > 65535) {
                problems.add(problem(key, value, "a port from 1 to 65535 (default 10809)"));
                return null;
            }
            if (uri.getRawQuery() != null) {
                problems.add(problem(key, value, "nbd://HOST[:PORT]/EXPORT without a query"));
                return null;
            }
        } else {
            if (uri.getRawAuthority() != null) {
                problems.add(problem(key, value, "nbd+unix:///EXPORT?socket=PATH (no host)"));
                return null;
            }
            String socket = null;
            for (String param : uri.getQuery() == null ? new String[0] : uri.getQuery().split("&")) {
                if (param.startsWith("socket=")) {
                    socket = param.substring("socket=".length());
                } else {
                    problems.add(problem(key, value, "nbd+unix:///EXPORT?socket=PATH (unknown parameter '"
                            + param + "')"));
                    return null;
                }
            }
            if (socket == null || socket.isEmpty()) {
                problems.add(problem(key, value, "nbd+unix:///EXPORT?socket=PATH with a socket path"));
                return null;
            }
        }
        return uri;
    }

    /** One address, or several separated by commas (the export listens on each). */
    private String listen(String value) {
        List<String> addresses = new ArrayList<>();
        for (String address : value.split(",", -1)) {
            addresses.add(listenAddress(value, address.trim()));
        }
        return String.join(",", addresses);
    }

    private String listenAddress(String wholeValue, String value) {
        String key = ConfigKeys.NBD_LISTEN;
        String expected = "HOST:PORT (e.g. 127.0.0.1:10809, [::1]:10809) or unix:PATH, or several separated by commas";
        if (value.startsWith("unix:")) {
            String p = value.substring("unix:".length());
            if (p.isEmpty()) {
                problems.add(problem(key, wholeValue, expected));
                return value;
            }
            Path path = path(key, p);
            return path == null ? value : "unix:" + path;
        }
        int colon = value.lastIndexOf(':');
        String host = colon < 0 ? "" : value.substring(0, colon);
        if (host.isEmpty() || (host.startsWith("[") != host.endsWith("]")) || host.contains(" ")) {
            problems.add(problem(key, wholeValue, expected));
            return value;
        }
        try {
            int port = Integer.parseInt(value.substring(colon + 1));
            if (port < 0 || port > 65535) {
                throw new NumberFormatException();
            }
        } catch (NumberFormatException e) {
            problems.add(problem(key, wholeValue, expected + " with a port from 0 to 65535"));
        }
        return value;
    }

    private Level logLevel(String value) {
        try {
            return LogSetup.parseLevel(value);
        } catch (IllegalArgumentException e) {
            problems.add(problem(ConfigKeys.LOG_LEVEL, value, e.getMessage()));
            return Level.WARNING;
        }
    }

    private Path path(String key, String value) {
        try {
            return dataDir.resolve(value).toAbsolutePath().normalize();
        } catch (InvalidPathException e) {
            problems.add(problem(key, value, "a path (" + e.getReason() + ")"));
            return null;
        }
    }

    private long size(String key, String value) {
        try {
            return Values.sizeBytes(value);
        } catch (IllegalArgumentException e) {
            problems.add(problem(key, value, e.getMessage()));
            return 0;
        }
    }

    private boolean bool(String key, String value) {
        try {
            return Values.bool(value);
        } catch (IllegalArgumentException e) {
            problems.add(problem(key, value, e.getMessage()));
            return false;
        }
    }

    private String oneOf(String key, String value, List<String> accepted) {
        String v = value.trim().toLowerCase(Locale.ROOT);
        if (!accepted.contains(v)) {
            problems.add(problem(key, value, "one of " + String.join(", ", accepted)));
        }
        return v;
    }

    private int gcPercent(String key, String value) {
        try {
            int percent = Integer.parseInt(value.trim());
            if (percent >= GC_PERCENT_MIN && percent <= GC_PERCENT_MAX) {
                return percent;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        problems.add(problem(key, value, "an integer from " + GC_PERCENT_MIN + " to " + GC_PERCENT_MAX));
        return GC_PERCENT_DEFAULT;
    }

    private Optional<String> identity(String key, String value) {
        if (value == null) {
            return Optional.empty();
        }
        if (value.isEmpty()) {
            problems.add(problem(key, value, "a non-empty label (leave the key out for the default identity)"));
        } else if (value.getBytes(StandardCharsets.UTF_8).length > MAX_IDENTITY_BYTES) {
            problems.add(problem(key, value, "at most " + MAX_IDENTITY_BYTES + " bytes of UTF-8"));
        }
        return Optional.of(value);
    }

    /** Two caches on one device would destroy each other's data. */
    private void checkDistinctDevices(List<CacheSettings> caches) {
        Map<String, String> owners = new HashMap<>();
        for (CacheSettings c : caches) {
            claim(owners, "cache device " + c.cacheDev(), c.cacheDev().toString(), c.name() + "'s cache_dev");
            String device = c.backing() instanceof FileBacking f ? f.path().toString()
                    : ((NbdBacking) c.backing()).uri().toString();
            claim(owners, "backing device " + device, device, c.name() + "'s backing_dev");
        }
    }

    private void claim(Map<String, String> owners, String what, String device, String user) {
        String previous = owners.putIfAbsent(device, user);
        if (previous != null) {
            problems.add(what + " is used twice, as " + previous + " and as " + user
                    + ": expected every cache and backing device to be used once");
        }
    }
}
