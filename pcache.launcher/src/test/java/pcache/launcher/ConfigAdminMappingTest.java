package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.logging.Level;

import org.junit.jupiter.api.Test;

import pcache.api.CacheMode;
import pcache.api.config.BackingLocation;
import pcache.api.config.CacheDefinition;
import pcache.api.config.ExportDefinition;
import pcache.api.config.CachePart;

/** The dictionaries are compared with equals, so the value types (Long, Integer, Boolean) count too. */
class ConfigAdminMappingTest {

    private static Map<String, Object> map(Object... keyValues) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            m.put((String) keyValues[i], keyValues[i + 1]);
        }
        return m;
    }

    @Test
    void fileBackedCacheWithDefaults() {
        CacheDefinition cache = new CacheDefinition("pcache0", Path.of("/data/pcache0.cache"), 1L << 30,
                new BackingLocation.File(Path.of("/data/pcache0.backing")), 4L << 30, CacheMode.WRITEBACK, false, 70,
                CacheDefinition.defaultParts(), Optional.empty(), false, Duration.ofSeconds(30));
        List<ConfigurationRecord> records = ConfigAdminMapping.map(
                new PcacheSettings(Path.of("/data"), export("127.0.0.1:10809"), Level.WARNING, List.of(cache)));

        assertEquals(List.of(
                new ConfigurationRecord("pcache.backing.file", Optional.of("pcache0.backing"), map(
                        "name", "pcache0.backing",
                        "path", "/data/pcache0.backing",
                        "size_bytes", 4294967296L,
                        "create", Boolean.TRUE)),
                new ConfigurationRecord("pcache.target", Optional.of("pcache0"), map(
                        "name", "pcache0",
                        "cache_dev", "/data/pcache0.cache",
                        "cache_dev_size_bytes", 1073741824L,
                        "cache_mode", "writeback",
                        "data_crc", Boolean.FALSE,
                        "gc_percent", 70,
                        "backing.target", "(pcache.backing.name=pcache0.backing)",
                        "pmem.target", "(pcache.pmem.type=mapped)",
                        "writeback.target", "(pcache.writeback.policy=ordered)",
                        "crc.target", "(pcache.crc.algorithm=crc32c-pcache)",
                        "keyindex.target", "(pcache.keyindex.name=striped)",
                        "allocator.target", "(pcache.allocator.name=fifo)",
                        "force_identity", Boolean.FALSE,
                        "backing_timeout_ms", 30000L)),
                new ConfigurationRecord("pcache.export.nbd", Optional.empty(), map("listen", "127.0.0.1:10809", "tls", "off",
                        "insecure_allow_cleartext_network", false, "read_views", "on"))),
                records);
        assertEquals("pcache.backing.file~pcache0.backing", records.get(0).effectivePid());
        assertEquals("pcache.export.nbd", records.get(2).effectivePid());
    }

    @Test
    void existingBackingFileIsNotCreated() {
        CacheDefinition cache = new CacheDefinition("c", Path.of("/d/c.cache"), 0,
                new BackingLocation.File(Path.of("/dev/sdb")), 0, CacheMode.WRITEBACK, false, 70,
                CacheDefinition.defaultParts(), Optional.of("sdb-serial-42"), false, Duration.ofSeconds(30));
        assertEquals(map("name", "c.backing", "path", "/dev/sdb", "size_bytes", 0L, "create", Boolean.FALSE,
                "identity", "sdb-serial-42"), ConfigAdminMapping.backing(cache).properties());
        assertEquals(0L, ConfigAdminMapping.target(cache).properties().get("cache_dev_size_bytes"));
    }

    @Test
    void nbdBackedCacheWithEverythingSet() {
        Map<CachePart, String> parts = new EnumMap<>(Map.of(CachePart.PMEM, "heap", CachePart.WRITEBACK_POLICY,
                "batching", CachePart.CRC, "crc-mine", CachePart.KEY_INDEX, "btree", CachePart.ALLOCATOR, "lru"));
        CacheDefinition cache = new CacheDefinition("remote", Path.of("/dev/dax0.0"), 0,
                new BackingLocation.Nbd(URI.create("nbd+unix:///disk?socket=/run/nbd.sock")), 0,
                CacheMode.WRITETHROUGH, true, 0, parts, Optional.of("disk-1"), true, Duration.ofMillis(1500));

        assertEquals(new ConfigurationRecord("pcache.backing.nbd", Optional.of("remote.backing"), map(
                "name", "remote.backing",
                "uri", "nbd+unix:///disk?socket=/run/nbd.sock",
                "identity", "disk-1")), ConfigAdminMapping.backing(cache));
        assertEquals(new ConfigurationRecord("pcache.target", Optional.of("remote"), map(
                "name", "remote",
                "cache_dev", "/dev/dax0.0",
                "cache_dev_size_bytes", 0L,
                "cache_mode", "writethrough",
                "data_crc", Boolean.TRUE,
                "gc_percent", 0,
                "backing.target", "(pcache.backing.name=remote.backing)",
                "pmem.target", "(pcache.pmem.type=heap)",
                "writeback.target", "(pcache.writeback.policy=batching)",
                "crc.target", "(pcache.crc.algorithm=crc-mine)",
                "keyindex.target", "(pcache.keyindex.name=btree)",
                "allocator.target", "(pcache.allocator.name=lru)",
                "force_identity", Boolean.TRUE,
                "backing_timeout_ms", 1500L)), ConfigAdminMapping.target(cache));
    }

    /** Names go into reference targets escaped, whatever they hold. */
    @Test
    void filterValuesAreEscaped() {
        Map<CachePart, String> parts = new EnumMap<>(CacheDefinition.defaultParts());
        parts.put(CachePart.CRC, "a*b");
        CacheDefinition cache = new CacheDefinition("c", Path.of("/d/c.cache"), 0,
                new BackingLocation.File(Path.of("/dev/sdb")), 0, CacheMode.WRITEBACK, false, 70, parts,
                Optional.empty(), false, Duration.ofSeconds(30));
        assertEquals("(pcache.crc.algorithm=a\\*b)", ConfigAdminMapping.target(cache).properties().get("crc.target"));
    }

    @Test
    void noCachesStillConfiguresTheExport() {
        assertEquals(List.of(new ConfigurationRecord("pcache.export.nbd", Optional.empty(),
                map("listen", "unix:/run/pcache/nbd.sock", "tls", "off", "insecure_allow_cleartext_network", false,
                        "read_views", "on"))),
                ConfigAdminMapping.map(new PcacheSettings(Path.of("/d"), export("unix:/run/pcache/nbd.sock"), Level.INFO,
                        List.of())));
    }

    /**
     * With http.listen the health checks get their threshold and Felix Health Checks serve the
     * checks tagged pcache at /system/health, in JSON, 503 unless all pass, ignoring what a
     * request asks for; without it none of these configurations exist.
     */
    @Test
    void httpAddsTheHealthConfigurations() throws Exception {
        PcacheSettings s = SettingsParser.parse(Map.of("pcache.data", "/srv", "http.listen", "127.0.0.1:8080",
                "health.dirty_warn_percent", "60", "http.allowed_hosts", " Pcache.Example.com., nas.example "));
        List<ConfigurationRecord> records = ConfigAdminMapping.map(s);
        assertEquals(List.of("pcache.export.nbd", "pcache.health",
                "org.apache.felix.hc.core.impl.executor.HealthCheckExecutorImpl",
                "org.apache.felix.webconsole.internal.servlet.OsgiManager", "pcache.webconsole", "pcache.http"),
                records.stream().map(ConfigurationRecord::effectivePid).toList());
        assertEquals(List.of("pcache.example.com", "nas.example"),
                List.of((String[]) records.get(5).properties().get("allowed_hosts")), "canonical names for the Host check");
        assertEquals(Map.of("dirty_warn_percent", 60), records.get(1).properties());
        assertEquals(Map.of("defaultTags", "pcache"), records.get(2).properties());
        assertEquals("/system/console", records.get(3).properties().get("manager.root"));
        assertEquals(Map.of("credentials_file", "/srv/console-credentials"), records.get(4).properties(),
                "generated in the data directory without http.console_credentials");
        List<ConfigurationRecord> late = ConfigAdminMapping.afterPcacheBundles(s);
        assertEquals(List.of("org.apache.felix.hc.core.impl.servlet.HealthCheckExecutorServlet~pcache"),
                late.stream().map(ConfigurationRecord::effectivePid).toList(), "the servlet once the checks exist");
        assertEquals(map("servletPath", "/system/health", "tags", "pcache", "format", "json", "allowed.formats", "json",
                "httpStatusMapping", "OK:200,WARN:503,TEMPORARILY_UNAVAILABLE:503,CRITICAL:503,HEALTH_CHECK_ERROR:503",
                "disable.request.configuration", true, "cors.accessControlAllowOrigin", ""), late.get(0).properties());

        PcacheSettings without = SettingsParser.parse(Map.of("pcache.data", "/srv", "health.dirty_warn_percent", "60"));
        assertEquals(List.of("pcache.export.nbd"),
                ConfigAdminMapping.map(without).stream().map(ConfigurationRecord::effectivePid).toList());
        assertEquals(List.of(), ConfigAdminMapping.afterPcacheBundles(without));
        assertEquals(80, SettingsParser.parse(Map.of("pcache.data", "/srv")).dirtyWarnPercent(), "the default");
    }

    /** The export's TLS keys reach its configuration as the contract's properties. */
    @Test
    void tlsKeysReachTheExportsConfiguration() throws Exception {
        PcacheSettings s = SettingsParser.parse(Map.of("pcache.data", "/srv", "nbd.listen", "0.0.0.0:10809",
                "nbd.tls", "require", "nbd.tls_psk_file", "keys.psk", "nbd.read_views", "on"));
        ConfigurationRecord export = ConfigAdminMapping.map(s).get(0);
        assertEquals(new ConfigurationRecord("pcache.export.nbd", Optional.empty(), map("listen", "0.0.0.0:10809",
                "tls", "require", "tls_psk_file", "/srv/keys.psk", "insecure_allow_cleartext_network", false,
                "read_views", "on", "tlsProvider.cardinality.minimum", 1)), export);
    }

    private static ExportDefinition export(String listen) {
        return ExportDefinition.parse(Map.of("listen", listen), Path.of("/"), "nbd.").definition().orElseThrow();
    }

    /** From the embedded defaults all the way to the dictionaries, as the launcher does it. */
    @Test
    void embeddedDefaultsEndToEnd() throws Exception {
        Path cwd = Path.of("/virtual/x");
        PcacheSettings s = SettingsParser.parse(ConfigSources.load(Optional.empty(), Map.of(), new Properties(),
                Map.of("PCACHE_CACHE_PCACHE0_GC_PERCENT", "50"), cwd));
        List<ConfigurationRecord> records = ConfigAdminMapping.map(s);
        assertEquals(3, records.size());
        assertEquals(map("name", "pcache0.backing", "path", "/virtual/x/data/pcache0.backing",
                "size_bytes", 4L << 30, "create", Boolean.TRUE), records.get(0).properties());
        assertEquals("/virtual/x/data/pcache0.cache", records.get(1).properties().get("cache_dev"));
        assertEquals(50, records.get(1).properties().get("gc_percent"));
        assertEquals(1L << 30, records.get(1).properties().get("cache_dev_size_bytes"));
    }
}
