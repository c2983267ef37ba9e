package pcache.launcher;

import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import org.apache.commons.configuration2.CompositeConfiguration;
import org.apache.commons.configuration2.Configuration;
import org.apache.commons.configuration2.MapConfiguration;
import org.apache.commons.configuration2.PropertiesConfiguration;
import org.apache.commons.configuration2.io.FileHandler;
import org.apache.commons.configuration2.ex.ConfigurationException;

/**
 * Reads the configuration with Apache Commons Configuration: the properties file (or the
 * embedded defaults), overridden by environment variables, overridden by system properties and
 * {@code -Dkey=value} arguments. Values are interpolated ({@code ${pcache.data}},
 * {@code ${env:HOME}}, {@code ${sys:user.home}}) across all sources.
 *
 * <p>{@link ConfigKeys#DATA} is made absolute (relative to the working directory) before any
 * other value is interpolated, so {@code ${pcache.data}/x} is always an absolute path.
 */
public final class ConfigSources {

    /** The defaults used when no configuration file is given (a resource of this jar). */
    public static final String EMBEDDED_DEFAULTS = "/pcache/launcher/defaults.properties";

    /** Values of the global keys when no source sets them. */
    public static final Map<String, String> GLOBAL_DEFAULTS = Map.of(
            ConfigKeys.DATA, "./data",
            ConfigKeys.NBD_LISTEN, pcache.api.config.ExportProperties.LISTEN_DEFAULT,
            ConfigKeys.LOG_LEVEL, "WARNING");

    private ConfigSources() {
    }

    /**
     * Loads and interpolates every configuration key.
     *
     * @param configFile the file; empty for the embedded defaults
     * @param arguments {@code -Dkey=value} arguments (strongest)
     * @param systemProperties JVM system properties; only configuration keys are taken
     * @param environment environment variables; only {@code PCACHE_*} are taken
     * @param workingDirectory against which a relative {@code pcache.data} is resolved
     * @return key to interpolated value, sorted by key
     * @throws ConfigException if the file cannot be read or a value refers to an unknown variable
     */
    public static Map<String, String> load(Optional<Path> configFile, Map<String, String> arguments,
            Properties systemProperties, Map<String, String> environment, Path workingDirectory)
            throws ConfigException {
        Configuration file = configFile.isPresent() ? readFile(configFile.get()) : readEmbeddedDefaults();
        MapConfiguration args = layer(arguments);
        MapConfiguration system = layer(configurationKeys(systemProperties));

        Set<String> caches = new TreeSet<>();
        for (Configuration c : List.of(file, system, args)) {
            c.getKeys(ConfigKeys.CACHE_PREFIX.substring(0, ConfigKeys.CACHE_PREFIX.length() - 1))
                    .forEachRemaining(k -> ConfigKeys.cacheKey(k).ifPresent(ck -> caches.add(ck.cacheName())));
        }
        MapConfiguration env = layer(EnvironmentKeys.map(environment, caches));

        Map<String, String> resolved = new HashMap<>();
        CompositeConfiguration all = new CompositeConfiguration();
        all.addConfiguration(layer(resolved));
        all.addConfiguration(args);
        all.addConfiguration(system);
        all.addConfiguration(env);
        all.addConfiguration(file);
        all.addConfiguration(layer(GLOBAL_DEFAULTS));

        String data = interpolated(all, ConfigKeys.DATA);
        try {
            resolved.put(ConfigKeys.DATA, workingDirectory.resolve(data).toAbsolutePath().normalize().toString());
        } catch (java.nio.file.InvalidPathException e) {
            throw new ConfigException(ConfigException.problem(ConfigKeys.DATA, data, "a directory path"));
        }

        Map<String, String> values = new TreeMap<>();
        List<String> problems = new ArrayList<>();
        for (Iterator<String> keys = all.getKeys(); keys.hasNext();) {
            String key = keys.next();
            try {
                values.put(key, interpolated(all, key));
            } catch (ConfigException e) {
                problems.addAll(e.problems());
            }
        }
        if (!problems.isEmpty()) {
            throw new ConfigException(problems);
        }
        return values;
    }

