package pcache.launcher;

import static pcache.launcher.ConfigException.problem;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.logging.Level;

import pcache.api.config.BackingLocation;
import pcache.api.config.DevicePaths;
import pcache.api.config.CacheAttribute;
import pcache.api.config.CacheDefinition;
import pcache.api.config.CacheNames;
import pcache.api.config.ExportDefinition;
import pcache.api.config.ExportProperties;
import pcache.api.config.HealthProperties;
import pcache.api.config.HttpProperties;
import pcache.api.config.Problem;

/**
 * Validates the configuration keys and builds {@link PcacheSettings}. Reports every problem at
 * once, each with the key, the value and what was expected. A cache's attributes are checked by
 * pcache.api.config's {@link CacheDefinition}, the same rules {@code pcache:create} applies; the
 * NBD export's {@code nbd.*} keys by its {@link ExportDefinition}, the rules the export component
 * applies to its configuration.
 */
public final class SettingsParser {

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
        Map<String, Map<CacheAttribute, String>> cacheAttributes = new TreeMap<>();
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
            if (!CacheNames.isValid(name)) {
                problems.add("bad cache name '" + name + "' in key " + key + ": expected " + CacheNames.RULE);
                continue;
            }
            Optional<CacheAttribute> known = CacheAttribute.byKey(attribute);
            if (known.isEmpty()) {
                problems.add("unknown key " + key + ": expected one of cache." + name + ".{"
                        + String.join(",", ConfigKeys.CACHE_ATTRIBUTES) + "}");
                continue;
            }
            cacheAttributes.computeIfAbsent(name, n -> new EnumMap<>(CacheAttribute.class)).put(known.get(),
                    e.getValue());
        }

        Optional<ExportDefinition> export = export(values);
        Level level = logLevel(values.getOrDefault(ConfigKeys.LOG_LEVEL,
                ConfigSources.GLOBAL_DEFAULTS.get(ConfigKeys.LOG_LEVEL)));
        Optional<HttpListen> http = http(values.get(ConfigKeys.HTTP_LISTEN));
        int dirtyWarnPercent = dirtyWarnPercent(values.get(ConfigKeys.HEALTH_DIRTY_WARN_PERCENT));
        Optional<Path> consoleCredentials = consoleCredentials(values.get(ConfigKeys.HTTP_CONSOLE_CREDENTIALS));
        List<String> allowedHosts = allowedHosts(values.get(ConfigKeys.HTTP_ALLOWED_HOSTS));
        List<CacheDefinition> caches = new ArrayList<>();
        cacheAttributes.forEach((name, attributes) -> cache(name, attributes).ifPresent(caches::add));
        checkDistinctDevices(caches);
        if (!problems.isEmpty()) {
            throw new ConfigException(problems);
        }
        return new PcacheSettings(dataDir, export.orElseThrow(), level, caches, http, dirtyWarnPercent,
                consoleCredentials, allowedHosts);
    }

    /** One cache, validated by pcache.api.config's rules; its problems spelt with this file's keys. */
    private Optional<CacheDefinition> cache(String name, Map<CacheAttribute, String> attributes) {
        CacheDefinition.Parsed parsed = CacheDefinition.parse(name, attributes, dataDir);
        for (Problem p : parsed.problems()) {
            String key = ConfigKeys.CACHE_PREFIX + name + "." + p.attribute().key();
            problems.add(p.missing() ? "cache " + name + " has no " + key + ": " + p.text() : p.render(key));
        }
        return parsed.definition();
    }

    /** The {@code nbd.*} keys, checked by the export's own rules (relative paths are in the data directory). */
    private Optional<ExportDefinition> export(Map<String, String> values) {
        Map<String, String> properties = new HashMap<>();
        for (String property : ExportProperties.ALL) {
            String value = values.get(ConfigKeys.NBD_PREFIX + property);
            if (value != null) {
                properties.put(property, value);
            }
        }
        properties.putIfAbsent(ExportProperties.LISTEN, ConfigSources.GLOBAL_DEFAULTS.get(ConfigKeys.NBD_LISTEN));
        ExportDefinition.Parsed parsed = ExportDefinition.parse(properties, dataDir, ConfigKeys.NBD_PREFIX);
        problems.addAll(parsed.problems());
        return parsed.definition();
    }

    private Optional<HttpListen> http(String value) {
        try {
            return HttpListen.parse(value);
        } catch (IllegalArgumentException e) {
            problems.add(e.getMessage());
            return Optional.empty();
        }
    }

    private Optional<Path> consoleCredentials(String value) {
        if (value == null || value.isBlank()) {
            return Optional.empty();
        }
        try {
            return Optional.of(dataDir.resolve(value.trim()).normalize());
        } catch (InvalidPathException e) {
            problems.add(problem(ConfigKeys.HTTP_CONSOLE_CREDENTIALS, value, "a file path (" + e.getReason()
                    + "); remove the key to have pcache generate the credentials in the data directory"));
            return Optional.empty();
        }
    }

    private List<String> allowedHosts(String value) {
        try {
            return HttpProperties.allowedHosts(value);
        } catch (IllegalArgumentException e) {
            problems.add(problem(ConfigKeys.HTTP_ALLOWED_HOSTS, value, e.getMessage()));
            return List.of();
        }
    }

    private int dirtyWarnPercent(String value) {
        if (value == null || value.isBlank()) {
            return HealthProperties.DIRTY_WARN_PERCENT_DEFAULT;
        }
        try {
            return HealthProperties.dirtyWarnPercent(value);
        } catch (IllegalArgumentException e) {
            problems.add(problem(ConfigKeys.HEALTH_DIRTY_WARN_PERCENT, value, e.getMessage()));
            return HealthProperties.DIRTY_WARN_PERCENT_DEFAULT;
        }
    }

    private Level logLevel(String value) {
        try {
            return LogSetup.parseLevel(value);
        } catch (IllegalArgumentException e) {
            problems.add(problem(ConfigKeys.LOG_LEVEL, value, e.getMessage()));
            return Level.WARNING;
        }
    }

    /**
     * Two caches on one device would destroy each other's data. Files are compared by their real
     * paths (a link to a file is that file); an export by its disk: nbd://h/x, nbd://h:10809/x and
     * nbds://h/x?... are one disk.
     */
    private void checkDistinctDevices(List<CacheDefinition> caches) {
        Map<String, String> owners = new HashMap<>();
        for (CacheDefinition c : caches) {
            claimFile(owners, "cache device ", c.cacheDev(), c.name() + "'s cache_dev");
            if (c.backing() instanceof BackingLocation.File f) {
                claimFile(owners, "backing device ", f.path(), c.name() + "'s backing_dev");
            } else {
                claim(owners, "backing device " + c.backing().text(), c.backing().disk(), c.name() + "'s backing_dev");
            }
        }
    }

    /**
     * Claims the file {@code path} reaches, by its real path and, when it exists, by its inode:
     * two hard links to one file are one device too.
     */
    private void claimFile(Map<String, String> owners, String what, Path path, String user) {
        String identity = DevicePaths.identity(path).toString();
        String label = what + written(path.toString(), identity);
        if (owners.containsKey(identity)) {
            claim(owners, label, identity, user);
            return;
        }
        owners.put(identity, user);
        java.util.Optional<Object> key = DevicePaths.fileKey(path);
        if (key.isPresent()) {
            claim(owners, label + " (a hard link to a file used already)", "file key " + key.get(), user);
        }
    }

    /** A path as written, and the file it reaches when that differs (through a link). */
    private static String written(String path, String identity) {
        return path.equals(identity) ? path : path + " (which is " + identity + ")";
    }

    private void claim(Map<String, String> owners, String what, String device, String user) {
        String previous = owners.putIfAbsent(device, user);
        if (previous != null) {
            problems.add(what + " is used twice, as " + previous + " and as " + user
                    + ": expected every cache and backing device to be used once");
        }
    }
}
