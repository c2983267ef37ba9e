package pcache.launcher;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Maps environment variables to configuration keys.
 *
 * <p>The rule: a variable {@code PCACHE_<X>} sets the key whose upper-cased form, with every
 * {@code .} and {@code -} replaced by {@code _}, is {@code <X>}:
 * <ul>
 * <li>{@code PCACHE_PCACHE_DATA}, {@code PCACHE_LOG_LEVEL}, {@code PCACHE_HTTP_LISTEN},
 * {@code PCACHE_HEALTH_DIRTY_WARN_PERCENT} and {@code PCACHE_NBD_<KEY>} (e.g.
 * {@code PCACHE_NBD_LISTEN}, {@code PCACHE_NBD_TLS}) set the global keys;</li>
 * <li>{@code PCACHE_CACHE_<NAME>_<ATTRIBUTE>} sets {@code cache.<name>.<attribute>}, e.g.
 * {@code PCACHE_CACHE_PCACHE0_GC_PERCENT=50}. The attribute is recognised from the end (the
 * longest known attribute wins); {@code <NAME>} is matched against the caches the other sources
 * define, ignoring case and treating {@code -} as {@code _}; a name no other source defines is
 * taken in lower case.</li>
 * </ul>
 * {@link #JAVA_OPTS} is the start script's (the JVM's options), not a key, and is passed over.
 * Any other {@code PCACHE_*} variable is an error, so a misspelt variable is not silently ignored.
 */
public final class EnvironmentKeys {

    /** Prefix of every variable this class reads. */
    public static final String PREFIX = "PCACHE_";

    /** The start script's variable for the JVM's options; the script's environment passes it on to the JVM. */
    public static final String JAVA_OPTS = "PCACHE_JAVA_OPTS";

    private static final String CACHE = "CACHE_";

    private EnvironmentKeys() {
    }

    /**
     * Translates the {@code PCACHE_*} variables of {@code environment} into configuration keys.
     *
     * @param environment all environment variables (others are ignored)
     * @param knownCaches names of caches the other sources define
     * @throws ConfigException listing every variable that does not name a key
     */
    public static Map<String, String> map(Map<String, String> environment, Collection<String> knownCaches)
            throws ConfigException {
        Map<String, String> keys = new TreeMap<>();
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, String> e : new TreeMap<>(environment).entrySet()) {
            String variable = e.getKey();
            if (!variable.startsWith(PREFIX) || variable.equals(JAVA_OPTS)) {
                continue;
            }
            try {
                keys.put(keyOf(variable, knownCaches), e.getValue());
            } catch (IllegalArgumentException bad) {
                problems.add(bad.getMessage());
            }
        }
        if (!problems.isEmpty()) {
            throw new ConfigException(problems);
        }
        return keys;
    }

    /** The environment variable that sets {@code key} (for messages and documentation). */
    public static String variableOf(String key) {
        return PREFIX + normalise(key);
    }

    private static String keyOf(String variable, Collection<String> knownCaches) {
        String rest = variable.substring(PREFIX.length());
        for (String global : ConfigKeys.GLOBAL) {
            if (normalise(global).equals(rest)) {
                return global;
            }
        }
        if (rest.startsWith(CACHE)) {
            String nameAndAttribute = rest.substring(CACHE.length());
            String attribute = ConfigKeys.CACHE_ATTRIBUTES.stream()
                    .sorted(Comparator.comparingInt(String::length).reversed())
                    .filter(a -> nameAndAttribute.endsWith("_" + normalise(a))
                            && nameAndAttribute.length() > a.length() + 1)
                    .findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("environment variable " + variable
                            + ": expected PCACHE_CACHE_<NAME>_<ATTRIBUTE> with ATTRIBUTE one of "
                            + String.join(", ", ConfigKeys.CACHE_ATTRIBUTES.stream()
                                    .map(EnvironmentKeys::normalise).toList())));
            String envName = nameAndAttribute.substring(0, nameAndAttribute.length() - attribute.length() - 1);
            return ConfigKeys.CACHE_PREFIX + cacheName(variable, envName, knownCaches) + "." + attribute;
        }
        throw new IllegalArgumentException("environment variable " + variable
                + " does not name a configuration key: expected PCACHE_PCACHE_DATA, PCACHE_LOG_LEVEL, PCACHE_HTTP_LISTEN, "
                + "PCACHE_HEALTH_DIRTY_WARN_PERCENT, PCACHE_NBD_<KEY> (" + String.join(", ", ConfigKeys.NBD.stream().map(EnvironmentKeys::variableOf).toList())
                + ") or PCACHE_CACHE_<NAME>_<ATTRIBUTE>");
    }

    private static String cacheName(String variable, String envName, Collection<String> knownCaches) {
        List<String> matches = knownCaches.stream().filter(n -> normalise(n).equals(envName)).distinct().toList();
        if (matches.size() > 1) {
            throw new IllegalArgumentException("environment variable " + variable + " matches the caches "
                    + String.join(" and ", matches) + ": rename one of them or use -Dcache.<name>...");
        }
        return matches.isEmpty() ? envName.toLowerCase(Locale.ROOT) : matches.get(0);
    }

    private static String normalise(String key) {
        return key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
    }
}
