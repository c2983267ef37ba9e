package pcache.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.AbstractMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import pcache.api.BackingState;
import pcache.api.CacheConditions;
import pcache.api.CacheDevice;
import pcache.api.CacheOpenFailure;
import pcache.api.CacheImageTool;
import pcache.api.CacheMode;
import pcache.api.NbdExports;
import pcache.api.format.PcacheFormat;
import pcache.api.spi.BackingDevice;
import pcache.api.spi.BackingIdentity;
import pcache.shell.internal.Fakes.FakeConfigAdmin;
import pcache.shell.internal.Fakes.FakeConfiguration;
import pcache.shell.internal.Fakes.FakeExports;
import pcache.shell.internal.Fakes.LiveCache;
import pcache.shell.internal.Fakes.Session;

/**
 * The commands against fakes of the services, with a miniature of what Declarative Services and
 * the components do when configurations change (backing devices and caches come and go).
 */
class CommandsTest {

    private static final long SIZE = 64L << 20;

    @TempDir
    Path dir;

    private final FakeConfigAdmin admin = new FakeConfigAdmin();
    private final List<CacheDevice> caches = new CopyOnWriteArrayList<>();
    private final List<Map.Entry<Map<String, Object>, BackingDevice>> backings = new CopyOnWriteArrayList<>();
    private final FakeExports exports = new FakeExports();
    private final Duration wait = Duration.ofSeconds(2);
    /** Long for opens: the miniature opens a cache at once, or publishes why not, so no test waits for it. */
    private final PcacheCommands commands = new PcacheCommands(new CacheAdministration.Timeouts(Duration.ofSeconds(120),
            wait, wait));
    private Session session;
    /** Why the miniature cache fails to open, or null when it opens. */
    private String openFailure;
    private final List<CacheOpenFailure> openFailures = new CopyOnWriteArrayList<>();
    /** Whether the miniature withdraws a failure only later than a configuration's deletion. */
    private boolean lingeringFailures;
    /** Backing devices whose identity the miniature cache refuses (as the engine does). */
    private boolean cacheRefusesNewBacking;

    @BeforeEach
    void wire() {
        commands.caches = caches;
        commands.backings = backings;
        commands.configurationAdmin = admin;
        commands.pmemProviders = List.of(new Fakes.FakePmem("mapped"), new Fakes.FakePmem("fileio"));
        commands.writebackPolicies = new CopyOnWriteArrayList<>(List.of(new Fakes.FakePolicy("ordered"),
                new Fakes.FakePolicy("batching")));
        commands.crcProviders = List.of(new Fakes.FakeCrc("crc32c-pcache"));
        commands.keyIndexProviders = List.of(new Fakes.FakeKeyIndex("striped"));
        commands.allocatorProviders = List.of(new Fakes.FakeAllocator("fifo"));
        commands.nbdExports = exports;
        admin.listener = this::components;
        session = new Session(dir);
    }

    /** A backing device as the file and NBD drivers register it. */
    record Backing(long sizeBytes, BackingIdentity identity, String description) implements BackingDevice {
        @Override
        public void read(long offset, ByteBuffer dst) {
        }

        @Override
        public void write(long offset, ByteBuffer src, boolean fua) {
        }

        @Override
        public void flush() {
        }

        @Override
        public void trim(long offset, long length) {
        }

        @Override
        public void writeZeroes(long offset, long length, boolean fua) {
        }
    }

    /** What SCR and the components do with a configuration change, in miniature. */
    private void components(FakeConfiguration c, String event) {
        String name = String.valueOf(c.get("name"));
        if (c.getFactoryPid().startsWith("pcache.backing.")) {
            backings.removeIf(e -> name.equals(e.getKey().get(BackingDevice.NAME)));
            if (event.equals("updated")) {
                String description;
                long size;
                if (c.get("path") != null) {
                    Path path = Path.of(c.get("path").toString());
                    if (!Files.exists(path) && !Boolean.TRUE.equals(c.get("create"))) {
                        return; // the file driver fails to activate
                    }
                    description = "file:" + path;
                    size = Files.exists(path) ? SIZE : (Long) c.get("size_bytes");
                } else {
                    description = c.get("uri").toString();
                    size = SIZE;
                }
                Object label = c.get("identity");
                BackingIdentity id = new BackingIdentity(size, label != null ? label.toString() : description);
                Map<String, Object> props = new HashMap<>(Map.of(BackingDevice.NAME, name,
                        BackingDevice.DRIVER, c.get("path") != null ? "file" : "nbd"));
                backings.add(new AbstractMap.SimpleEntry<>(props, new Backing(size, id, description)));
            }
            rewire();
        } else if (event.equals("deleted")) {
            caches.removeIf(cache -> cache.name().equals(name));
            if (!lingeringFailures) {
                openFailures.removeIf(f -> f.name().equals(name));
            }
        } else {
            // a modified configuration re-wires the running cache; a new one opens a cache
            if (openFailure != null) { // the cache publishes why it did not open instead
                openFailures.removeIf(f -> f.name().equals(name));
                openFailures.add(new Fakes.OpenFailure(name, openFailure, false));
            } else if (caches.stream().noneMatch(cache -> cache.name().equals(name))) {
                LiveCache cache = new LiveCache(name, SIZE, "none");
                cache.mode = CacheMode.parse(c.get("cache_mode").toString());
                cache.gcPercent = (Integer) c.get("gc_percent");
                caches.add(cache);
            }
            rewire();
        }
    }

    /** Each cache takes the backing device its configuration selects (refused ones leave it without). */
    private void rewire() {
        for (CacheDevice d : caches) {
            LiveCache cache = (LiveCache) d;
            FakeConfiguration target = admin.get("pcache.target~" + cache.name());
            String filter = String.valueOf(target.get("backing.target"));
            BackingDevice selected = backings.stream()
                    .filter(e -> filter.equals("(pcache.backing.name=" + e.getKey().get(BackingDevice.NAME) + ")"))
                    .map(Map.Entry::getValue).findFirst().orElse(null);
            boolean refused = selected != null && cacheRefusesNewBacking && !selected.description().equals(cache.backing)
                    && !cache.backing.equals("none");
            cache.backing = selected == null || refused ? "none" : selected.description();
            cache.backingState = selected == null || refused ? BackingState.UNAVAILABLE : BackingState.ONLINE;
        }
    }

