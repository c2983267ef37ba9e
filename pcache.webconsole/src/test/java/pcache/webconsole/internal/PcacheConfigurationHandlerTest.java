package pcache.webconsole.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;

import org.apache.felix.webconsole.spi.ValidationException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;

import pcache.api.config.CacheDefinition;
import pcache.api.config.ConfigPids;
import pcache.api.config.ConfigurationChecks;

/** The Web Console's forms are checked before they are saved; a refusal names the problem and is remembered. */
class PcacheConfigurationHandlerTest {

    @TempDir
    Path dir;

    private final List<Configuration> configurations = new ArrayList<>();
    private PcacheConfigurationHandler handler;

    private static Configuration configuration(String factoryPid, String pid, Map<String, Object> properties) {
        Hashtable<String, Object> p = new Hashtable<>(properties);
        return (Configuration) Proxy.newProxyInstance(Configuration.class.getClassLoader(),
                new Class<?>[] {Configuration.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "getFactoryPid" -> factoryPid;
                    case "getPid" -> pid;
                    case "getProperties" -> p;
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    @BeforeEach
    void handlerOverOneCache() {
        configurations.add(configuration(ConfigPids.BACKING_FILE, "pcache.backing.file~a.backing",
                Map.of("name", "a.backing", "path", dir.resolve("a.disk").toString())));
        configurations.add(configuration(ConfigPids.TARGET, "pcache.target~a", Map.of("name", "a", "cache_dev",
                dir.resolve("a.cache").toString(), "backing.target", CacheDefinition.backingFilter("a.backing"))));
        handler = new PcacheConfigurationHandler();
        handler.admin = (ConfigurationAdmin) Proxy.newProxyInstance(ConfigurationAdmin.class.getClassLoader(),
                new Class<?>[] {ConfigurationAdmin.class}, (proxy, method, args) -> {
                    if (method.getName().equals("listConfigurations")) {
                        return configurations.toArray(new Configuration[0]);
                    }
                    throw new UnsupportedOperationException(method.getName());
                });
    }

    private static Dictionary<String, Object> cache(String name, Path dev) {
        Hashtable<String, Object> p = new Hashtable<>();
        p.put("name", name);
        p.put("cache_dev", dev.toString());
        p.put("cache_dev_size_bytes", 512L << 20);
        p.put("gc_percent", 70);
        p.put("backing.target", CacheDefinition.backingFilter("a.backing"));
        p.put("pmem.target", "(pcache.pmem.type=mapped)");
        return p;
    }

    /** An open cache named {@code name} holding {@code dirtyBytes} not yet written back. */
    private static pcache.api.CacheDevice openCache(String name, long dirtyBytes) {
        pcache.api.CacheStatistics stats = new pcache.api.CacheStatistics(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                dirtyBytes, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        return (pcache.api.CacheDevice) Proxy.newProxyInstance(pcache.api.CacheDevice.class.getClassLoader(),
                new Class<?>[] {pcache.api.CacheDevice.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "name" -> name;
                    case "statistics" -> stats;
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    /**
     * Deleting the configuration of a cache that holds data not yet written back is refused, as
     * pcache:remove refuses it: closing the cache would leave the data only on its cache device.
     * Before, the console deleted it, the export went away and every health check turned green.
     */
    @Test
    void aDirtyCachesConfigurationIsNotDeleted() throws Exception {
        handler.caches = List.of(openCache("a", 8192));
        ValidationException e = assertThrows(ValidationException.class,
                () -> handler.deleteConfiguration(ConfigPids.TARGET, "pcache.target~a"));
        assertTrue(e.getMessage().contains("cache 'a' holds 8192 bytes not yet written back"), e.getMessage());
        handler.caches = List.of(openCache("a", 0));
        handler.deleteConfiguration(ConfigPids.TARGET, "pcache.target~a"); // clean: it may go
    }

    @Test
    void aSoundFormPassesAndNothingIsRemembered() throws Exception {
        handler.updateConfiguration(ConfigPids.TARGET, "pcache.target.new", cache("b", dir.resolve("b.cache")));
        handler.updateConfiguration(ConfigPids.TARGET, "pcache.target~a", cache("a", dir.resolve("a.cache")));
        assertEquals(List.of(), handler.refusals());
    }

    @Test
    void aRefusedFormSaysEveryProblemAndThePageListsItNewestFirst() throws Exception {
        Dictionary<String, Object> p = cache("a", dir.resolve("a.cache"));
        p.put("cache_dev_size_bytes", 256L << 20);
        p.put("pmem.target", "(pcache.pmem.type=mapped");
        ValidationException e = assertThrows(ValidationException.class,
                () -> handler.updateConfiguration(ConfigPids.TARGET, "pcache.target.new", p));
        assertTrue(e.getMessage().startsWith("pcache refused this change of pcache.target 'a': "
                + "cache_dev_size_bytes=268435456: expected 0 (the device must exist) or at least 536870912"),
                e.getMessage());
        assertTrue(e.getMessage().contains("; " + ConfigurationChecks.cacheNameTaken("a") + "; "
                + ConfigurationChecks.cacheDeviceTaken(dir.resolve("a.cache"), "a")), e.getMessage());
        assertTrue(e.getMessage().contains("; pmem.target=(pcache.pmem.type=mapped: not an LDAP filter"),
                e.getMessage());
        assertThrows(ValidationException.class,
                () -> handler.deleteConfiguration(ConfigPids.BACKING_FILE, "pcache.backing.file~a.backing"));
        List<PcacheConfigurationHandler.Refusal> refusals = handler.refusals();
        assertEquals(2, refusals.size());
        assertTrue(refusals.get(0).message().contains("is the backing device of cache 'a'"), refusals.toString());
        assertEquals(e.getMessage(), refusals.get(1).message());
        assertEquals("pcache.target 'a'", refusals.get(1).configuration());
    }

    @Test
    void onlyTheLatestRefusalsAreKept() {
        for (int i = 0; i < PcacheConfigurationHandler.REMEMBERED + 5; i++) {
            Dictionary<String, Object> p = cache("c" + i, dir.resolve("c.cache"));
            p.put("gc_percent", 91 + i);
            assertThrows(ValidationException.class, () -> handler.updateConfiguration(ConfigPids.TARGET, null, p));
        }
        List<PcacheConfigurationHandler.Refusal> refusals = handler.refusals();
        assertEquals(PcacheConfigurationHandler.REMEMBERED, refusals.size());
        assertEquals("pcache.target 'c" + (PcacheConfigurationHandler.REMEMBERED + 4) + "'",
                refusals.get(0).configuration());
    }

    @Test
    void otherConfigurationsAreNotPcachesToCheck() throws Exception {
        Hashtable<String, Object> p = new Hashtable<>(Map.of("manager.root", "/system/console"));
        handler.updateConfiguration(null, "org.apache.felix.webconsole.internal.servlet.OsgiManager", p);
        handler.deleteConfiguration(ConfigPids.TARGET, "pcache.target~a");
        assertEquals(List.of(), handler.refusals());
    }
}
