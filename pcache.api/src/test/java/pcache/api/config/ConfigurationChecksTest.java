package pcache.api.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The checks of a configuration saved by other means than the launcher's file or {@code pcache:create}. */
class ConfigurationChecksTest {

    @TempDir
    Path dir;

    private Path cacheDev;
    private Path disk;
    private ConfigurationChecks.Existing backing;
    private ConfigurationChecks.Existing target;

    @BeforeEach
    void existingCache() throws IOException {
        cacheDev = dir.resolve("a.cache");
        disk = Files.createFile(dir.resolve("a.disk"));
        Files.write(disk, new byte[4096]);
        backing = new ConfigurationChecks.Existing(ConfigPids.BACKING_FILE, "pcache.backing.file~a.backing",
                Map.of(BackingProperties.NAME, "a.backing", BackingProperties.PATH, disk.toString()));
        target = new ConfigurationChecks.Existing(ConfigPids.TARGET, "pcache.target~a",
                Map.of(TargetProperties.NAME, "a", TargetProperties.CACHE_DEV, cacheDev.toString(),
                        TargetProperties.CACHE_DEV_SIZE_BYTES, 1L << 30, TargetProperties.BACKING_TARGET,
                        CacheDefinition.backingFilter("a.backing")));
    }

    private Map<String, Object> newCache(String name, Path dev) {
        Map<String, Object> p = new HashMap<>();
        p.put(TargetProperties.NAME, name);
        p.put(TargetProperties.CACHE_DEV, dev.toString());
        p.put(TargetProperties.CACHE_DEV_SIZE_BYTES, TargetProperties.CACHE_DEV_SIZE_MIN);
        p.put(TargetProperties.BACKING_TARGET, CacheDefinition.backingFilter("a.backing"));
        return p;
    }

    private List<String> targetProblems(String pid, Map<String, Object> p) {
        return ConfigurationChecks.problems(ConfigPids.TARGET, pid, p, List.of(backing, target));
    }

    @Test
    void aSoundNewCacheHasNoProblemAndEditingTheExistingOneIsNoConflictWithItself() {
        assertEquals(List.of(), targetProblems(null, newCache("b", dir.resolve("b.cache"))));
        Map<String, Object> edited = new HashMap<>(target.properties());
        edited.put(TargetProperties.GC_PERCENT, 55);
        assertEquals(List.of(), targetProblems(target.pid(), edited));
    }

    @Test
    void valuesAreCheckedWithTheRulesOfTheLauncherAndTheShell() {
        Map<String, Object> p = newCache("bad name", dir.resolve("b.cache"));
        p.put(TargetProperties.CACHE_DEV_SIZE_BYTES, 256L << 20);
        p.put(TargetProperties.GC_PERCENT, 95);
        p.put(TargetProperties.CACHE_MODE, "fast");
        p.put(TargetProperties.STREAMS, 99);
        List<String> problems = targetProblems(null, p);
        assertEquals(CacheDefinition.targetProblems("bad name", p.get(TargetProperties.CACHE_DEV).toString(), 256L << 20,
                "fast", 95, TargetProperties.BACKING_TIMEOUT_MS_DEFAULT), problems.subList(0, 4), problems.toString());
        assertTrue(problems.get(4).startsWith("streams=99: expected 0"), problems.toString());
        assertEquals(5, problems.size(), problems.toString());
    }

    @Test
    void aNumberThatIsNoNumberIsNamed() {
        Map<String, Object> p = newCache("b", dir.resolve("b.cache"));
        p.put(TargetProperties.GC_PERCENT, "seventy");
        assertEquals(List.of("gc_percent=seventy: expected a whole number"), targetProblems(null, p));
    }

    /**
     * A backing timeout meant as "forever" is refused: waits are counted in nanoseconds, and
     * Long.MAX_VALUE milliseconds overflowed there, so every wait for a device ended at once.
     */
    @Test
    void aBackingTimeoutTooLongToCountIsRefused() {
        Map<String, Object> p = newCache("b", dir.resolve("b.cache"));
        p.put(TargetProperties.BACKING_TIMEOUT_MS, Long.MAX_VALUE);
        assertEquals(List.of("backing_timeout_ms=" + Long.MAX_VALUE + ": expected a positive number of milliseconds,"
                + " at most 315360000000 (ten years)"), targetProblems(null, p));
        p.put(TargetProperties.BACKING_TIMEOUT_MS, TargetProperties.BACKING_TIMEOUT_MS_MAX);
        assertEquals(List.of(), targetProblems(null, p));
    }