    private String create(String... args) throws IOException {
        return commands.createText(session.session, args);
    }

    private LiveCache created(String name) throws IOException {
        Files.write(dir.resolve(name + ".img"), new byte[0]);
        create(name, "cache_dev=" + name + ".cache", "cache_dev_size=512M", "backing=file:" + name + ".img",
                "identity=disk-" + name);
        return (LiveCache) caches.stream().filter(c -> c.name().equals(name)).findFirst().orElseThrow();
    }

    // ---------------------------------------------------------------- create

    @Test
    void createMakesTheConfigurationsTheLauncherMakes() throws Exception {
        Files.createDirectories(dir.resolve("disks")); // the file backing device creates the file, not its folder
        String out = create("c1", "cache_dev=c1.cache", "cache_dev_size=512M", "backing=file:disks/c1.img",
                "backing_size=64M", "gc_percent=50", "data_crc=true", "pmem=fileio", "policy=batching",
                "identity=disk-1", "mode=writethrough");
        assertEquals("cache c1 created and open: 64 MiB, backing file:" + dir.resolve("disks/c1.img")
                + ", cache device /data/c1.cache (mapped) (31 segments), mode writethrough, data_crc false", out);

        FakeConfiguration backing = admin.get("pcache.backing.file~c1.backing");
        assertNotNull(backing, admin.configs.keySet().toString());
        assertEquals(Map.of("name", "c1.backing", "path", dir.resolve("disks/c1.img").toString(), "size_bytes", 64L << 20,
                "create", true, "identity", "disk-1"), props(backing));
        FakeConfiguration target = admin.get("pcache.target~c1");
        Map<String, Object> expected = new HashMap<>();
        expected.put("name", "c1");
        expected.put("cache_dev", dir.resolve("c1.cache").toString());
        expected.put("cache_dev_size_bytes", 512L << 20);
        expected.put("cache_mode", "writethrough");
        expected.put("data_crc", true);
        expected.put("gc_percent", 50);
        expected.put("backing.target", "(pcache.backing.name=c1.backing)");
        expected.put("pmem.target", "(pcache.pmem.type=fileio)");
        expected.put("writeback.target", "(pcache.writeback.policy=batching)");
        expected.put("crc.target", "(pcache.crc.algorithm=crc32c-pcache)");
        expected.put("keyindex.target", "(pcache.keyindex.name=striped)");
        expected.put("allocator.target", "(pcache.allocator.name=fifo)");
        expected.put("force_identity", false);
        expected.put("backing_timeout_ms", 30_000L);
        assertEquals(expected, props(target));
    }

    /**
     * A created cache that fails to open fails the command at once with why, and {@code pcache:status}
     * and {@code pcache:list} say why too. Before, the command waited its full time-out (60 s by
     * default) and said "the log says why"; the others said "no open cache named".
     */
    @Test
    @Timeout(60) // the open's time-out is 120 s: waiting for it fails the test
    void aCreatedCacheThatFailsToOpenSaysWhyAtOnce() throws Exception {
        openFailure = "superblock at cache-device offset 4096 (0x1000): magic 0xff is not dm-pcache's";
        commands.openFailures = openFailures;
        CommandFailedException e = assertThrows(CommandFailedException.class, () -> create("f1",
                "cache_dev=f1.cache", "cache_dev_size=512M", "backing=file:f1.img", "backing_size=64M"));
        assertEquals("cache 'f1' is configured but not open: it cannot be opened: " + openFailure
                + ". pcache:remove f1 deletes its configurations", e.getMessage());
        assertNotNull(admin.get("pcache.target~f1"), "kept, for pcache:remove");
        e = assertThrows(CommandFailedException.class, () -> commands.statusText(session.session, "f1"));
        assertEquals("cache 'f1' is configured but not open: it cannot be opened: " + openFailure, e.getMessage());
        assertEquals("cache 'f1' is configured but not open: it cannot be opened: " + openFailure,
                commands.statusText(session.session).toString().trim(), "pcache:status of every cache says it too");
        assertEquals("caches: none", commands.statusText(session.session, "--raw").toString().trim(),
                "--raw: dm-pcache's fields of open caches only");
        String list = commands.listText().toString();
        assertTrue(list.contains("configured caches not open (1):\n  NAME  STATE   WHY\n  f1    failed  " + openFailure),
                list);

        // removed, but its component still stopping (DS acts on the deletion later): its failure
        // is not taken for a new cache of the same name
        lingeringFailures = true;
        e = assertThrows(CommandFailedException.class, () -> commands.removeText(session.session, "f1"));
        assertEquals("the configuration of cache 'f1' is deleted but its component has not stopped after 2 s (its"
                + " cache or the reason it did not open is still registered); see the log. Its backing configuration"
                + " is kept", e.getMessage());
        assertEquals(List.of("f1"), openFailures.stream().map(CacheOpenFailure::name).toList());
        e = assertThrows(CommandFailedException.class, () -> create("f1", "cache_dev=f1.cache", "backing=file:f1.img"));
        assertEquals("cache 'f1' was removed but its component is still stopping; try again in a moment",
                e.getMessage());
        openFailures.clear(); // stopped now
        openFailure = null;
        create("f1", "cache_dev=f1.cache", "cache_dev_size=512M", "backing=file:f1b.img", "backing_size=64M");
        assertTrue(caches.stream().anyMatch(c -> c.name().equals("f1")), "opened");
    }

    @Test
    void partsAreChosenAmongTheRegisteredServicesWithNoListToEdit() throws Exception {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> create("p1",
                "cache_dev=p1.cache", "cache_dev_size=512M", "backing=file:p1.img", "backing_size=64M", "policy=mine",
                "pmem=dax", "crc=crc32", "key_index=btree", "allocator=lru"));
        String m = e.getMessage();
        assertTrue(m.contains("policy=mine: no write-back policy named 'mine' is registered; registered: batching,"
                + " ordered"), m);
        assertTrue(m.contains("pmem=dax: no pmem mapping named 'dax' is registered; registered: fileio, mapped"), m);
        assertTrue(m.contains("crc=crc32: no CRC provider named 'crc32' is registered; registered: crc32c-pcache"), m);
        assertTrue(m.contains("key_index=btree: no key index named 'btree' is registered; registered: striped"), m);
        assertTrue(m.contains("allocator=lru: no segment allocator named 'lru' is registered; registered: fifo"), m);
        e = assertThrows(IllegalArgumentException.class, () -> create("p1", "cache_dev=p1.cache",
                "backing=file:p1.img", "policy=(x)"));
        assertTrue(e.getMessage().contains("policy=(x): expected the name of a write-back policy"), e.getMessage());
        assertTrue(admin.configs.isEmpty());

