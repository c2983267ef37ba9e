package pcache.api.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.osgi.framework.Filter;
import org.osgi.framework.FrameworkUtil;
import org.osgi.framework.InvalidSyntaxException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

import pcache.api.CacheMode;

class ConfigContractTest {

    private static Map<CacheAttribute, String> values(Object... keyValues) {
        Map<CacheAttribute, String> m = new EnumMap<>(CacheAttribute.class);
        for (int i = 0; i < keyValues.length; i += 2) {
            m.put((CacheAttribute) keyValues[i], (String) keyValues[i + 1]);
        }
        return m;
    }

    @Test
    void escapesWhatIsSpecialInAFilterValue() {
        assertEquals("a\\*b\\(c\\)d\\\\e", LdapFilters.escape("a*b(c)d\\e"));
        assertEquals("(pcache.backing.name=x\\)\\(y=\\*\\))", LdapFilters.equal("pcache.backing.name", "x)(y=*)"));
        assertEquals("(p=plain-name_1.0)", LdapFilters.equal("p", "plain-name_1.0"));
    }

    @Property
    void anEqualityFilterGivesItsValueBack(@ForAll String value) {
        if (!value.isEmpty()) {
            assertEquals(Optional.of(value), LdapFilters.equalValue(LdapFilters.equal("a.b", value), "a.b"));
        }
    }

    /** The framework's own filter parser takes the filters and matches exactly the value escaped. */
    @Property
    void theFrameworkMatchesExactlyTheEscapedValue(@ForAll String value) throws InvalidSyntaxException {
        if (!value.isBlank()) {
            Filter f = FrameworkUtil.createFilter(LdapFilters.equal("pcache.backing.name", value));
            assertTrue(f.matches(Map.of("pcache.backing.name", value)), f.toString());
            assertFalse(f.matches(Map.of("pcache.backing.name", value + "x")), f.toString());
        }
    }

    @Test
    void onlyPlainEqualityFiltersSelectByName() {
        assertEquals(Optional.empty(), LdapFilters.equalValue("(pcache.backing.name=*)", "pcache.backing.name"));
        assertEquals(Optional.empty(), LdapFilters.equalValue("(&(a=b)(c=d))", "a"));
        assertEquals(Optional.empty(), LdapFilters.equalValue("(other=x)", "pcache.backing.name"));
        assertEquals(Optional.of("c1.backing"), CacheDefinition.selectedBackingName(" (pcache.backing.name=c1.backing) "));
    }