    /** A cache device or disk reached through a link is the file it links to: taken. */
    @Test
    void aDeviceReachedThroughALinkIsTaken() throws IOException {
        Path folderLink = Files.createSymbolicLink(dir.resolve("link"), dir);
        assertEquals(List.of(ConfigurationChecks.cacheDeviceTaken(folderLink.resolve("a.cache").toString(), "a")),
                targetProblems(null, newCache("b", folderLink.resolve("a.cache"))));
        List<String> problems = ConfigurationChecks.problems(ConfigPids.BACKING_FILE, null,
                Map.of(BackingProperties.NAME, "b.backing", BackingProperties.PATH, folderLink.resolve("a.disk").toString()),
                List.of(backing, target));
        assertEquals(1, problems.size(), problems.toString());
        assertTrue(problems.get(0).contains("a.backing"), problems.toString());
    }

    /**
     * A cache device may not be a backing device's disk, nor a backing file a cache device, as
     * pcache:create refuses: one's write-back would overwrite the other. Before, configurations
     * saved by other means (the web console) were not checked for it.
     */
    @Test
    void aCacheDeviceIsNoDiskAndADiskNoCacheDevice() {
        List<String> asCacheDevice = targetProblems(null, newCache("b", disk));
        assertEquals("cache_dev=" + disk + " is the disk of backing device 'a.backing' (file:" + disk + "): a cache"
                + " device and a backing device must be different files; choose another cache_dev",
                asCacheDevice.get(asCacheDevice.size() - 1), asCacheDevice.toString());
        List<String> problems = ConfigurationChecks.problems(ConfigPids.BACKING_FILE, null,
                Map.of(BackingProperties.NAME, "b.backing", BackingProperties.PATH, cacheDev.toString(),
                        BackingProperties.CREATE, true, BackingProperties.SIZE_BYTES, 1L << 20),
                List.of(backing, target));
        assertEquals(List.of("path=" + cacheDev + " is the cache device of cache 'a': a backing device must not be"
                + " another cache's cache device; choose another path"), problems);
    }

    @Test
    void conflictsAreRefusedWithPcacheCreatesMessages() {
        List<String> problems = targetProblems(null, newCache("a", cacheDev));
        assertEquals(List.of(ConfigurationChecks.cacheNameTaken("a"), ConfigurationChecks.cacheDeviceTaken(cacheDev,
                "a")), problems);
        assertEquals("a cache named 'a' already exists (pcache:remove a removes it)", problems.get(0));
    }

    @Test
    void aMissingCacheDeviceNeedsASizeAndABackingDeviceMustBeConfiguredFirst() {
        Map<String, Object> p = newCache("b", dir.resolve("b.cache"));
        p.put(TargetProperties.CACHE_DEV_SIZE_BYTES, 0L);
        p.put(TargetProperties.BACKING_TARGET, CacheDefinition.backingFilter("nothing"));
        List<String> problems = targetProblems(null, p);
        assertEquals(2, problems.size(), problems.toString());
        assertTrue(problems.get(0).startsWith("cache device " + dir.resolve("b.cache") + " does not exist: give"
                + " cache_dev_size_bytes"), problems.get(0));
        assertTrue(problems.get(1).startsWith("backing.target=(pcache.backing.name=nothing): no backing device named"
                + " 'nothing' is configured; create it first"), problems.get(1));
    }

    @Test
    void anEmptyCacheDeviceIsTooSmallUnlessASizeFinishesItsCreation() throws java.io.IOException {
        Path empty = java.nio.file.Files.createFile(dir.resolve("empty.cache"));
        Map<String, Object> p = newCache("e", empty);
        p.put(TargetProperties.CACHE_DEV_SIZE_BYTES, 0L);
        assertEquals(List.of("cache device " + empty + " has 0 bytes; a cache device needs at least 512 MiB"),
                targetProblems(null, p));
        p.put(TargetProperties.CACHE_DEV_SIZE_BYTES, TargetProperties.CACHE_DEV_SIZE_MIN);
        assertEquals(List.of(), targetProblems(null, p), "a creation cut short is finished on open");
    }

