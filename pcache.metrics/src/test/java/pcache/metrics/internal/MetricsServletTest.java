package pcache.metrics.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import pcache.api.CacheDevice;
import pcache.api.CacheOpenFailure;
import pcache.api.CacheStatistics;

/** The servlet over stand-in caches and a recording response. */
class MetricsServletTest {

    /** What the servlet set on the response. */
    static final class Recorded {
        final Map<String, Object> calls = new HashMap<>();
        final ByteArrayOutputStream body = new ByteArrayOutputStream();

        String body() {
            return body.toString(StandardCharsets.UTF_8);
        }
    }

    static HttpServletResponse response(Recorded recorded) {
        ServletOutputStream out = new ServletOutputStream() {
            @Override
            public boolean isReady() {
                return true;
            }

            @Override
            public void setWriteListener(WriteListener listener) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void write(int b) {
                recorded.body.write(b);
            }
        };
        return (HttpServletResponse) Proxy.newProxyInstance(MetricsServletTest.class.getClassLoader(),
                new Class<?>[] {HttpServletResponse.class}, (proxy, method, args) -> {
                    switch (method.getName()) {
                        case "getOutputStream":
                            return out;
                        case "setStatus", "setContentType":
                            recorded.calls.put(method.getName(), args[0]);
                            return null;
                        case "setHeader":
                            recorded.calls.put("header " + args[0], args[1]);
                            return null;
                        default:
                            throw new UnsupportedOperationException(method.getName());
                    }
                });
    }

    static CacheDevice cache(String name, CacheStatistics statistics) {
        return (CacheDevice) Proxy.newProxyInstance(MetricsServletTest.class.getClassLoader(),
                new Class<?>[] {CacheDevice.class}, (proxy, method, args) -> {
                    switch (method.getName()) {
                        case "name":
                            return name;
                        case "statistics":
                            if (statistics == null) {
                                throw new IllegalStateException("cache " + name + " is closed");
                            }
                            return statistics;
                        default:
                            throw new UnsupportedOperationException(method.getName());
                    }
                });
    }

    static HttpServletRequest request() {
        return (HttpServletRequest) Proxy.newProxyInstance(MetricsServletTest.class.getClassLoader(),
                new Class<?>[] {HttpServletRequest.class}, (proxy, method, args) -> {
                    throw new UnsupportedOperationException(method.getName());
                });
    }

    @Test
    void servesTheTextFormatOfEveryOpenCache() throws Exception {
        MetricsServlet servlet = new MetricsServlet();
        servlet.caches = List.of(cache("z", CacheMetricsTest.numbered(5)), cache("closing", null),
                cache("a", CacheMetricsTest.numbered(9)));
        Recorded recorded = new Recorded();
        servlet.doGet(request(), response(recorded));

        assertEquals(200, recorded.calls.get("setStatus"));
        assertEquals("text/plain; version=0.0.4; charset=utf-8", recorded.calls.get("setContentType"));
        assertEquals("no-store", recorded.calls.get("header Cache-Control"));
        String text = recorded.body();
        assertEquals(5, CacheMetricsTest.sample(text, "pcache_read_requests_total{cache=\"z\"}"));
        assertEquals(9, CacheMetricsTest.sample(text, "pcache_read_requests_total{cache=\"a\"}"));
        assertFalse(text.contains("closing"), "a cache that fails to answer is left out:\n" + text);
        assertTrue(text.indexOf("cache=\"a\"") < text.indexOf("cache=\"z\""), "sorted by name:\n" + text);
    }

    /**
     * A configured cache that is not open has {@code pcache_cache_open 0}, the open ones 1, so that an
     * alert can fire on it. Before, such a cache was absent from the answer.
     */
    @Test
    void aCacheThatIsNotOpenIsExportedAsNotOpen() throws Exception {
        MetricsServlet servlet = new MetricsServlet();
        servlet.caches = List.of(cache("a", CacheMetricsTest.numbered(9)));
        servlet.openFailures = List.of(failure("b"));
        Recorded recorded = new Recorded();
        servlet.doGet(request(), response(recorded));
        String text = recorded.body();
        assertEquals(1, CacheMetricsTest.sample(text, "pcache_cache_open{cache=\"a\"}"));
        assertEquals(0, CacheMetricsTest.sample(text, "pcache_cache_open{cache=\"b\"}"));
        assertFalse(text.contains("pcache_read_requests_total{cache=\"b\"}"), text);

        servlet.caches = List.of();
        recorded = new Recorded();
        servlet.doGet(request(), response(recorded));
        text = recorded.body();
        assertEquals(0, CacheMetricsTest.sample(text, "pcache_cache_open{cache=\"b\"}"));
        assertEquals(List.of("# HELP", "# TYPE", "pcache_cache_open{cache=\"b\"} 0.0"),
                text.lines().map(l -> l.startsWith("#") ? l.substring(0, 6) : l).toList(), text);
    }

    /** A cache's published failure. */
    private record Failure(String name, String reason, boolean waitsForBacking) implements CacheOpenFailure {
    }

    private static CacheOpenFailure failure(String name) {
        return new Failure(name, "superblock damaged", false);
    }

    @Test
    void withoutCachesTheAnswerIsEmpty() throws Exception {
        MetricsServlet servlet = new MetricsServlet();
        servlet.caches = List.of();
        Recorded recorded = new Recorded();
        servlet.doGet(request(), response(recorded));
        assertEquals(200, recorded.calls.get("setStatus"));
        assertEquals("", recorded.body());
    }
}
