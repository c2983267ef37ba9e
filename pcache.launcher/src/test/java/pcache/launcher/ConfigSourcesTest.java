package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigSourcesTest {

    @TempDir
    Path dir;

    private Map<String, String> load(Optional<Path> file, Map<String, String> args, Properties sys,
            Map<String, String> env) throws ConfigException {
        return ConfigSources.load(file, args, sys, env, dir);
    }

    @Test
    void embeddedDefaultsPutEverythingUnderTheDataDirectory() throws Exception {
        Map<String, String> v = load(Optional.empty(), Map.of(), new Properties(), Map.of());
        String data = dir.resolve("data").toString();
        assertEquals(Map.of(
                "pcache.data", data,
                "nbd.listen", "127.0.0.1:10809",
                "log.level", "WARNING",
                "cache.pcache0.cache_dev", data + "/pcache0.cache",
                "cache.pcache0.cache_dev_size", "1G",
                "cache.pcache0.backing_dev", "file:" + data + "/pcache0.backing",
                "cache.pcache0.backing_dev_size", "4G"), v);
    }

    @Test
    void argumentsBeatSystemPropertiesBeatEnvironmentBeatFile() throws Exception {
        Path file = Files.writeString(dir.resolve("c.properties"), """
                cache.c.cache_dev = file-value
                cache.c.backing_dev = file-value
                cache.c.gc_percent = file-value
                cache.c.pmem = file-value
                """);
        Properties sys = new Properties();
        sys.setProperty("cache.c.backing_dev", "sys-value");
        sys.setProperty("cache.c.gc_percent", "sys-value");
        sys.setProperty("java.version", "not a configuration key");
        sys.setProperty("pcache.home", "not a configuration key either");
        Map<String, String> v = load(Optional.of(file), Map.of("cache.c.gc_percent", "arg-value"), sys,
                Map.of("PCACHE_CACHE_C_PMEM", "env-value", "PCACHE_CACHE_C_BACKING_DEV", "env-value"));
        assertEquals("file-value", v.get("cache.c.cache_dev"));
        assertEquals("env-value", v.get("cache.c.pmem"));
        assertEquals("sys-value", v.get("cache.c.backing_dev"));
        assertEquals("arg-value", v.get("cache.c.gc_percent"));
        assertTrue(!v.containsKey("java.version") && !v.containsKey("pcache.home"), v.toString());
    }

    /**
     * A misspelt key under pcache's own prefixes, given as a JVM system property, is taken, so
     * that the settings report it as unknown. Before, it was dropped without a word (read views
     * stayed on after {@code -Dnbd.read_view=off}).
     */
    @Test
    void systemPropertiesUnderPcachesOwnPrefixesAreTakenSoThatMisspellingsAreReported() throws Exception {
        Properties sys = new Properties();
        sys.setProperty("nbd.read_view", "off");
        sys.setProperty("health.dirty_warn_pct", "50");
        sys.setProperty("http.proxyHost", "a JVM property");
        Map<String, String> v = load(Optional.empty(), Map.of(), sys, Map.of());
        assertEquals("off", v.get("nbd.read_view"));
        assertEquals("50", v.get("health.dirty_warn_pct"));
        assertTrue(!v.containsKey("http.proxyHost"), v.toString());
        ConfigException e = assertThrows(ConfigException.class, () -> SettingsParser.parse(v));
        assertTrue(e.getMessage().contains("nbd.read_view") && e.getMessage().contains("health.dirty_warn_pct"),
                e.getMessage());
    }

    @Test
    void dataIsAbsoluteBeforeInterpolation() throws Exception {
        Path file = Files.writeString(dir.resolve("c.properties"), """
                pcache.data = state
                base = ${pcache.data}/devices
                cache.c.cache_dev = ${base}/c.cache
                """);
        Map<String, String> v = load(Optional.of(file), Map.of(), new Properties(), Map.of());
        assertEquals(dir.resolve("state").toString(), v.get("pcache.data"));
        assertEquals(dir.resolve("state/devices/c.cache").toString(), v.get("cache.c.cache_dev"));
    }

    @Test
    void overridingDataMovesTheEmbeddedDefaults() throws Exception {
        Map<String, String> v = load(Optional.empty(), Map.of("pcache.data", "/srv/pc"), new Properties(), Map.of());
        assertEquals("/srv/pc/pcache0.cache", v.get("cache.pcache0.cache_dev"));
        assertEquals("file:/srv/pc/pcache0.backing", v.get("cache.pcache0.backing_dev"));
    }

    @Test
    void environmentAndSystemLookupsWork() throws Exception {
        Path file = Files.writeString(dir.resolve("c.properties"), "cache.c.cache_dev = ${sys:user.home}/x\n");
        Map<String, String> v = load(Optional.of(file), Map.of(), new Properties(), Map.of());
        assertEquals(System.getProperty("user.home") + "/x", v.get("cache.c.cache_dev"));
    }

    @Test
    void unresolvedVariablesAreReported() throws Exception {
        Path file = Files.writeString(dir.resolve("c.properties"), "cache.c.cache_dev = ${nowhere}/x\n");
        ConfigException e = assertThrows(ConfigException.class,
                () -> load(Optional.of(file), Map.of(), new Properties(), Map.of()));
        assertEquals("cache.c.cache_dev=${nowhere}/x: expected variables that are set; ${nowhere} is not",
                e.getMessage());
    }

    /** A key written twice is refused: the first value would win without a word. */
    @Test
    void aKeyWrittenTwiceIsRefused() throws Exception {
        Path file = Files.writeString(dir.resolve("c.properties"), "cache.c.gc_percent = 50\ncache.c.gc_percent = 20\n");
        ConfigException e = assertThrows(ConfigException.class,
                () -> load(Optional.of(file), Map.of(), new Properties(), Map.of()));
        assertEquals("configuration file " + file.toAbsolutePath() + ": cache.c.gc_percent is set 2 times: expected it"
                + " once (which value is meant?)", e.getMessage());
    }

    /** A ${ without its closing brace is reported like an unset variable, not with a crash. */
    @Test
    void anUnclosedVariableIsReported() throws Exception {
        Path file = Files.writeString(dir.resolve("c.properties"), "cache.c.backing_identity = id${x\n");
        ConfigException e = assertThrows(ConfigException.class,
                () -> load(Optional.of(file), Map.of(), new Properties(), Map.of()));
        assertEquals("cache.c.backing_identity=id${x: expected variables written ${NAME}; ${x has no closing }",
                e.getMessage());
    }

    @Test
    void missingFileIsReported() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> load(Optional.of(dir.resolve("nope.properties")), Map.of(), new Properties(), Map.of()));
        assertEquals("configuration file " + dir.resolve("nope.properties")
                + " does not exist or is not a regular file", e.getMessage());
    }

    @Test
    void badEnvironmentVariablesAreReported() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> load(Optional.empty(), Map.of(), new Properties(), Map.of("PCACHE_NBD_LISTN", "x")));
        assertTrue(e.getMessage().startsWith("environment variable PCACHE_NBD_LISTN does not name"), e.getMessage());
    }
}