    @Test
    void backingDevicesNeedANameASoundFileAndTheirOwnDisk() {
        Map<String, Object> p = new HashMap<>();
        p.put(BackingProperties.NAME, "b.backing");
        p.put(BackingProperties.PATH, dir.resolve("b.disk").toString());
        p.put(BackingProperties.SIZE_BYTES, 1L << 20);
        p.put(BackingProperties.CREATE, true);
        assertEquals(List.of(), ConfigurationChecks.problems(ConfigPids.BACKING_FILE, null, p, List.of(backing, target)));

        p.put(BackingProperties.CREATE, false);
        p.put(BackingProperties.SIZE_BYTES, 1000L);
        assertEquals(List.of("size_bytes=1000: expected a non-negative multiple of 512, or 0 for the existing file's size",
                "backing file " + dir.resolve("b.disk") + " does not exist: set create=true and size_bytes=<size> to have"
                        + " it created"),
                ConfigurationChecks.problems(ConfigPids.BACKING_FILE, null, p, List.of(backing, target)));

        p.put(BackingProperties.NAME, "a.backing");
        p.put(BackingProperties.PATH, disk.toString());
        p.put(BackingProperties.SIZE_BYTES, 0L);
        assertEquals(List.of("a backing device named 'a.backing' already exists (file:" + disk + "): choose another name",
                ConfigurationChecks.diskTaken("file:" + disk, "a.backing", "file:" + disk)),
                ConfigurationChecks.problems(ConfigPids.BACKING_FILE, null, p, List.of(backing, target)));

        p.put(BackingProperties.NAME, "");
        p.put(BackingProperties.PATH, "relative/disk");
        assertEquals(List.of("name=: expected a backing device name of " + ConfigValues.PART_NAME_RULE,
                "path=relative/disk: expected an absolute path"),
                ConfigurationChecks.problems(ConfigPids.BACKING_FILE, null, p, List.of()));
    }

    @Test
    void anNbdBackingDeviceNeedsAnNbdUri() {
        Map<String, Object> p = new HashMap<>(Map.of(BackingProperties.NAME, "n", BackingProperties.URI,
                "nbd://127.0.0.1:10809/disk"));
        assertEquals(List.of(), ConfigurationChecks.problems(ConfigPids.BACKING_NBD, null, p, List.of()));
        p.put(BackingProperties.URI, "file:/tmp/x");
        assertEquals(List.of("uri=file:/tmp/x: expected an nbd://, nbd+unix://, nbds:// or nbds+unix:// URI"),
                ConfigurationChecks.problems(ConfigPids.BACKING_NBD, null, p, List.of()));
    }

    @Test
    void theBackingDeviceOfACacheCannotBeDeletedUnderIt() {
        List<String> problems = ConfigurationChecks.deletionProblems(ConfigPids.BACKING_FILE, backing.pid(),
                List.of(backing, target));
        assertEquals(1, problems.size(), problems.toString());
        assertTrue(problems.get(0).startsWith("backing device 'a.backing' is the backing device of cache 'a': remove"
                + " the cache first"), problems.get(0));
        assertEquals(List.of(), ConfigurationChecks.deletionProblems(ConfigPids.TARGET, target.pid(),
                List.of(backing, target)));
        assertEquals(List.of(), ConfigurationChecks.deletionProblems(ConfigPids.BACKING_FILE, backing.pid(),
                List.of(backing)));
    }

