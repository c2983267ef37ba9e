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

import pcache.api.BackingState;
import pcache.api.CacheMode;
import pcache.api.CachePos;
import pcache.api.CacheStatus;
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

    /** What a test cache was asked to do, in order. */
    private final List<String> calls = new ArrayList<>();

    /** An open cache named {@code name} on {@code name}.cache, in write-back mode, holding {@code dirtyBytes} not yet written back. */
    private pcache.api.CacheDevice openCache(String name, long dirtyBytes) {
        return openCache(name, dirtyBytes, dir.resolve(name + ".cache"));
    }

    private pcache.api.CacheDevice openCache(String name, long dirtyBytes, Path cacheDev) {
        pcache.api.CacheStatistics stats = new pcache.api.CacheStatistics(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                dirtyBytes, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        CacheMode[] mode = {CacheMode.WRITEBACK};
        return (pcache.api.CacheDevice) Proxy.newProxyInstance(pcache.api.CacheDevice.class.getClassLoader(),
                new Class<?>[] {pcache.api.CacheDevice.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "name" -> name;
                    case "statistics" -> stats;
                    case "mode" -> mode[0];
                    case "status" -> new CacheStatus(name, 0, 16, 16, 1, 70, 0, new CachePos(0, 0),
                            new CachePos(0, dirtyBytes > 0 ? 4096 : 0), new CachePos(0, 0), mode[0], false,
                            BackingState.ONLINE, "a.backing", cacheDev.toString());
                    case "flush" -> {
                        calls.add(name + ": flush");
                        yield null;
                    }
                    case "setMode" -> {
                        mode[0] = (CacheMode) args[0];
                        calls.add(name + ": " + mode[0]);
                        yield null;
                    }
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
        assertEquals(List.of("a: flush"), calls, "nothing but a flush");
        handler.caches = List.of(openCache("a", 0));
        handler.deleteConfiguration(ConfigPids.TARGET, "pcache.target~a"); // clean: it may go
    }

    /**
     * A clean open cache is switched to passthrough before its configuration goes, after a flush, as
     * pcache:remove does: a write arriving between the check and the deletion then goes straight to
     * the backing device. Before, it stayed dirty on the cache device of a cache that closed.
     */
    @Test
    void aCleanOpenCacheGoesToPassthroughBeforeItsConfigurationIsDeleted() throws Exception {
        handler.caches = List.of(openCache("a", 0));
        handler.deleteConfiguration(ConfigPids.TARGET, "pcache.target~a");
        assertEquals(List.of("a: flush", "a: PASSTHROUGH"), calls);
        handler.deleteConfiguration(ConfigPids.TARGET, "pcache.target~a"); // already passthrough: nothing to do
        assertEquals(List.of("a: flush", "a: PASSTHROUGH"), calls);
    }

    /**
     * A saved cache's name cannot change in the form (the cache keeps its own and refuses it, while
     * ConfigAdmin kept the new one), nor its cache device while it is open. Before, both were saved:
     * a deletion then looked for an open cache of the new name, found none, and let a cache with
     * dirty data go.
     */
    @Test
    void aSavedCacheIsNotRenamedNorMovedWhileOpenInTheForm() throws Exception {
        handler.caches = List.of(openCache("a", 8192));
        ValidationException renamed = assertThrows(ValidationException.class, () -> handler.updateConfiguration(
                ConfigPids.TARGET, "pcache.target~a", cache("b", dir.resolve("a.cache"))));
        assertTrue(renamed.getMessage().contains("name cannot change (from a to b)"), renamed.getMessage());
        ValidationException moved = assertThrows(ValidationException.class, () -> handler.updateConfiguration(
                ConfigPids.TARGET, "pcache.target~a", cache("a", dir.resolve("other.cache"))));
        assertTrue(moved.getMessage().contains("cache_dev cannot change while cache 'a' is open (from "
                + dir.resolve("a.cache") + " to " + dir.resolve("other.cache") + ")"), moved.getMessage());
        handler.updateConfiguration(ConfigPids.TARGET, "pcache.target~a", cache("a", dir.resolve("a.cache")));

        handler.caches = List.of(); // not open (it failed to open, say): its cache_dev may be mended
        handler.updateConfiguration(ConfigPids.TARGET, "pcache.target~a", cache("a", dir.resolve("other.cache")));
        assertThrows(ValidationException.class, () -> handler.updateConfiguration(
                ConfigPids.TARGET, "pcache.target~a", cache("b", dir.resolve("a.cache"))));
    }

    /**
     * A stored name the cache refused (changed in ConfigAdmin by other means than this form) does not
     * hide the open cache from the deletion check: it is found by its cache device.
     */
    @Test
    void aDeletionFindsTheOpenCacheByItsDeviceWhenItsStoredNameDiffers() {
        configurations.set(1, configuration(ConfigPids.TARGET, "pcache.target~a", Map.of("name", "b", "cache_dev",
                dir.resolve("a.cache").toString(), "backing.target", CacheDefinition.backingFilter("a.backing"))));
        handler.caches = List.of(openCache("a", 8192));
        ValidationException e = assertThrows(ValidationException.class,
                () -> handler.deleteConfiguration(ConfigPids.TARGET, "pcache.target~a"));
        assertTrue(e.getMessage().contains("cache 'a' holds 8192 bytes not yet written back"), e.getMessage());
    }

    /** The form's values reach the log and the page with their line breaks escaped. */
    @Test
    void aRefusalShowsTheFormsLineBreaksEscaped() {
        Dictionary<String, Object> p = cache("a", dir.resolve("c.cache"));
        p.put("pmem.target", "(x\nFAKE LOG LINE");
        ValidationException e = assertThrows(ValidationException.class,
                () -> handler.updateConfiguration(ConfigPids.TARGET, "pcache.target.new", p));
        assertTrue(e.getMessage().contains("pmem.target=(x\\u000aFAKE LOG LINE"), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), e.getMessage());
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