    private static String interpolated(CompositeConfiguration all, String key) throws ConfigException {
        String value;
        try {
            value = all.getString(key);
        } catch (RuntimeException e) {
            // e.g. a cyclic reference ${a} -> ${b} -> ${a}
            throw new ConfigException(key + ": cannot interpolate the value: " + e.getMessage());
        }
        if (value == null) {
            value = "";
        }
        int unresolved = value.indexOf("${");
        if (unresolved >= 0) {
            Object raw = all.getProperty(key);
            int close = value.indexOf('}', unresolved);
            throw new ConfigException(ConfigException.problem(key, String.valueOf(raw), close < 0
                    ? "variables written ${NAME}; " + value.substring(unresolved) + " has no closing }"
                    : "variables that are set; " + value.substring(unresolved, close + 1) + " is not"));
        }
        return value.trim();
    }

    private static Configuration readFile(Path path) throws ConfigException {
        if (!Files.isRegularFile(path)) {
            throw new ConfigException("configuration file " + path.toAbsolutePath()
                    + " does not exist or is not a regular file");
        }
        try {
            // FileHandler, not the fluent builders: those need commons-beanutils
            PropertiesConfiguration properties = new PropertiesConfiguration();
            FileHandler handler = new FileHandler(properties);
            handler.setFile(path.toAbsolutePath().toFile()); // includes resolve relative to the file
            handler.load();
            // a key written twice becomes a list whose first value would win without a word
            java.util.List<String> twice = new java.util.ArrayList<>();
            for (java.util.Iterator<String> keys = properties.getKeys(); keys.hasNext();) {
                String key = keys.next();
                // getProperty, not getList: that one interpolates, and would throw on a cycle here
                int n = properties.getProperty(key) instanceof java.util.Collection<?> values ? values.size() : 1;
                if (n > 1) {
                    twice.add(key + " is set " + n + " times: expected it once (which value is meant?)");
                }
            }
            if (!twice.isEmpty()) {
                throw new ConfigException("configuration file " + path.toAbsolutePath() + ": " + String.join("; ", twice));
            }
            return properties;
        } catch (ConfigurationException e) {
            throw new ConfigException("cannot read configuration file " + path.toAbsolutePath() + ": "
                    + rootMessage(e));
        }
    }

    private static Configuration readEmbeddedDefaults() throws ConfigException {
        try (InputStream in = ConfigSources.class.getResourceAsStream(EMBEDDED_DEFAULTS)) {
            if (in == null) {
                throw new ConfigException("the launcher jar lacks " + EMBEDDED_DEFAULTS + ": rebuild it");
            }
            PropertiesConfiguration defaults = new PropertiesConfiguration();
            try (Reader reader = new InputStreamReader(in, StandardCharsets.UTF_8)) {
                defaults.read(reader);
            }
            return defaults;
        } catch (IOException | ConfigurationException e) {
            throw new ConfigException("cannot read the embedded defaults: " + rootMessage(e));
        }
    }

    /**
     * The system properties that are configuration keys, and those under the prefixes of
     * pcache's own keys that no JVM property uses ({@code nbd.}, {@code health.}), so that a
     * misspelt {@code -Dnbd.read_view=off} is reported as an unknown key instead of ignored.
     * Other misspellings ({@code -Dhttp.listn}) cannot be told from the JVM's own properties.
     */
    private static Map<String, String> configurationKeys(Properties systemProperties) {
        Map<String, String> keys = new LinkedHashMap<>();
        for (String name : systemProperties.stringPropertyNames()) {
            if (ConfigKeys.isConfigurationKey(name) || name.startsWith("nbd.") || name.startsWith("health.")) {
                keys.put(name, systemProperties.getProperty(name));
            }
        }
        return keys;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static MapConfiguration layer(Map<String, String> values) {
        // MapConfiguration wants Map<String, Object>; it reads through the (live) map
        return new MapConfiguration((Map) values);
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t == e ? String.valueOf(e.getMessage()) : e.getMessage() + " (" + t.getMessage() + ")";
    }
}