        // a policy that a bundle registers later is selectable at once, and listed
        commands.writebackPolicies.add(new Fakes.FakePolicy("mine"));
        create("p1", "cache_dev=p1.cache", "cache_dev_size=512M", "backing=file:p1.img", "backing_size=64M",
                "policy=mine");
        assertEquals("(pcache.writeback.policy=mine)", admin.get("pcache.target~p1").getProperties()
                .get("writeback.target"));
        assertTrue(commands.listText().toString().contains("write-back policies: batching, mine, ordered\n"),
                commands.listText().toString());
    }

    @Test
    void createWithAnNbdBacking() throws Exception {
        create("n1", "cache_dev=n1.cache", "cache_dev_size=1G", "backing=nbd+unix:///disk?socket=/run/d.sock");
        assertEquals(Map.of("name", "n1.backing", "uri", "nbd+unix:///disk?socket=/run/d.sock"),
                props(admin.get("pcache.backing.nbd~n1.backing")));
    }

    private static Map<String, Object> props(FakeConfiguration c) {
        Map<String, Object> m = new HashMap<>();
        var p = c.getProperties();
        for (var keys = p.keys(); keys.hasMoreElements();) {
            String k = keys.nextElement();
            if (!k.startsWith("service.")) {
                m.put(k, p.get(k));
            }
        }
        return m;
    }

    @Test
    void createSaysEverythingThatIsWrongAtOnce() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> create("bad name!",
                "cache_dev_size=256M", "backing=ftp://x", "gc_percent=95", "colour=blue"));
        String m = e.getMessage();
        assertTrue(m.startsWith("cannot create cache 'bad name!': cache name 'bad name!': expected 1-64 letters, digits"), m);
        assertTrue(m.contains("'colour=blue': expected KEY=VALUE with KEY one of cache_dev, backing,"), m);
        assertTrue(m.contains("cache_dev=... is missing"), m);
        assertTrue(m.contains("backing=ftp://x: expected file:PATH, nbd[s]://HOST[:PORT]/EXPORT or"
                + " nbd[s]+unix:///EXPORT?socket=PATH (unknown scheme 'ftp')"), m);
        assertTrue(m.contains("cache_dev_size=256M: expected at least 512M"), m);
        assertTrue(m.contains("gc_percent=95: expected an integer from 0 to 90"), m);
        assertTrue(admin.configs.isEmpty());

        e = assertThrows(IllegalArgumentException.class, () -> create("c", "cache_dev=x", "backing=nbd://h/e",
                "backing_size=1G"));
        assertTrue(e.getMessage().contains("an NBD backing device has the size of its export"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> create("c"));
        assertTrue(e.getMessage().startsWith("pcache:create takes 3 to 14 arguments, got 'c'"), e.getMessage());
    }

    @Test
    void createRefusesWhatWouldCollide() throws Exception {
        created("c1");
        CommandFailedException e = assertThrows(CommandFailedException.class, () -> create("c1",
                "cache_dev=other.cache", "cache_dev_size=1G", "backing=file:other.img", "backing_size=1M"));
        assertEquals("a cache named 'c1' already exists (pcache:remove c1 removes it)", e.getMessage());
        e = assertThrows(CommandFailedException.class, () -> create("c2", "cache_dev=c1.cache", "cache_dev_size=1G",
                "backing=file:other.img", "backing_size=1M"));
        assertTrue(e.getMessage().endsWith("is already used by cache 'c1': every cache needs its own cache device"),
                e.getMessage());
        e = assertThrows(CommandFailedException.class, () -> create("c2", "cache_dev=c2.cache", "cache_dev_size=1G",
                "backing=file:c1.img"));
        assertTrue(e.getMessage().contains("is already used by backing device 'c1.backing'"), e.getMessage());
        e = assertThrows(CommandFailedException.class, () -> create("c2", "cache_dev=c2.cache",
                "backing=file:other.img", "backing_size=1M"));
        assertEquals("cache device " + dir.resolve("c2.cache") + " does not exist: give cache_dev_size=SIZE (at least"
                + " 512M) to create it", e.getMessage());
        e = assertThrows(CommandFailedException.class, () -> create("c2", "cache_dev=c2.cache", "cache_dev_size=1G",
                "backing=file:missing.img"));
        assertTrue(e.getMessage().endsWith("missing.img does not exist: give backing_size=SIZE to create it"),
                e.getMessage());
        assertEquals(2, admin.configs.size(), "nothing was created: " + admin.configs.keySet());
    }

    /**
     * A cache device must not be a disk (another cache's, or its own), and a disk must not be
     * another cache's cache device: write-back would overwrite one with the other, or the open
     * would format it. Before, only cache devices were compared with cache devices, and disks
     * with disks.
     */
    @Test
    void createRefusesACacheDeviceThatIsADiskAndADiskThatIsACacheDevice() throws Exception {
        created("c1");
        CommandFailedException e = assertThrows(CommandFailedException.class, () -> create("c2",
                "cache_dev=c1.img", "cache_dev_size=1G", "backing=file:other.img", "backing_size=1M"));
        assertTrue(e.getMessage().contains("is the disk of backing device 'c1.backing'"), e.getMessage());
        e = assertThrows(CommandFailedException.class, () -> create("c2", "cache_dev=c2.cache", "cache_dev_size=1G",
                "backing=file:c1.cache", "backing_size=1M"));
        assertTrue(e.getMessage().contains("is the cache device of cache 'c1'"), e.getMessage());
        e = assertThrows(CommandFailedException.class, () -> create("c2", "cache_dev=same.img", "cache_dev_size=1G",
                "backing=file:same.img", "backing_size=1M"));
        assertTrue(e.getMessage().contains("are the same file"), e.getMessage());
        assertEquals(2, admin.configs.size(), "nothing was created: " + admin.configs.keySet());
    }

    /**
     * An empty cache device is what a stop between creating the file and sizing it leaves: with a
     * size to create it with it is taken (the cache gives it that size when it opens), without
     * one it is too small.
     */
    @Test
    void anEmptyCacheDeviceNeedsASizeToBeTaken() throws Exception {
        Path empty = Files.createFile(dir.resolve("e1.cache"));
        Files.write(dir.resolve("e1.img"), new byte[0]);
        CommandFailedException e = assertThrows(CommandFailedException.class, () -> create("e1",
                "cache_dev=e1.cache", "backing=file:e1.img"));
        assertEquals("cache device " + empty + " has 0 bytes; a cache device needs at least 512 MiB", e.getMessage());
        assertTrue(create("e1", "cache_dev=e1.cache", "cache_dev_size=512M", "backing=file:e1.img")
                .startsWith("cache e1 created"));
    }

    /** nbd:// and nbds:// (or another spelling) of one export are one disk: a second cache on it is refused. */
    @Test
    void createRefusesASecondCacheOnTheSameNbdExportReachedWithTls() throws Exception {
        create("n1", "cache_dev=n1.cache", "cache_dev_size=512M", "backing=nbd://nbd.example.org/vol1");
        CommandFailedException e = assertThrows(CommandFailedException.class, () -> create("n2",
                "cache_dev=n2.cache", "cache_dev_size=512M",
                "backing=nbds://alice@NBD.example.org:10809/vol1?tls-psk-file=/etc/pcache/keys.psk"));
        assertEquals("backing device nbds://alice@NBD.example.org:10809/vol1?tls-psk-file=/etc/pcache/keys.psk is"
                + " already used by backing device 'n1.backing' (nbd://nbd.example.org/vol1): two caches on one disk"
                + " would destroy each other's data", e.getMessage());
        create("n3", "cache_dev=n3.cache", "cache_dev_size=512M", "backing=nbds://nbd.example.org/vol2"
                + "?tls-psk-file=/etc/pcache/keys.psk");
    }

    @Test
    void createWithoutConfigurationAdminSaysWhatIsMissing() {
        commands.configurationAdmin = null;
        CommandFailedException e = assertThrows(CommandFailedException.class, () -> create("c", "cache_dev=c",
                "cache_dev_size=1G", "backing=nbd://h/e"));
        assertTrue(e.getMessage().startsWith("no ConfigurationAdmin service"), e.getMessage());
    }

    // ---------------------------------------------------------------- status and stats

    @Test
    void statusRawIsExactlyTheNineFields() throws Exception {
        LiveCache c1 = created("c1");
        c1.dirtyBytes = 4096;
        assertEquals("0 31 31 3 70 1182 0:10288 0:5144 0:0", commands.statusText(session.session, "--raw", "c1"));
        assertEquals(c1.status().dmStatusLine(), commands.statusText(session.session, "c1", "--raw"));
        created("c0");
        assertEquals("c0: 0 31 31 3 70 1182 0:5144 0:5144 0:0\nc1: 0 31 31 3 70 1182 0:10288 0:5144 0:0",
                commands.statusText(session.session, "--raw"));
    }

    @Test
    void statusShowsTheFieldsAndWhatPcacheAdds() throws Exception {
        LiveCache c1 = created("c1");
        c1.dirtyBytes = 2 << 20;
        exports.exported.put("c1", true);
        String s = commands.statusText(session.session, "c1");
        assertTrue(s.startsWith("cache c1\n  mode          writeback\n  state         dirty: 2 MiB not yet written back\n"
                + "  data_crc      false\n  backing       file:" + dir.resolve("c1.img") + " (online)\n"
                + "  cache device  /data/c1.cache (mapped)\n  nbd export    exported, 2 connection(s)\n"
                + "  attention     nothing\n"
                + "  dm-pcache status: 0 31 31 3 70 1182 0:10288 0:5144 0:0\n"), s);
        assertTrue(s.contains("    cache_flags 0x1182 (init_done, mode writeback, gc_percent 70)\n"), s);
        assertTrue(s.contains("    segs_used   3 (9.7 %)\n"), s);
        assertTrue(s.contains("    reads       10 requests, 40 KiB, hit ratio 70.0 %\n"), s);
        assertTrue(s.contains("    dirty       2 MiB (0.4 % of the data capacity), 12 extents in the index\n"), s);
        assertTrue(s.endsWith("    data crc    0 errors, 0 extents quarantined"), s);
        c1.conditions = new CacheConditions(2, "cache device /data/c1.cache no longer exists", "EIO at 0", 3,
                "kset damaged", "bad kset at 0:4096");
        String attention = commands.statusText(session.session, "c1");
        assertTrue(attention.contains("  attention     2 request(s) waiting for free cache space\n"
                + "                cache device /data/c1.cache no longer exists\n"
                + "                write-back failing, retried with back-off: EIO at 0\n"
                + "                GC failing, retried: kset damaged\n"
                + "                key log damaged: bad kset at 0:4096\n"), attention);
        exports.tls = new NbdExports.TlsInfo("require", "X.509 from /etc/pcache/tls, client certificates verified", 1);
        assertTrue(commands.statusText(session.session, "c1").contains("  nbd export    exported, 2 connection(s); TLS require "
                + "(X.509 from /etc/pcache/tls, client certificates verified), 1 TLS connection(s) to all exports\n"));
        exports.exported.put("c1", false);
        assertTrue(commands.statusText(session.session, "c1").contains("nbd export    withdrawn (pcache:export c1"));
        commands.nbdExports = null;
        assertTrue(commands.statusText(session.session, "c1").contains("nbd export    no NBD export service"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> commands.statusText(session.session, "nope"));
        assertEquals("no open cache named 'nope'; caches: c1", e.getMessage());
    }

    @Test
    void statsHasHitRatios() throws Exception {
        created("c1");
        String s = commands.statsText(session.session, "c1");
        assertTrue(s.startsWith("cache c1 (counters since it was opened)\n"), s);
        assertTrue(s.contains("  hit ratio    70.0 % of requests, 80.0 % of bytes\n"), s);
        assertTrue(s.contains("  reads        10 requests: 7 hits (0 sent straight from the cache), 2 misses, 1 partial hits\n"), s);
        assertTrue(s.contains("  deferred     0 requests waited for cache space, 0 waiting now\n"), s);
        assertTrue(s.contains("  dirty        0 bytes (0 B) to write back, 0.0 % of the data capacity (495.6 MiB)\n"), s);
        assertTrue(s.contains("  gc           0 ksets, 0 segments reclaimed, 0 failed passes\n"), s);
                assertEquals("caches: none", new PcacheCommands().statsText(session.session));
    }

    // ---------------------------------------------------------------- running caches

    @Test
    void gcPercentIsSetAndKeptInTheConfiguration() throws Exception {
        LiveCache c1 = created("c1");
        Object result = commands.functionText(CommandSpec.GC_PERCENT, session.session, List.of("c1", "50"));
        assertEquals("cache c1: gc_percent 70 -> 50", result);
        assertEquals(50, c1.gcPercent);
        assertEquals(50, admin.get("pcache.target~c1").get("gc_percent"));
        for (String bad : List.of("91", "-1", "ten")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> commands.gcPercentText(session.session, "c1", bad));
            assertEquals("gc_percent=" + bad + ": expected an integer from 0 to 90; usage: pcache:gc-percent [-h] NAME N",
                    e.getMessage());
        }
    }

    @Test
    void modeIsSwitchedAndKeptInTheConfiguration() throws Exception {
        LiveCache c1 = created("c1");
        c1.dirtyBytes = 8192;
        assertEquals("cache c1: mode writeback -> passthrough", commands.modeText(session.session, "c1", "passthrough"));
        assertEquals(0, c1.dirtyBytes, "passthrough writes everything back first");
        assertEquals("passthrough", admin.get("pcache.target~c1").get("cache_mode"));
        assertTrue(session.console().contains("writing back and emptying the cache first"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> commands.modeText(session.session, "c1", "fast"));
        assertEquals("unknown cache mode 'fast': expected writeback, writethrough or passthrough; usage: pcache:mode"
                + " [-h] NAME writeback|writethrough|passthrough", e.getMessage());
    }

    @Test
    void flushFlushes() throws Exception {
        LiveCache c1 = created("c1");
        assertTrue(commands.flushText(session.session, "c1").startsWith("cache c1 flushed"));
        assertEquals(1, c1.flushes.get());
    }

    @Test
    void drainDrawsAProgressBar() throws Exception {
        LiveCache c1 = created("c1");
        c1.dirtyBytes = 4 << 20;
        String out = commands.drainText(session.session, "c1");
        assertTrue(out.matches("cache c1 drained in \\d+\\.\\d s \\(4 MiB were dirty\\); clean"), out);
        assertEquals("4 MiB to write back [" + "#".repeat(ProgressBar.WIDTH) + "] 100%\n", session.console());
        assertEquals(List.of("4194304/4194304", "3145728/4194304", "2097152/4194304", "1048576/4194304", "0/4194304"),
                c1.progress);
    }

    @Test
    void drainThenPassthrough() throws Exception {
        LiveCache c1 = created("c1");
        c1.dirtyBytes = 1 << 20;
        String out = commands.drainText(session.session, "--passthrough", "c1");
        assertTrue(out.endsWith("; mode writeback -> passthrough: requests now go straight to the backing device and"
                + " the cache can be removed"), out);
        assertEquals(CacheMode.PASSTHROUGH, c1.mode);
        assertEquals("passthrough", admin.get("pcache.target~c1").get("cache_mode"));
    }

    @Test
    void aFailedDrainSaysTheDataIsSafe() throws Exception {
        LiveCache c1 = created("c1");
        c1.dirtyBytes = 1 << 20;
        c1.drainFailure = Fakes.backingFailure("disk gone");
        CommandFailedException e = assertThrows(CommandFailedException.class, () -> commands.drainText(session.session, "c1"));
        assertEquals("drain of cache 'c1' failed: disk gone; the dirty data stays safe in the cache", e.getMessage());
        assertTrue(session.console().endsWith("] stopped\n"), session.console());
    }

    // ---------------------------------------------------------------- remove

    @Test
    void removeRefusesADirtyCacheAndDrainsWhenAsked() throws Exception {
        LiveCache c1 = created("c1");
        c1.dirtyBytes = 12288;
        CommandFailedException e = assertThrows(CommandFailedException.class, () -> commands.removeText(session.session, "c1"));
        assertEquals("cache 'c1' holds 12288 bytes (12 KiB) not yet written back (dirty_tail 0:5144, key_head 0:10288);"
                + " removing it now would strand them on its cache device. Use pcache:remove --drain c1 (or"
                + " pcache:drain c1 first)", e.getMessage());
        assertEquals(2, admin.configs.size());
        assertEquals(CacheMode.WRITEBACK, c1.mode);

        String out = commands.removeText(session.session, "--drain", "c1");
        assertEquals("cache c1 removed (drained, then passthrough); configurations pcache.target~c1,"
                + " pcache.backing.file~c1.backing deleted; the cache device " + dir.resolve("c1.cache")
                + " is left in place", out);
        assertTrue(session.console().startsWith("12 KiB to write back [####"), session.console());
        assertEquals(CacheMode.PASSTHROUGH, c1.mode, "entered passthrough before the configuration went");
        assertTrue(admin.configs.isEmpty(), admin.configs.keySet().toString());
        assertTrue(caches.isEmpty());
    }

    /**
     * A cache without dirty bytes whose log is not clean (read-miss fills logged as clean keys ahead
     * of dirty_tail) is removed: the switch to passthrough writes back what is left. Before, it was
     * refused for holding "0 bytes not yet written back".
     */
    @Test
    void aCacheWithOnlyCleanKeysAheadOfItsDirtyTailIsRemoved() throws Exception {
        LiveCache c1 = created("c1");
        c1.cleanKeysAhead = true;
        assertTrue(commands.removeText(session.session, "c1").startsWith("cache c1 removed (clean, passthrough)"));
        assertEquals(CacheMode.PASSTHROUGH, c1.mode);
    }

    @Test
    void aCleanCacheIsRemovedThroughPassthrough() throws Exception {
        LiveCache c1 = created("c1");
        assertTrue(commands.removeText(session.session, "c1").startsWith("cache c1 removed (clean, passthrough)"));
        assertEquals(CacheMode.PASSTHROUGH, c1.mode);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> commands.removeText(session.session, "c1"));
        assertEquals("no cache named 'c1'; caches: none", e.getMessage());
    }

    @Test
    void aDrainThatFailsRemovesNothing() throws Exception {
        LiveCache c1 = created("c1");
        c1.dirtyBytes = 512;
        c1.drainFailure = Fakes.backingFailure("backing device unreachable");
        assertThrows(CommandFailedException.class, () -> commands.removeText(session.session, "--drain", "c1"));
        assertEquals(2, admin.configs.size());
        assertEquals(1, caches.size());
    }

    /**
     * A cache device whose superblock magic is 0 but whose cache_info is not may hold a cache
     * with a damaged superblock (the engine refuses to open it): removing its cache checks it as
     * any cache that does not open. Before, a zero magic alone read as "holds no cache", and the
     * configuration went without a check.
     */
    @Test
    void aZeroMagicOverACacheInfoIsNotTakenForAnEmptyDevice() throws Exception {
        created("c1");
        caches.clear(); // it failed to open
        Path cacheDev = dir.resolve("c1.cache");
        try (FileChannel ch = FileChannel.open(cacheDev, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {1}), PcacheFormat.CACHE_INFO_OFF + 5);
        }
        CommandFailedException e = assertThrows(CommandFailedException.class, () -> commands.removeText(session.session, "c1"));
        assertTrue(e.getMessage().startsWith("cache 'c1' is not open and there is no CacheImageTool service"),
                e.getMessage());
        assertEquals(2, admin.configs.size(), "nothing removed");
    }

    /** An image tool whose fsck answers {@code report} for a device, and that does nothing else. */
    private static CacheImageTool fsckOnly(java.util.function.Function<Path, CacheImageTool.FsckReport> report) {
        return new CacheImageTool() {
            @Override
            public String inspect(Path cacheDevice, boolean keys) {
                throw new UnsupportedOperationException();
            }

            @Override
            public FsckReport fsck(Path cacheDevice) {
                return report.apply(cacheDevice);
            }
        };
    }

    @Test
    void aCacheThatIsNotOpenIsRemovedOnlyWhenItsImageIsClean() throws Exception {
        created("c1");
        caches.clear(); // it failed to open
        Path cacheDev = dir.resolve("c1.cache");
        try (FileChannel ch = FileChannel.open(cacheDev, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, PcacheFormat.SB_MAGIC),
                    PcacheFormat.SB_OFF + 8);
        }
        CommandFailedException e = assertThrows(CommandFailedException.class, () -> commands.removeText(session.session, "c1"));
        assertTrue(e.getMessage().startsWith("cache 'c1' is not open and there is no CacheImageTool service"),
                e.getMessage());

        long[] dirty = {4096};
        commands.imageTool = fsckOnly(d -> new CacheImageTool.FsckReport(d.toString(), List.of(), List.of(), dirty[0],
                List.of(), ""));
        e = assertThrows(CommandFailedException.class, () -> commands.removeText(session.session, "c1"));
        assertTrue(e.getMessage().startsWith("cache 'c1' is not open and its cache device " + cacheDev
                + " holds 4096 bytes not yet written back"), e.getMessage());
        dirty[0] = 0;
        assertTrue(commands.removeText(session.session, "c1").startsWith(
                "cache c1 removed (not open, its cache device holds nothing dirty)"));
        assertTrue(admin.configs.isEmpty());
    }

    /**
     * A device that cannot be checked (a cache opening on it holds it: the image tool refuses it as
     * in use) refuses the removal, saying why and what to do, and --keep-dirty removes it unchecked.
     * Before, the tool's refusal reached the shell bare, advising pcache:remove itself.
     */
    @Test
    void aCacheWhoseDeviceCannotBeCheckedIsRemovedWithKeepDirtyOnly() throws Exception {
        created("c1");
        caches.clear(); // not open, no failure published: opening
        Path cacheDev = dir.resolve("c1.cache");
        try (FileChannel ch = FileChannel.open(cacheDev, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, PcacheFormat.SB_MAGIC),
                    PcacheFormat.SB_OFF + 8);
        }
        commands.imageTool = new CacheImageTool() {
            @Override
            public String inspect(Path cacheDevice, boolean keys) {
                throw new UnsupportedOperationException();
            }

            @Override
            public FsckReport fsck(Path cacheDevice) throws IOException {
                throw new IOException(cacheDevice + " is in use: a running cache has it open, or one opening it");
            }
        };
        CommandFailedException e = assertThrows(CommandFailedException.class,
                () -> commands.removeText(session.session, "c1"));
        assertTrue(e.getMessage().startsWith("cache 'c1' is not open and its cache device " + cacheDev + " cannot be"
                + " checked for dirty data: " + cacheDev + " is in use: a running cache has it open, or one opening it."
                + " Nothing was removed. A cache that is opening holds its device: wait until it is open, then"
                + " pcache:remove [--drain] c1."), e.getMessage());
        assertEquals(2, admin.configs.size(), "nothing removed");
        assertTrue(commands.removeText(session.session, "--keep-dirty", "c1").startsWith(
                "cache c1 removed (not open, its cache device not checked (" + cacheDev + " is in use"));
        assertTrue(admin.configs.isEmpty());
    }

    /**
     * A cache that is not open and whose device is damaged (or dirty) is removed with --keep-dirty,
     * its device left as it is; the refusal without it says why the cache is not open and offers
     * that. Before, such a cache could not be removed from the shell at all, and the refusal pointed
     * at the log. An open cache can write its data back, so --keep-dirty is refused for it.
     */
    @Test
    void aDamagedCacheThatIsNotOpenIsRemovedWithKeepDirtyOnly() throws Exception {
        created("c1");
        caches.clear(); // it failed to open, and says why
        openFailures.add(new Fakes.OpenFailure("c1", "superblock damaged", false));
        commands.openFailures = openFailures;
        Path cacheDev = dir.resolve("c1.cache");
        try (FileChannel ch = FileChannel.open(cacheDev, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, PcacheFormat.SB_MAGIC),
                    PcacheFormat.SB_OFF + 8);
        }
        commands.imageTool = fsckOnly(d -> new CacheImageTool.FsckReport(d.toString(), List.of("superblock: CRC mismatch"),
                List.of(), 0, List.of(), ""));
        CommandFailedException e = assertThrows(CommandFailedException.class,
                () -> commands.removeText(session.session, "c1"));
        assertEquals("cache 'c1' is not open (it cannot be opened: superblock damaged) and its cache device " + cacheDev
                + " is damaged (1 error(s), see pcache:fsck " + cacheDev + "), so dirty data cannot be ruled out;"
                + " nothing was removed. pcache:remove --keep-dirty c1 removes it all the same and leaves the device"
                + " as it is: a cache configured on it again, with the same backing device, replays dirty data (a"
                + " damaged device must be mended first; pcache:fsck shows its damage)", e.getMessage());
        assertEquals(2, admin.configs.size(), "nothing removed");
        IllegalArgumentException both = assertThrows(IllegalArgumentException.class,
                () -> commands.removeText(session.session, "--drain", "--keep-dirty", "c1"));
        assertTrue(both.getMessage().startsWith("pcache:remove takes --drain or --keep-dirty, not both"),
                both.getMessage());

        assertTrue(commands.removeText(session.session, "--keep-dirty", "c1").startsWith(
                "cache c1 removed (not open, its damaged cache device left as it is (--keep-dirty))"));
        assertTrue(admin.configs.isEmpty());
        assertTrue(Files.size(cacheDev) > 0, "the device file stays");

        // a dirty device, and one no image tool can check: removed with --keep-dirty only, as they are
        created("c3");
        caches.removeIf(c -> c.name().equals("c3"));
        Path dirtyDev = dir.resolve("c3.cache");
        try (FileChannel ch = FileChannel.open(dirtyDev, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, PcacheFormat.SB_MAGIC),
                    PcacheFormat.SB_OFF + 8);
        }
        commands.imageTool = fsckOnly(d -> new CacheImageTool.FsckReport(d.toString(), List.of(), List.of(), 8192,
                List.of(), ""));
        e = assertThrows(CommandFailedException.class, () -> commands.removeText(session.session, "c3"));
        assertTrue(e.getMessage().startsWith("cache 'c3' is not open and its cache device " + dirtyDev + " holds 8192"
                + " bytes not yet written back") && e.getMessage().contains("pcache:remove --keep-dirty c3"),
                e.getMessage());
        assertTrue(commands.removeText(session.session, "--keep-dirty", "c3").startsWith(
                "cache c3 removed (not open, its cache device keeps 8192 bytes not yet written back (--keep-dirty))"));
        created("c4");
        caches.removeIf(c -> c.name().equals("c4"));
        try (FileChannel ch = FileChannel.open(dir.resolve("c4.cache"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, PcacheFormat.SB_MAGIC),
                    PcacheFormat.SB_OFF + 8);
        }
        commands.imageTool = null;
        assertTrue(commands.removeText(session.session, "--keep-dirty", "c4").startsWith(
                "cache c4 removed (not open, its cache device not checked and left as it is (--keep-dirty))"));

        created("c2");
        e = assertThrows(CommandFailedException.class, () -> commands.removeText(session.session, "--keep-dirty", "c2"));
        assertEquals("cache 'c2' is open, so it can write its data back: --keep-dirty is for a cache that is not open."
                + " Use pcache:remove --drain c2", e.getMessage());
    }

    @Test
    void aCacheWithoutConfigurationCannotBeRemovedHere() throws Exception {
        caches.add(new LiveCache("manual", SIZE, "file:/x"));
        CommandFailedException e = assertThrows(CommandFailedException.class,
                () -> commands.removeText(session.session, "manual"));
        assertTrue(e.getMessage().startsWith("cache 'manual' has no ConfigAdmin configuration"), e.getMessage());
    }

    // ---------------------------------------------------------------- swap-backing

    private Object swap(String... args) throws Exception {
        return commands.functionText(CommandSpec.SWAP_BACKING, session.session, List.of((Object[]) args));
    }

    @Test
    void swapBackingKeepsTheIdentityLabelAndReplacesTheConfiguration() throws Exception {
        LiveCache c1 = created("c1");
        Files.write(dir.resolve("copy.img"), new byte[0]);
        Object out = swap("c1", "file:copy.img");
        assertEquals("cache c1: backing device file:" + dir.resolve("c1.img") + " -> file:" + dir.resolve("copy.img")
                + " (online); configuration c1.backing-2 replaces c1.backing. If a launcher configuration file defines"
                + " this cache, set its cache.c1.backing_dev=file:" + dir.resolve("copy.img")
                + " and cache.c1.backing_identity=disk-c1 now: the launcher"
                + " reads the file again at every start, and would put the old device back (which lacks what was"
                + " written back since)", out);
        assertEquals("file:" + dir.resolve("copy.img"), c1.backing);
        assertNull(admin.get("pcache.backing.file~c1.backing"));
        assertEquals("disk-c1", admin.get("pcache.backing.file~c1.backing-2").get("identity"));
        assertEquals("(pcache.backing.name=c1.backing-2)", admin.get("pcache.target~c1").get("backing.target"));

        // and back again, to an NBD export of the same data
        swap("c1", "nbd://127.0.0.1:10810/disk");
        assertEquals("nbd://127.0.0.1:10810/disk", c1.backing);
        assertEquals("(pcache.backing.name=c1.backing)", admin.get("pcache.target~c1").get("backing.target"));
        assertEquals(2, admin.configs.size(), admin.configs.keySet().toString());
    }

    @Test
    void swapBackingRefusesAnotherIdentityBeforeChangingAnything() throws Exception {
        Files.write(dir.resolve("c1.img"), new byte[0]);
        create("c1", "cache_dev=c1.cache", "cache_dev_size=512M", "backing=file:c1.img");
        Files.write(dir.resolve("other.img"), new byte[0]);
        Exception e = assertThrows(CommandFailedException.class, () -> swap("c1", "file:other.img"));
        assertEquals("backing device file:" + dir.resolve("other.img") + " has identity file:" + dir.resolve("other.img")
                + " (" + SIZE + " bytes) but cache 'c1' belongs to file:" + dir.resolve("c1.img") + " (" + SIZE
                + " bytes); if it holds the same data, say so: pcache:swap-backing c1 file:" + dir.resolve("other.img")
                + " identity=file:" + dir.resolve("c1.img"), e.getMessage());
        assertEquals("(pcache.backing.name=c1.backing)", admin.get("pcache.target~c1").get("backing.target"));
        assertNull(admin.get("pcache.backing.file~c1.backing-2"));

        swap("c1", "file:other.img", "identity=file:" + dir.resolve("c1.img"));
        assertEquals("file:" + dir.resolve("other.img"), caches.get(0).status().backing());
    }

    @Test
    void swapBackingRollsBackWhenTheCacheRefusesTheDevice() throws Exception {
        LiveCache c1 = created("c1");
        Files.write(dir.resolve("copy.img"), new byte[0]);
        cacheRefusesNewBacking = true;
        Exception e = assertThrows(CommandFailedException.class, () -> swap("c1", "file:copy.img"));
        assertTrue(e.getMessage().startsWith("cache 'c1' did not take backing device file:" + dir.resolve("copy.img")
                + " within 2 s"), e.getMessage());
        assertTrue(e.getMessage().endsWith("rolled back to file:" + dir.resolve("c1.img")), e.getMessage());
        assertEquals("file:" + dir.resolve("c1.img"), c1.backing);
        assertEquals(BackingState.ONLINE, c1.backingState);
        assertNull(admin.get("pcache.backing.file~c1.backing-2"));
    }

    @Test
    void swapBackingRefusesWhatCannotWork() throws Exception {
        created("c1");
        Exception e = assertThrows(CommandFailedException.class, () -> swap("c1", "file:missing.img"));
        assertTrue(e.getMessage().endsWith("missing.img does not exist; a cache can only move to a device holding the"
                + " same data (a copy of the current one)"), e.getMessage());
        e = assertThrows(CommandFailedException.class, () -> swap("c1", "file:c1.img"));
        assertEquals("cache 'c1' already uses file:" + dir.resolve("c1.img"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> swap("c1", "file:x", "label=y"));
        assertTrue(e.getMessage().startsWith("'label=y': expected identity=LABEL"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> swap("nope", "file:c1.img"));
        assertTrue(e.getMessage().startsWith("no cache configuration named 'nope'"), e.getMessage());
    }

    // ---------------------------------------------------------------- NBD and images

    @Test
    void exportAndUnexport() throws Exception {
        exports.exported.put("c1", true);
        assertEquals("cache c1 withdrawn from NBD (its clients were disconnected); pcache:export c1 exports it again",
                commands.unexportText(session.session, "c1"));
        assertFalse(exports.exported.get("c1"));
        assertEquals("cache c1 exported over NBD: nbd://127.0.0.1:10809/c1, nbd+unix:///c1?socket=/run/pcache.sock",
                commands.exportText(session.session, "c1"));
        exports.tls = new NbdExports.TlsInfo("on", "pre-shared keys from /etc/pcache/keys.psk", 0);
        assertEquals("cache c1 exported over NBD: nbds://127.0.0.1:10809/c1, nbds+unix:///c1?socket=/run/pcache.sock",
                commands.exportText(session.session, "c1"));
        CommandFailedException e = assertThrows(CommandFailedException.class,
                () -> commands.exportText(session.session, "nope"));
        assertEquals("no cache device named 'nope' is registered", e.getMessage());
        commands.nbdExports = null;
        e = assertThrows(CommandFailedException.class, () -> commands.unexportText(session.session, "c1"));
        assertTrue(e.getMessage().startsWith("no NbdExports service"), e.getMessage());
    }

    @Test
    void inspectAndFsckGoToTheImageToolWithPathsFromTheCurrentDirectory() throws Exception {
        List<Path> asked = new CopyOnWriteArrayList<>();
        boolean[] broken = {false};
        commands.imageTool = new CacheImageTool() {
            @Override
            public String inspect(Path cacheDevice, boolean keys) {
                asked.add(cacheDevice);
                return "dump keys=" + keys + "\n";
            }

            @Override
            public FsckReport fsck(Path cacheDevice) {
                asked.add(cacheDevice);
                return new FsckReport(cacheDevice.toString(), broken[0] ? List.of("superblock at 4096: bad") : List.of(),
                        List.of(), 0, List.of(), "fsck of " + cacheDevice + ": ...\n");
            }
        };
        assertEquals("dump keys=true", commands.inspectText(session.session, "img", "--keys"));
        assertEquals("dump keys=false", commands.inspectText(session.session, "/abs/img"));
        assertEquals("fsck of " + dir.resolve("img") + ": ...", commands.fsckText(session.session, "img"));
        assertEquals(List.of(dir.resolve("img"), Path.of("/abs/img"), dir.resolve("img")), asked);

        broken[0] = true;
        CommandFailedException e = assertThrows(CommandFailedException.class, () -> commands.fsckText(session.session, "img"));
        assertEquals("fsck found 1 error(s) in " + dir.resolve("img"), e.getMessage());
        assertEquals("fsck of " + dir.resolve("img") + ": ...\n", session.console(), "the report is printed first");

        commands.imageTool = null;
        e = assertThrows(CommandFailedException.class, () -> commands.fsckText(session.session, "img"));
        assertTrue(e.getMessage().startsWith("no CacheImageTool service"), e.getMessage());
    }

    @Test
    void everyCommandAnswersHelp() throws Exception {
        for (CommandSpec spec : CommandSpec.values()) {
            Object help;
            if (spec.viaFunctionService()) {
                help = commands.functionText(spec, session.session, List.of("-h"));
            } else {
                help = PcacheCommands.class.getDeclaredMethod(spec.methodName() + "Text", spec == CommandSpec.VERSION
                        || spec == CommandSpec.LIST ? new Class<?>[] {String[].class}
                        : new Class<?>[] {org.apache.felix.service.command.CommandSession.class, String[].class})
                        .invoke(commands, spec == CommandSpec.VERSION || spec == CommandSpec.LIST
                                ? new Object[] {new String[] {"-h"}} : new Object[] {session.session, new String[] {"-h"}});
            }
            assertEquals(spec.help(), help, spec.toString());
        }
    }
}