    @Test
    void theExportAndTheHealthThresholdAreCheckedByTheirOwnRules() {
        assertEquals(List.of(), ConfigurationChecks.problems(null, ConfigPids.EXPORT_NBD,
                Map.of(ExportProperties.LISTEN, "127.0.0.1:10809"), List.of()));
        List<String> export = ConfigurationChecks.problems(null, ConfigPids.EXPORT_NBD,
                Map.of(ExportProperties.LISTEN, "127.0.0.1:99999"), List.of());
        assertEquals(ExportDefinition.parse(Map.of(ExportProperties.LISTEN, "127.0.0.1:99999"), Path.of("/"), "")
                .problems(), export);
        assertEquals(1, export.size(), export.toString());
        assertEquals(List.of(), ConfigurationChecks.problems(null, HealthProperties.PID,
                Map.of(HealthProperties.DIRTY_WARN_PERCENT, 80), List.of()));
        assertEquals(List.of("dirty_warn_percent=101: expected " + HealthProperties.DIRTY_WARN_PERCENT_EXPECTED),
                ConfigurationChecks.problems(null, HealthProperties.PID, Map.of(HealthProperties.DIRTY_WARN_PERCENT,
                        101), List.of()));
    }

    @Test
    void otherConfigurationsHaveNoProblemsHere() {
        assertEquals(List.of(), ConfigurationChecks.problems(null, "org.apache.felix.http",
                Map.of("anything", "goes"), List.of()));
    }
    private static CacheDefinition definition(Path cacheDev, long cacheSize, BackingLocation backing, long backingSize) {
        return new CacheDefinition("f", cacheDev, cacheSize, backing, backingSize, pcache.api.CacheMode.WRITEBACK, false, 70,
                CacheDefinition.defaultParts(), java.util.Optional.empty(), false, java.time.Duration.ofSeconds(30));
    }

    /** The launcher's check before it starts (and pcache:create's): each file a cache opens, spelled as the user wrote it. */
    @Test
    void aCachesFilesAreCheckedBeforeAnythingStarts() throws IOException {
        java.util.function.Function<CacheAttribute, String> key = a -> "cache.f." + a.key();
        Path missing = dir.resolve("f.cache");
        BackingLocation missingDisk = new BackingLocation.File(dir.resolve("f.disk"));
        assertEquals(List.of("cache device " + missing + " does not exist: give cache.f.cache_dev_size=SIZE (at least"
                + " 512M) to create it", "backing file " + dir.resolve("f.disk") + " does not exist: give"
                + " cache.f.backing_dev_size=SIZE to create it"),
                ConfigurationChecks.deviceFileProblems(definition(missing, 0, missingDisk, 0), key));
        assertEquals(List.of(), ConfigurationChecks.deviceFileProblems(
                definition(missing, TargetProperties.CACHE_DEV_SIZE_MIN, missingDisk, 1 << 20), key), "created at open");

        Path nowhere = dir.resolve("no-such-folder");
        assertEquals(List.of("cache device " + nowhere.resolve("f.cache") + " does not exist, nor does its folder "
                + nowhere + ": check the path, or create the folder", "backing file " + nowhere.resolve("f.disk")
                + " does not exist, nor does its folder " + nowhere + ": check the path, or create the folder and give"
                + " cache.f.backing_dev_size=SIZE to create the file"),
                ConfigurationChecks.deviceFileProblems(definition(nowhere.resolve("f.cache"),
                        TargetProperties.CACHE_DEV_SIZE_MIN, new BackingLocation.File(nowhere.resolve("f.disk")), 0),
                        key));

        Path folder = Files.createDirectory(dir.resolve("folder"));
        Path small = Files.write(dir.resolve("small.cache"), new byte[4096]);
        assertEquals(List.of("cache device " + folder + " is a directory; set cache.f.cache_dev to a file or a device",
                "backing file " + folder + " is a directory; set cache.f.backing_dev to a file or a device"),
                ConfigurationChecks.deviceFileProblems(definition(folder, 0, new BackingLocation.File(folder), 0), key));
        assertEquals(List.of("cache device " + small + " has 4096 bytes; a cache device needs at least 512 MiB"),
                ConfigurationChecks.deviceFileProblems(definition(small, 0, new BackingLocation.File(disk), 0), key));
        // pcache:create spells the sizes its own way; an NBD disk is reached only when the cache opens
        assertEquals(List.of("cache device " + missing + " does not exist: give cache_dev_size=SIZE (at least 512M) to"
                + " create it"), ConfigurationChecks.deviceFileProblems(definition(missing, 0,
                        BackingLocation.parse("nbd://127.0.0.1:10809/x", dir), 0), a -> a.createKey().orElse(a.key())));
    }
}
