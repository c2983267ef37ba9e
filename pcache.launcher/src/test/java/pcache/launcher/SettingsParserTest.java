package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Level;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import pcache.api.CacheMode;
import pcache.api.config.BackingLocation;
import pcache.api.config.CacheDefinition;
import pcache.api.config.CachePart;

class SettingsParserTest {

    private static Map<String, String> minimal(String... more) {
        Map<String, String> v = new HashMap<>();
        v.put("pcache.data", "/srv/pc");
        v.put("cache.c.cache_dev", "c.cache");
        v.put("cache.c.backing_dev", "file:c.backing");
        for (int i = 0; i < more.length; i += 2) {
            if (more[i + 1] == null) {
                v.remove(more[i]);
            } else {
                v.put(more[i], more[i + 1]);
            }
        }
        return v;
    }

    private static String problems(String... more) {
        ConfigException e = assertThrows(ConfigException.class, () -> SettingsParser.parse(minimal(more)));
        return e.getMessage();
    }

    @Test
    void defaultsForEveryOptionalAttribute() throws Exception {
        PcacheSettings s = SettingsParser.parse(minimal());
        assertEquals(Path.of("/srv/pc"), s.dataDir());
        assertEquals("127.0.0.1:10809", s.nbdListen());
        assertEquals(Level.WARNING, s.logLevel());
        assertEquals(Path.of("/srv/pc/pcache.ctl"), s.controlSocket());
        assertEquals(Path.of("/srv/pc/felix-cache"), s.frameworkStorage());
        assertEquals(List.of(new CacheDefinition("c", Path.of("/srv/pc/c.cache"), 0,
                new BackingLocation.File(Path.of("/srv/pc/c.backing")), 0, CacheMode.WRITEBACK, false, 70,
                CacheDefinition.defaultParts(), Optional.empty(), false, Duration.ofSeconds(30))), s.caches());
    }

