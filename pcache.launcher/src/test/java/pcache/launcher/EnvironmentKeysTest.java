package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.Test;

class EnvironmentKeysTest {

    @Test
    void globalKeys() throws Exception {
        assertEquals(Map.of("pcache.data", "/srv/pcache", "nbd.listen", "unix:/run/nbd.sock", "log.level", "INFO"),
                EnvironmentKeys.map(Map.of("PCACHE_PCACHE_DATA", "/srv/pcache", "PCACHE_NBD_LISTEN",
                        "unix:/run/nbd.sock", "PCACHE_LOG_LEVEL", "INFO", "HOME", "/root"), Set.of()));
    }

    @Test
    void cacheKeysMatchKnownCachesIgnoringCaseAndDashes() throws Exception {
        Map<String, String> keys = EnvironmentKeys.map(Map.of(
                "PCACHE_CACHE_PCACHE0_GC_PERCENT", "50",
                "PCACHE_CACHE_MY_DISK_CACHE_DEV_SIZE", "2G",
                "PCACHE_CACHE_MY_DISK_CACHE_DEV", "/dev/pmem0",
                "PCACHE_CACHE_FAST_BACKING_DEV", "file:/x"), List.of("pcache0", "my-disk", "Fast"));
        assertEquals(Map.of("cache.pcache0.gc_percent", "50", "cache.my-disk.cache_dev_size", "2G",
                "cache.my-disk.cache_dev", "/dev/pmem0", "cache.Fast.backing_dev", "file:/x"), keys);
    }

    @Test
    void unknownCacheNamesAreLowerCased() throws Exception {
        assertEquals(Map.of("cache.new_one.backing_dev", "file:/y"),
                EnvironmentKeys.map(Map.of("PCACHE_CACHE_NEW_ONE_BACKING_DEV", "file:/y"), Set.of("pcache0")));
    }

    @Test
    void variableOfIsTheInverse() {
        assertEquals("PCACHE_CACHE_PCACHE0_GC_PERCENT", EnvironmentKeys.variableOf("cache.pcache0.gc_percent"));
        assertEquals("PCACHE_PCACHE_DATA", EnvironmentKeys.variableOf("pcache.data"));
    }

    @Test
    void theStartScriptsJvmOptionsAreNotAKey() throws Exception {
        // ./pcache reads PCACHE_JAVA_OPTS, and the JVM it starts inherits it
        assertEquals(Map.of("nbd.tls", "require"), EnvironmentKeys.map(Map.of(
                "PCACHE_JAVA_OPTS", "-Xms8g -XX:+AlwaysPreTouch -XX:GCTimeRatio=4",
                "PCACHE_NBD_TLS", "require"), Set.of()));
        assertEquals(Map.of(), EnvironmentKeys.map(Map.of("PCACHE_JAVA_OPTS", ""), Set.of()));
    }

    @Test
    void everyUnknownVariableIsReported() {
        ConfigException e = assertThrows(ConfigException.class, () -> EnvironmentKeys.map(Map.of(
                "PCACHE_CACHE_PCACHE0_GC_PERCNT", "50",
                "PCACHE_HOME", "/opt",
                "PCACHE_CACHE_GC_PERCENT", "5"), Set.of("pcache0")));
        assertEquals(3, e.problems().size(), e.getMessage());
        assertTrue(e.problems().get(0).startsWith("environment variable PCACHE_CACHE_GC_PERCENT: expected "
                + "PCACHE_CACHE_<NAME>_<ATTRIBUTE> with ATTRIBUTE one of CACHE_DEV, "), e.getMessage());
        assertTrue(e.problems().get(1).startsWith("environment variable PCACHE_CACHE_PCACHE0_GC_PERCNT: expected"),
                e.getMessage());
        assertEquals("environment variable PCACHE_HOME does not name a configuration key: expected "
                + "PCACHE_PCACHE_DATA, PCACHE_LOG_LEVEL, PCACHE_HTTP_LISTEN, PCACHE_HEALTH_DIRTY_WARN_PERCENT, PCACHE_NBD_<KEY> (PCACHE_NBD_LISTEN, PCACHE_NBD_TLS, "
                + "PCACHE_NBD_TLS_CERTIFICATES, PCACHE_NBD_TLS_PSK_FILE, PCACHE_NBD_TLS_VERIFY_PEER, "
                + "PCACHE_NBD_INSECURE_ALLOW_CLEARTEXT_NETWORK, PCACHE_NBD_READ_VIEWS) or PCACHE_CACHE_<NAME>_<ATTRIBUTE>",
                e.problems().get(2));
    }

    @Test
    void ambiguousCacheNamesAreReported() {
        ConfigException e = assertThrows(ConfigException.class, () -> EnvironmentKeys.map(
                Map.of("PCACHE_CACHE_A_B_PMEM", "heap"), List.of("a-b", "a_b")));
        assertEquals("environment variable PCACHE_CACHE_A_B_PMEM matches the caches a-b and a_b: rename one of "
                + "them or use -Dcache.<name>...", e.getMessage());
    }
}