    @ParameterizedTest
    @ValueSource(strings = {"pcache0", "a_-9", "disk.0", "A", "c234567890123456789012345678901234567890123456789012345678901234"})
    void cacheNames(String name) {
        assertTrue(CacheNames.isValid(name));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "c d", "a/b", "x)(y", "c2345678901234567890123456789012345678901234567890123456789012345"})
    void badCacheNames(String name) {
        assertFalse(CacheNames.isValid(name));
    }

    @Test
    void defaultsFillEveryOptionalAttribute() {
        CacheDefinition d = CacheDefinition.parse("c", values(CacheAttribute.CACHE_DEV, "c.cache",
                CacheAttribute.BACKING_DEV, "file:c.img"), Path.of("/base")).definition().orElseThrow();
        assertEquals(new CacheDefinition("c", Path.of("/base/c.cache"), 0, new BackingLocation.File(Path.of("/base/c.img")),
                0, CacheMode.WRITEBACK, false, 70, CacheDefinition.defaultParts(), Optional.empty(), false,
                Duration.ofSeconds(30)), d);
        assertEquals("(pcache.pmem.type=mapped)", d.targetProperties().get("pmem.target"));
        assertEquals(TargetProperties.PMEM_TARGET_DEFAULT, d.targetProperties().get("pmem.target"));
        assertEquals(TargetProperties.ALLOCATOR_TARGET_DEFAULT, d.targetProperties().get("allocator.target"));
    }

    @Test
    void everyProblemIsReportedWithItsAttributeValueAndExpectation() {
        CacheDefinition.Parsed p = CacheDefinition.parse("bad name", values(CacheAttribute.GC_PERCENT, "95",
                CacheAttribute.BACKING_DEV, "nbd://h/e", CacheAttribute.BACKING_DEV_SIZE, "1G",
                CacheAttribute.PMEM, "(x)", CacheAttribute.BACKING_IDENTITY, ""), Path.of("/"));
        assertTrue(p.definition().isEmpty());
        assertEquals(List.of(
                "name=bad name: expected 1-64 letters, digits, '_', '-' or '.'",
                "cache_dev is missing: expected the path of its cache device",
                "backing_dev_size=1G: expected no size: an NBD backing device has the size of its export"
                        + " (leave the key out)",
                "gc_percent=95: expected an integer from 0 to 90",
                "pmem=(x): expected the name of a pmem mapping (1-64 letters, digits, '_', '-' or '.')",
                "backing_identity=: expected a label of 1 to 1024 bytes of UTF-8 (leave the key out for the device's"
                        + " default identity)"),
                p.problems().stream().map(x -> x.render(x.attribute() == null ? "name" : x.attribute().key())).toList());
    }

    @Test
    void nbdBackingMapsToItsPid() {
        CacheDefinition d = CacheDefinition.parse("r", values(CacheAttribute.CACHE_DEV, "/d/r.cache",
                CacheAttribute.BACKING_DEV, "nbd+unix:///disk?socket=/run/nbd.sock",
                CacheAttribute.BACKING_IDENTITY, "disk-1"), Path.of("/")).definition().orElseThrow();
        assertEquals(ConfigPids.BACKING_NBD, d.backing().pid());
        assertEquals(new BackingLocation.Nbd(URI.create("nbd+unix:///disk?socket=/run/nbd.sock")), d.backing());
        assertEquals(Map.of("name", "r.backing", "uri", "nbd+unix:///disk?socket=/run/nbd.sock", "identity", "disk-1"),
                d.backingProperties());
    }

    @Test
    void nbdsBackingKeepsItsTlsParametersInTheUri() {
        String uri = "nbds://alice@10.0.0.5/disk?tls-psk-file=/etc/pcache/keys.psk";
        CacheDefinition d = CacheDefinition.parse("r", values(CacheAttribute.CACHE_DEV, "/d/r.cache",
                CacheAttribute.BACKING_DEV, uri), Path.of("/")).definition().orElseThrow();
        assertEquals(ConfigPids.BACKING_NBD, d.backing().pid());
        assertEquals(Map.of("name", "r.backing", "uri", uri), d.backingProperties());
        String unix = "nbds+unix:///disk?socket=/run/nbd.sock&tls-certificates=/etc/pki/nbd&tls-verify-peer=false";
        assertEquals(unix, BackingLocation.parse(unix, Path.of("/")).text());
        assertEquals("nbds+unix://bob@/d?socket=/s&tls-psk-file=/k",
                BackingLocation.parse("nbds+unix://bob@/d?socket=/s&tls-psk-file=/k", Path.of("/")).text());
    }

    /**
     * A relative path inside an NBD URI is refused with what to write: the device would take a
     * relative socket from its working directory, not the data directory as every other relative
     * path, and refuses relative TLS files only after start. Before, both passed the launcher.
     */
    @Test
    void aRelativePathInAnNbdUriIsRefused() {
        for (String uri : List.of("nbd+unix:///disk?socket=run/nbd.sock",
                "nbds+unix://bob@/disk?socket=/run/nbd.sock&tls-psk-file=keys.psk",
                "nbds://h/x?tls-certificates=../pki")) {
            CacheDefinition.Parsed p = CacheDefinition.parse("r", values(CacheAttribute.CACHE_DEV, "r.cache",
                    CacheAttribute.BACKING_DEV, uri), Path.of("/srv/data"));
            assertTrue(p.definition().isEmpty(), uri);
            String problem = p.problems().get(0).render("backing_dev");
            assertTrue(problem.startsWith("backing_dev=" + uri + ": expected an absolute path in ")
                    && problem.contains("not resolved against the data directory"), problem);
        }
        assertEquals("nbds://h/x?tls-certificates=/etc/pki&tls-psk-file=/k", CacheDefinition.parse("r",
                values(CacheAttribute.CACHE_DEV, "r.cache", CacheAttribute.BACKING_DEV,
                        "nbds://h/x?tls-certificates=/etc/pki&tls-psk-file=/k"), Path.of("/srv/data"))
                .definition().orElseThrow().backingProperties().get("uri"));
    }

    /** The same disk however it is reached: the duplicate check of pcache:create compares these. */
    @Test
    void aLocationsDiskIgnoresTlsUserPortDefaultAndHostCase() {
        Path base = Path.of("/");
        String tcp = "nbd://nbd.example.org:10809/vol1";
        for (String same : List.of("nbd://nbd.example.org/vol1", "nbd://NBD.example.org:10809/vol1",
                "nbds://nbd.example.org/vol1?tls-certificates=/etc/pki/nbd",
                "nbds://alice@nbd.example.org:10809/vol1?tls-psk-file=/k&tls-verify-peer=false")) {
            assertEquals(tcp, BackingLocation.parse(same, base).disk(), same);
        }
        assertEquals("nbd://nbd.example.org:10810/vol1", BackingLocation.parse("nbd://nbd.example.org:10810/vol1",
                base).disk());
        assertEquals("nbd://nbd.example.org:10809/vol2", BackingLocation.parse("nbds://nbd.example.org/vol2"
                + "?tls-psk-file=/k", base).disk());
        assertEquals("nbd+unix:///d?socket=/run/nbd.sock", BackingLocation.parse(
                "nbds+unix://bob@/d?socket=/run/../run/nbd.sock&tls-psk-file=/k", base).disk());
        assertEquals("nbd+unix:///d?socket=/run/nbd.sock", BackingLocation.parse("nbd+unix:///d?socket=/run/nbd.sock",
                base).disk());
        assertEquals("file:/srv/a.img", BackingLocation.parse("file:/srv/x/../a.img", base).disk());
    }

    /**
     * Every name and address of the loopback interface is one host to the disk: two caches on
     * {@code nbd://localhost/x} and {@code nbd://127.0.0.1/x} write back to one export. Before,
     * hosts were compared as written, and the checks let both through.
     */
    @Test
    void loopbackSpellingsOfOneExportAreOneDisk() {
        Path base = Path.of("/");
        for (String same : List.of("nbd://localhost/x", "nbd://127.0.0.1/x", "nbd://[::1]/x", "nbd://LOCALHOST:10809/x",
                "nbd://localhost./x", "nbd://[0:0:0:0:0:0:0:1]/x", "nbd://[::ffff:127.0.0.1]/x", "nbd://ip6-localhost/x",
                "nbds://localhost.localdomain/x?tls-psk-file=/k")) {
            assertEquals("nbd://loopback:10809/x", BackingLocation.parse(same, base).disk(), same);
        }
        // another loopback address may be another server; names are not looked up
        for (String other : List.of("nbd://127.0.0.2/x", "nbd://128.0.0.1/x", "nbd://[::2]/x", "nbd://localhostx/x",
                "nbd://10.0.0.1/x", "nbd://pcache.localhost/x", "nbd://0.0.0.0/x")) {
            assertTrue(!BackingLocation.parse(other, base).disk().contains("loopback"), other);
        }
        assertEquals("nbd://loopback:10810/x", BackingLocation.parse("nbd://localhost:10810/x", base).disk());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "nbd://h/d?tls-certificates=/c|nbd://HOST[:PORT]/EXPORT without a query (TLS parameters need nbds://)",
            "nbd://alice@h/d|without a user (a user names the PSK identity of nbds://)",
            "nbds://h/d?tls-cert=/c|(unknown parameter 'tls-cert=/c')",
            "nbds:///d?tls-psk-file=/k|nbds://HOST[:PORT]/EXPORT with a host",
            "nbd+unix:///d?socket=/s&tls-psk-file=/k|nbd+unix:///EXPORT?socket=PATH (unknown parameter",
            "nbds+unix://h/d?socket=/s|nbds+unix:///EXPORT?socket=PATH (no host)",
            "nbds+unix:///d?tls-psk-file=/k|nbds+unix:///EXPORT?socket=PATH with a socket path"})
    void badNbdsLocationsSayWhatIsExpected(String value, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> BackingLocation.parse(value, Path.of("/")));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void targetChecksAllItsProblemsAtOnce() {
        assertEquals(List.of(), CacheDefinition.targetProblems("c", "/x", 0, "writeback", 70, 1));
        assertEquals(4, CacheDefinition.targetProblems("a b", "/x", 1, "fast", 91, 1).size());
    }

    @Test
    void createKeysPutTheRequiredFirst() {
        assertEquals(List.of("cache_dev", "backing", "cache_dev_size", "backing_size", "mode", "data_crc",
                "gc_percent", "pmem", "policy", "identity", "crc", "key_index", "allocator"),
                CacheAttribute.createKeys());
    }
}
