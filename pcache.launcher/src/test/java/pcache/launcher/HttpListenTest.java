package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Level;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code http.listen}: its syntax, its problems, and the framework properties it becomes. */
class HttpListenTest {

    private static Map<String, String> config(String httpListen) {
        Map<String, String> v = new java.util.HashMap<>(Map.of("pcache.data", "/srv/pc", "cache.c.cache_dev",
                "c.cache", "cache.c.backing_dev", "file:c.backing"));
        if (httpListen != null) {
            v.put(ConfigKeys.HTTP_LISTEN, httpListen);
        }
        return v;
    }

    @Test
    void absentOrBlankMeansNoHttp() throws Exception {
        assertEquals(Optional.empty(), SettingsParser.parse(config(null)).http());
        assertEquals(Optional.empty(), SettingsParser.parse(config("  ")).http());
    }

    @Test
    void hostAndPort() throws Exception {
        assertEquals(Optional.of(new HttpListen("127.0.0.1", 8080)), SettingsParser.parse(config("127.0.0.1:8080")).http());
        assertEquals(Optional.of(new HttpListen("::1", 9100)), HttpListen.parse("[::1]:9100"));
        assertEquals(Optional.of(new HttpListen("localhost", 1)), HttpListen.parse(" localhost:1 "));
        assertEquals(Optional.of(new HttpListen("0.0.0.0", 65535)), HttpListen.parse("0.0.0.0:65535"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"8080", ":8080", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
        "127.0.0.1:http", "::1:8080", "[::1:8080", "a b:8080", "unix:/tmp/http.sock", "no-such-host.invalid:8080"})
    void aBadValueNamesTheKeyAndWhatToDo(String value) {
        ConfigException e = assertThrows(ConfigException.class, () -> SettingsParser.parse(config(value)));
        assertEquals(1, e.problems().size(), e.getMessage());
        String problem = e.problems().get(0);
        assertTrue(problem.startsWith("http.listen=" + value + ": expected "), problem);
        assertTrue(problem.contains("remove http.listen to run without HTTP"), problem);
    }

    @Test
    void frameworkPropertiesOnlyWithTheKey() throws Exception {
        PcacheSettings without = SettingsParser.parse(config(null));
        Map<String, String> p = FrameworkProperties.forRun(without, Level.WARNING, false);
        assertTrue(p.keySet().stream().noneMatch(k -> k.startsWith("org.osgi.service.http")
                || k.startsWith("org.apache.felix.http")), p.toString());

        PcacheSettings with = SettingsParser.parse(config("[::1]:8181"));
        p = FrameworkProperties.forRun(with, Level.WARNING, false);
        assertEquals("::1", p.get("org.apache.felix.http.host"));
        assertEquals("8181", p.get("org.osgi.service.http.port"));
        assertEquals("false", p.get("org.apache.felix.http.jetty.sendServerHeader"));
        assertEquals("1", p.get("org.apache.felix.eventadmin.LogLevel"), "EventAdmin prints errors only");
        assertEquals(Path.of("/srv/pc/felix-cache").toString(), p.get("org.osgi.framework.storage"));
    }

    @Test
    void urls() {
        assertEquals("http://127.0.0.1:8080/metrics", new HttpListen("127.0.0.1", 8080).url("/metrics"));
        assertEquals("http://[::1]:8080/metrics", new HttpListen("::1", 8080).url("/metrics"));
    }

    @Test
    void theEnvironmentCanSetIt() throws Exception {
        assertEquals(Map.of("http.listen", "127.0.0.1:9", "cache.c.gc_percent", "5"), EnvironmentKeys.map(
                Map.of("PCACHE_HTTP_LISTEN", "127.0.0.1:9", "PCACHE_CACHE_C_GC_PERCENT", "5"), java.util.List.of("c")));
    }
    /** A listener reachable from other machines is named at start; loopback ones are not. */
    @Test
    void aNetworkAddressIsWarnedAboutAndLoopbackIsNot() {
        for (String loopback : new String[] {"127.0.0.1:8080", "127.1.2.3:8080", "[::1]:8080", "localhost:8080",
                "LOCALHOST:8080"}) {
            HttpListen h = HttpListen.parse(loopback).orElseThrow();
            org.junit.jupiter.api.Assertions.assertTrue(h.isLoopback(), loopback);
            org.junit.jupiter.api.Assertions.assertEquals(java.util.Optional.empty(), h.networkWarning(), loopback);
        }
        for (String network : new String[] {"0.0.0.0:8080", "10.0.0.5:8080", "[::]:8080"}) {
            HttpListen h = HttpListen.parse(network).orElseThrow();
            org.junit.jupiter.api.Assertions.assertFalse(h.isLoopback(), network);
            String warning = h.networkWarning().orElseThrow();
            org.junit.jupiter.api.Assertions.assertTrue(warning.startsWith("pcache: WARNING: http.listen=" + network
                    + " is reachable from other machines"), warning);
        }
    }
}