    @Test
    void everyAttributeSet() throws Exception {
        PcacheSettings s = SettingsParser.parse(minimal(
                "cache.c.cache_dev", "/dev/dax0.0",
                "cache.c.cache_dev_size", "2G",
                "cache.c.backing_dev", "nbd://10.0.0.1:10810/disk",
                "cache.c.cache_mode", "WriteThrough",
                "cache.c.data_crc", "true",
                "cache.c.gc_percent", "0",
                "cache.c.pmem", "heap",
                "cache.c.writeback_policy", "batching",
                "cache.c.backing_identity", "disk-42",
                "cache.c.force_identity", "true",
                "cache.c.backing_timeout", "500ms",
                "cache.c.crc", "crc-mine",
                "cache.c.key_index", "btree",
                "cache.c.allocator", "lru",
                "nbd.listen", "unix:nbd.sock",
                "log.level", "debug"));
        assertEquals("unix:/srv/pc/nbd.sock", s.nbdListen());
        assertEquals(Level.FINE, s.logLevel());
        Map<CachePart, String> parts = new EnumMap<>(Map.of(CachePart.PMEM, "heap", CachePart.WRITEBACK_POLICY,
                "batching", CachePart.CRC, "crc-mine", CachePart.KEY_INDEX, "btree", CachePart.ALLOCATOR, "lru"));
        assertEquals(List.of(new CacheDefinition("c", Path.of("/dev/dax0.0"), 2L << 30,
                new BackingLocation.Nbd(URI.create("nbd://10.0.0.1:10810/disk")), 0, CacheMode.WRITETHROUGH, true, 0,
                parts, Optional.of("disk-42"), true, Duration.ofMillis(500))), s.caches());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "file:/abs/b | /abs/b",
        "file:///abs/b | /abs/b",
        "file:rel/b | /srv/pc/rel/b",
        "FILE:b | /srv/pc/b"})
    void fileBackings(String value, String path) throws Exception {
        CacheDefinition c = SettingsParser.parse(minimal("cache.c.backing_dev", value, "cache.c.backing_dev_size",
                "1M")).caches().get(0);
        assertEquals(new BackingLocation.File(Path.of(path)), c.backing());
        assertEquals(1L << 20, c.backingSizeBytes());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "nbd://host/export",
        "nbd://127.0.0.1:10809/",
        "nbd://[::1]:10809/e",
        "nbd://host",
        "nbd+unix:///export?socket=/run/nbd.sock",
        "nbd+unix:///?socket=/run/nbd.sock"})
    void nbdBackings(String value) throws Exception {
        assertEquals(new BackingLocation.Nbd(URI.create(value)),
                SettingsParser.parse(minimal("cache.c.backing_dev", value)).caches().get(0).backing());
    }

    @Test
    void severalListenAddresses() throws Exception {
        assertEquals("127.0.0.1:10809,[::1]:10809,unix:/srv/pc/nbd.sock",
                SettingsParser.parse(minimal("nbd.listen", "127.0.0.1:10809, [::1]:10809 ,unix:nbd.sock")).nbdListen());
    }

    @Test
    void sortedByName() throws Exception {
        PcacheSettings s = SettingsParser.parse(minimal("cache.b.cache_dev", "b.cache", "cache.b.backing_dev", "file:b.b",
                "cache.a_-9.cache_dev", "a.cache", "cache.a_-9.backing_dev", "file:a.b"));
        assertEquals(List.of("a_-9", "b", "c"), s.caches().stream().map(CacheDefinition::name).toList());
    }

    /** One name rule everywhere: the target has always accepted dots, so the file does too. */
    @Test
    void cacheNamesMayHoldDots() throws Exception {
        PcacheSettings s = SettingsParser.parse(minimal("cache.disk.0.cache_dev", "d.cache",
                "cache.disk.0.backing_dev", "file:d.b", "cache.disk.0.gc_percent", "50"));
        assertEquals(List.of("c", "disk.0"), s.caches().stream().map(CacheDefinition::name).toList());
        assertEquals(50, s.caches().get(1).gcPercent());
        assertEquals("disk.0.backing", s.caches().get(1).backingName());
    }

    @Test
    void backingSizeIsWholeSectors() {
        assertEquals("cache.c.backing_dev_size=1000: expected a multiple of 512 bytes",
                problems("cache.c.backing_dev_size", "1000"));
    }

    @Test
    void noCachesIsFine() throws Exception {
        assertEquals(List.of(), SettingsParser.parse(Map.of("pcache.data", "/x")).caches());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "cache.c.gc_percent | 91 | cache.c.gc_percent=91: expected an integer from 0 to 90",
        "cache.c.gc_percent | -1 | cache.c.gc_percent=-1: expected an integer from 0 to 90",
        "cache.c.gc_percent | half | cache.c.gc_percent=half: expected an integer from 0 to 90",
        "cache.c.cache_mode | writearound | cache.c.cache_mode=writearound: expected one of writeback, writethrough, passthrough",
        "cache.c.pmem | da/x | cache.c.pmem=da/x: expected the name of a pmem mapping (1-64 letters, digits, '_', '-' or '.')",
        "cache.c.writeback_policy | (lazy) | cache.c.writeback_policy=(lazy): expected the name of a write-back policy (1-64 letters, digits, '_', '-' or '.')",
        "cache.c.key_index | a=b | cache.c.key_index=a=b: expected the name of a key index (1-64 letters, digits, '_', '-' or '.')",
        "cache.c.data_crc | yes | cache.c.data_crc=yes: expected true or false",
        "cache.c.force_identity | 1 | cache.c.force_identity=1: expected true or false",
        "cache.c.cache_dev_size | 1.5G | cache.c.cache_dev_size=1.5G: expected " + "a positive size such as 1G, 512M or 4096 (bytes; units K M G T are powers of 1024)",
        "cache.c.cache_dev_size | 256M | cache.c.cache_dev_size=256M: expected at least 512M: the smallest cache device dm-pcache's format allows (512 MiB)",
        "cache.c.backing_timeout | 1d | cache.c.backing_timeout=1d: expected a duration such as 30s, 500ms, 2m or 1h (a plain number is seconds)",
        "cache.c.backing_timeout | 0 | cache.c.backing_timeout=0: expected a duration of at least 1ms and at most 87600h (requests that need the backing device wait that long for one)",
        "cache.c.backing_timeout | 87601h | cache.c.backing_timeout=87601h: expected a duration of at least 1ms and at most 87600h (requests that need the backing device wait that long for one)",
        "cache.c.backing_identity | '' | cache.c.backing_identity=: expected a label of 1 to 1024 bytes of UTF-8 (leave the key out for the device's default identity)",
        "cache.c.backing_dev | http://x/y | cache.c.backing_dev=http://x/y: expected file:PATH, nbd[s]://HOST[:PORT]/EXPORT or nbd[s]+unix:///EXPORT?socket=PATH (unknown scheme 'http')",
        "cache.c.backing_dev | /dev/sdb | cache.c.backing_dev=/dev/sdb: expected file:PATH, nbd[s]://HOST[:PORT]/EXPORT or nbd[s]+unix:///EXPORT?socket=PATH",
        "cache.c.backing_dev | file: | cache.c.backing_dev=file:: expected file:PATH with a non-empty PATH",
        "cache.c.backing_dev | nbd:///export | cache.c.backing_dev=nbd:///export: expected nbd://HOST[:PORT]/EXPORT with a host",
        "cache.c.backing_dev | nbd://h:0/e | cache.c.backing_dev=nbd://h:0/e: expected a port from 1 to 65535 (default 10809)",
        "cache.c.backing_dev | nbd://h/e?tls=1 | cache.c.backing_dev=nbd://h/e?tls=1: expected nbd://HOST[:PORT]/EXPORT without a query (TLS parameters need nbds://)",
        "cache.c.backing_dev | nbd+unix:///e | cache.c.backing_dev=nbd+unix:///e: expected nbd+unix:///EXPORT?socket=PATH with a socket path",
        "cache.c.backing_dev | nbd+unix://host/e?socket=/s | cache.c.backing_dev=nbd+unix://host/e?socket=/s: expected nbd+unix:///EXPORT?socket=PATH (no host)",
        "cache.c.backing_dev | nbd+unix:///e?sock=/s | cache.c.backing_dev=nbd+unix:///e?sock=/s: expected nbd+unix:///EXPORT?socket=PATH (unknown parameter 'sock=/s')",
        "cache.c.backing_dev | nbd://h /e | cache.c.backing_dev=nbd://h /e: expected a valid URI (Illegal character in authority at index 6: nbd://h /e)",
        "nbd.listen | 10809 | nbd.listen=10809: expected HOST:PORT (e.g. 127.0.0.1:10809, [::1]:10809) or unix:PATH, or several separated by commas",
        "nbd.listen | localhost:http | nbd.listen=localhost:http: expected HOST:PORT (e.g. 127.0.0.1:10809, [::1]:10809) or unix:PATH, or several separated by commas with a port from 0 to 65535",
        "nbd.listen | unix: | nbd.listen=unix:: expected HOST:PORT (e.g. 127.0.0.1:10809, [::1]:10809) or unix:PATH, or several separated by commas",
        "nbd.listen | '127.0.0.1:10809,' | 'nbd.listen=127.0.0.1:10809,: expected HOST:PORT (e.g. 127.0.0.1:10809, [::1]:10809) or unix:PATH, or several separated by commas'",
        "nbd.tls | maybe | nbd.tls=maybe: expected off, on or require",
        "nbd.tls | require | nbd.tls=require needs credentials: set nbd.tls_certificates=DIR (server-cert.pem, server-key.pem, ca-cert.pem to verify clients) or nbd.tls_psk_file=FILE (identity:hexkey lines)",
        "nbd.tls_certificates | tls | nbd.tls_certificates=tls is set but nbd.tls=off: set nbd.tls=on or require to use it, or remove it",
        "nbd.listen | 0.0.0.0:10809 | nbd.listen=0.0.0.0:10809 is reachable from other machines but nbd.tls=off: anyone on the network could read and overwrite the caches. Set nbd.tls=require with nbd.tls_certificates or nbd.tls_psk_file, listen on a loopback address or a unix socket, or set nbd.insecure_allow_cleartext_network=true to accept clear text on the network",
        "health.dirty_warn_percent | 101 | health.dirty_warn_percent=101: expected a whole percentage from 0 to 100 (of a cache's data capacity; 100 never warns)",
        "health.dirty_warn_percent | 80% | health.dirty_warn_percent=80%: expected a whole percentage from 0 to 100 (of a cache's data capacity; 100 never warns)",
        "http.allowed_hosts | 'pcache.example.com, evil/x' | 'http.allowed_hosts=pcache.example.com, evil/x: expected host names separated by commas (e.g. pcache.example.com,nas.example.com); addresses and localhost need no entry: ''evil/x'' is not a host name'",
        "http.allowed_hosts | 'a.example,,b.example' | 'http.allowed_hosts=a.example,,b.example: expected host names separated by commas (e.g. pcache.example.com,nas.example.com); addresses and localhost need no entry: '''' is not a host name'",
        "log.level | LOUD | log.level=LOUD: expected one of ERROR, WARNING, INFO, DEBUG, TRACE, OFF, ALL (or a java.util.logging level name)",
        "cache.c.foo | 1 | unknown key cache.c.foo: expected one of cache.c.{cache_dev,cache_dev_size,backing_dev,backing_dev_size,cache_mode,data_crc,gc_percent,pmem,writeback_policy,backing_identity,force_identity,backing_timeout,crc,key_index,allocator}",
        "cache.c | 1 | unknown key cache.c: expected cache.<name>.<attribute>, health.dirty_warn_percent, http.allowed_hosts, http.console_credentials, http.listen, log.level, nbd.insecure_allow_cleartext_network, nbd.listen, nbd.read_views, nbd.tls, nbd.tls_certificates, nbd.tls_psk_file, nbd.tls_verify_peer, pcache.data",
        "nbd.port | 1 | unknown key nbd.port: expected cache.<name>.<attribute>, health.dirty_warn_percent, http.allowed_hosts, http.console_credentials, http.listen, log.level, nbd.insecure_allow_cleartext_network, nbd.listen, nbd.read_views, nbd.tls, nbd.tls_certificates, nbd.tls_psk_file, nbd.tls_verify_peer, pcache.data",
        "cache.c d.cache_dev | x | bad cache name 'c d' in key cache.c d.cache_dev: expected 1-64 letters, digits, '_', '-' or '.'",
        "cache.c2345678901234567890123456789012345678901234567890123456789012345.cache_dev | x | bad cache name 'c2345678901234567890123456789012345678901234567890123456789012345' in key cache.c2345678901234567890123456789012345678901234567890123456789012345.cache_dev: expected 1-64 letters, digits, '_', '-' or '.'",
        "cache.c.cache_dev | | cache c has no cache.c.cache_dev: expected the path of its cache device",
        "cache.c.backing_dev | | cache c has no cache.c.backing_dev: expected file:PATH, nbd[s]://HOST[:PORT]/EXPORT or nbd[s]+unix:///EXPORT?socket=PATH"})
    void badValuesSayKeyValueAndExpectation(String key, String value, String message) {
        assertEquals(message, problems(key, value));
    }

    @Test
    void backingSizeOnlyForFiles() {
        assertEquals("cache.c.backing_dev_size=1G: expected no size: an NBD backing device has the size of"
                + " its export (leave the key out)", problems("cache.c.backing_dev", "nbd://h/e", "cache.c.backing_dev_size", "1G"));
    }

    @Test
    void devicesUsedTwiceAreReported() {
        assertEquals("cache device /srv/pc/c.cache is used twice, as c's cache_dev and as d's cache_dev: "
                + "expected every cache and backing device to be used once",
                problems("cache.d.cache_dev", "/srv/pc/c.cache", "cache.d.backing_dev", "file:d.b"));
        assertEquals("backing device /srv/pc/c.cache is used twice, as c's cache_dev and as c's backing_dev: "
                + "expected every cache and backing device to be used once",
                problems("cache.c.backing_dev", "file:c.cache"));
    }

    /**
     * One NBD export spelled two ways (the default port written out, TLS) is one disk, used twice.
     * Before, the URIs were compared as text, and both caches would write back to one export.
     */
    @Test
    void anExportSpelledTwoWaysIsUsedTwice() {
        assertEquals("backing device nbds://h:10809/vol1 is used twice, as c's backing_dev and as d's backing_dev: "
                + "expected every cache and backing device to be used once",
                problems("cache.c.backing_dev", "nbd://h/vol1", "cache.d.cache_dev", "/srv/pc/d.cache",
                        "cache.d.backing_dev", "nbds://h:10809/vol1"));
    }

    /**
     * One export on this machine reached as {@code localhost} and as {@code 127.0.0.1} is one disk,
     * used twice. Before, hosts were compared as written.
     */
    @Test
    void aLocalExportReachedByTwoLoopbackNamesIsUsedTwice() {
        assertEquals("backing device nbd://127.0.0.1/vol1 is used twice, as c's backing_dev and as d's backing_dev: "
                + "expected every cache and backing device to be used once",
                problems("cache.c.backing_dev", "nbd://localhost/vol1", "cache.d.cache_dev", "/srv/pc/d.cache",
                        "cache.d.backing_dev", "nbd://127.0.0.1/vol1"));
    }

    /**
     * Two hard links to one file are one device: two caches on them are refused. Before, they
     * were two files to the check, and both caches started on one backing file.
     */
    @Test
    void aDeviceReachedThroughAHardLinkIsUsedTwice(@org.junit.jupiter.api.io.TempDir Path temp) throws Exception {
        Path disk = java.nio.file.Files.createFile(temp.resolve("disk.img")).toRealPath();
        Path hard = java.nio.file.Files.createLink(disk.resolveSibling("hard.img"), disk);
        assertEquals("backing device " + hard + " (a hard link to a file used already) is used twice, as c's"
                + " backing_dev and as d's backing_dev: expected every cache and backing device to be used once",
                problems("cache.c.backing_dev", "file:" + disk, "cache.d.cache_dev", "/srv/pc/d.cache",
                        "cache.d.backing_dev", "file:" + hard));
    }

    /**
     * A link to a device is that device: two caches whose paths reach one file (through a linked
     * file or a linked folder) use it twice. Before, paths were compared as written, so both
     * caches were started on one backing file, or on one cache device.
     */
    @Test
    void aDeviceReachedThroughALinkIsUsedTwice(@org.junit.jupiter.api.io.TempDir Path temp) throws Exception {
        Path disk = java.nio.file.Files.createFile(temp.resolve("disk.img"));
        Path link = java.nio.file.Files.createSymbolicLink(temp.resolve("link.img"), disk);
        Path folderLink = java.nio.file.Files.createSymbolicLink(temp.resolve("folder"), temp);
        Path real = disk.toRealPath();
        assertEquals("backing device " + link + " (which is " + real + ") is used twice, as c's backing_dev and as d's"
                + " backing_dev: expected every cache and backing device to be used once",
                problems("cache.c.backing_dev", "file:" + real, "cache.d.cache_dev", "/srv/pc/d.cache",
                        "cache.d.backing_dev", "file:" + link));
        assertEquals("cache device " + folderLink.resolve("c.cache") + " (which is " + real.resolveSibling("c.cache")
                + ") is used twice, as c's cache_dev and as d's cache_dev: expected every cache and backing device"
                + " to be used once",
                problems("cache.c.cache_dev", real.resolveSibling("c.cache").toString(),
                        "cache.d.cache_dev", folderLink.resolve("c.cache").toString(), "cache.d.backing_dev", "file:d.b"));
        assertEquals("backing device " + link + " (which is " + real + ") is used twice, as c's cache_dev and as c's"
                + " backing_dev: expected every cache and backing device to be used once",
                problems("cache.c.cache_dev", real.toString(), "cache.c.backing_dev", "file:" + link));
    }

    @Test
    void everyProblemIsReportedAtOnce() {
        ConfigException e = assertThrows(ConfigException.class, () -> SettingsParser.parse(minimal(
                "cache.c.gc_percent", "99", "cache.c.pmem", "x y", "cache.d.cache_dev", "d", "nbd.listen", "x")));
        assertEquals(4, e.problems().size(), e.getMessage());
    }
}
