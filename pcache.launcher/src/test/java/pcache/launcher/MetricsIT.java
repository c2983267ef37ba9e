package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The metrics endpoint of the distribution, end to end: pcache started with
 * {@code http.listen = 127.0.0.1:PORT} serves {@code /metrics}; I/O by qemu-io moves its counters
 * and latency histograms; {@code promtool check metrics} accepts the output; it listens on that
 * address only. And without {@code http.listen} the process listens on no TCP port and runs no
 * HTTP bundle. Every wait is bounded; the tests of the first instance run in order.
 */
@Timeout(300)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MetricsIT {

    private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration HTTP_TIMEOUT = Duration.ofSeconds(20);
    private static final String CACHE = "m";

    @TempDir
    static Path dir;

    private static PcacheProcess pcache;
    private static int httpPort;
    private static HttpClient http;
    private ExternalTools tools;

    @BeforeAll
    static void startPcache() throws Exception {
        http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(HTTP_TIMEOUT).build();
        Path instance = Files.createDirectories(dir.resolve("with-http"));
        pcache = PcacheProcess.startOnFreePort(port -> PcacheProcess.configure(instance, Optional.empty(), """
                cache.m.cache_dev = m.cache
                cache.m.cache_dev_size = 512M
                cache.m.backing_dev = file:m.backing
                cache.m.backing_dev_size = 64M
                http.listen = 127.0.0.1:%d
                """.formatted(port)), CACHE);
        httpPort = pcache.port();
        awaitMetricsOf(CACHE);
    }

    @AfterAll
    static void stopPcache() throws Exception {
        if (pcache != null && pcache.isAlive()) {
            assertEquals(0, pcache.stop(), "clean stop on SIGTERM:\n" + pcache.log());
        }
    }

    @BeforeEach
    void tools() {
        tools = new ExternalTools(dir);
    }

    @AfterEach
    void closeTools() throws Exception {
        tools.close();
    }

    private static URI metricsUri() {
        return URI.create("http://127.0.0.1:" + httpPort + "/metrics");
    }

    private static HttpResponse<String> get(URI uri) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri).timeout(HTTP_TIMEOUT).GET().build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }

    /** One scrape of /metrics; fails unless it answers 200. */
    private static String scrape() throws IOException, InterruptedException {
        HttpResponse<String> r = get(metricsUri());
        assertEquals(200, r.statusCode(), r.body());
        return r.body();
    }

    /**
     * Waits (bounded) until /metrics answers with the cache's samples: the HTTP service and the
     * metrics component start beside the caches, not before the NBD export serves them.
     */
    private static void awaitMetricsOf(String cache) throws Exception {
        long deadline = System.nanoTime() + PcacheProcess.START_TIMEOUT.toNanos();
        String last = "(no answer)";
        while (true) {
            try {
                HttpResponse<String> r = get(metricsUri());
                last = r.statusCode() + "\n" + r.body();
                if (r.statusCode() == 200 && r.body().contains("{cache=\"" + cache + "\"}")) {
                    return;
                }
            } catch (IOException notYet) {
                last = notYet.toString();
            }
            if (!pcache.isAlive()) {
                fail("pcache exited before serving /metrics:\n" + pcache.log());
            }
            if (System.nanoTime() > deadline) {
                fail("no metrics of cache " + cache + " at " + metricsUri() + " after "
                        + PcacheProcess.START_TIMEOUT.toSeconds() + " s; last answer: " + last + "\n" + pcache.log());
            }
            Thread.sleep(200);
        }
    }

    /** The value of the sample {@code name{cache="m"...}}; fails unless there is exactly one. */
    private static double sample(String text, String nameAndLabels) {
        List<String> lines = text.lines().filter(l -> l.startsWith(nameAndLabels + " ")).toList();
        assertEquals(1, lines.size(), "one sample " + nameAndLabels + " in\n" + text);
        return Double.parseDouble(lines.get(0).substring(nameAndLabels.length() + 1).trim());
    }

    private static String ofCache(String name) {
        return name + "{cache=\"" + CACHE + "\"}";
    }

    @Test
    @Order(0)
    void everyBundleIncludingTheHttpOnesIsActive() throws Exception {
        long jars;
        try (var files = Files.list(PcacheProcess.DISTRIBUTION.resolve("bundles"));
             var http = Files.list(PcacheProcess.DISTRIBUTION.resolve("bundles").resolve(EmbeddedFramework.HTTP_BUNDLES))) {
            jars = files.filter(f -> f.toString().endsWith(".jar")).count()
                    + http.filter(f -> f.toString().endsWith(".jar")).count();
        }
        PcacheProcess.CtlResult lb = pcache.ctl("lb -s");
        assertEquals(0, lb.status(), lb.err());
        List<String> rows = lb.out().lines().filter(l -> l.matches("\\s*\\d+\\|.*")).toList();
        assertEquals(jars + 1, rows.size(), lb.out()); // + the system bundle
        for (String row : rows) {
            assertTrue(row.contains("|Active     |"), row);
        }
        for (String bundle : List.of("pcache.metrics", "org.apache.felix.http.jetty", "org.apache.felix.http.servlet-api",
                "slf4j.api", "slf4j.jdk14", "pcache.health", "org.apache.felix.healthcheck.api",
                "org.apache.felix.healthcheck.core", "org.apache.felix.eventadmin")) {
            assertTrue(lb.out().contains("|" + bundle + " ("), bundle + " in\n" + lb.out());
        }
    }

    @Test
    @Order(1)
    void countersAndLatencyHistogramsMoveWithIo() throws Exception {
        ExternalTools.assumeInstalled("qemu-io");
        String before = scrape();
        tools.qemuIo(TOOL_TIMEOUT, pcache.unixUri(CACHE), true,
                List.of("write -P 0x5a 0 1M", "read -P 0x5a 0 1M", "flush"));
        String after = scrape();

        assertTrue(sample(after, ofCache("pcache_write_requests_total"))
                > sample(before, ofCache("pcache_write_requests_total")), after);
        assertTrue(sample(after, ofCache("pcache_written_bytes_total"))
                >= sample(before, ofCache("pcache_written_bytes_total")) + (1 << 20), after);
        assertTrue(sample(after, ofCache("pcache_read_requests_total"))
                > sample(before, ofCache("pcache_read_requests_total")), after);
        assertTrue(sample(after, ofCache("pcache_flushes_total")) > sample(before, ofCache("pcache_flushes_total")),
                after);
        assertTrue(sample(after, ofCache("pcache_dirty_bytes")) >= 0, after);
        assertTrue(sample(after, ofCache("pcache_segments_used")) > 0, after);
        for (String kind : List.of("read", "write", "flush")) {
            String count = ofCache("pcache_" + kind + "_duration_seconds_count");
            assertTrue(sample(after, count) > sample(before, count), kind + " histogram moved:\n" + after);
            assertEquals(sample(after, count), sample(after, "pcache_" + kind + "_duration_seconds_bucket{cache=\""
                    + CACHE + "\",le=\"+Inf\"}"), after);
            assertTrue(sample(after, ofCache("pcache_" + kind + "_duration_seconds_sum")) > 0, after);
        }
    }

    @Test
    @Order(2)
    void promtoolAcceptsTheOutput() throws Exception {
        ExternalTools.assumeInstalled("promtool");
        Path text = Files.writeString(dir.resolve("scrape.txt"), scrape(), StandardCharsets.UTF_8);
        ExternalTools.Result r = tools.runWithInput(TOOL_TIMEOUT, text, "promtool", "check", "metrics");
        assertEquals(0, r.exitCode(), "promtool check metrics:\n" + r.all() + "\non:\n" + Files.readString(text));
        assertEquals("", r.all().trim(), "promtool found problems:\n" + r.all());
    }

    @Test
    @Order(3)
    void readOnlyAndOnTheConfiguredAddressOnly() throws Exception {
        HttpResponse<String> post = http.send(HttpRequest.newBuilder(metricsUri()).timeout(HTTP_TIMEOUT)
                .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(405, post.statusCode(), post.body());
        assertEquals(404, get(URI.create("http://127.0.0.1:" + httpPort + "/")).statusCode());
        HttpResponse<String> r = get(metricsUri());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4"),
                r.headers().toString());
        assertTrue(r.headers().firstValue("Server").isEmpty(), "no Server header: " + r.headers());
        // NBD listens on a unix socket here: the one TCP listener is the HTTP service
        assertEquals(Set.of("127.0.0.1:" + httpPort), ListeningSockets.of(pcache.pid()));
    }

    /**
     * A configured cache whose open failed has {@code pcache_cache_open 0} (the open one 1), and
     * promtool takes the answer. Before, such a cache had no sample at all.
     */
    @Test
    @Order(5)
    void aCacheThatCannotBeOpenedIsExportedAsNotOpen() throws Exception {
        Path device = ForeignDevices.createCacheOn(pcache, "f");
        String text = scrape();
        assertEquals(0, sample(text, "pcache_cache_open{cache=\"f\"}"), text);
        assertEquals(1, sample(text, ofCache("pcache_cache_open")), text);
        ForeignDevices.clear(device);
        PcacheProcess.CtlResult removed = pcache.ctl("pcache:remove f");
        assertEquals(0, removed.status(), removed.out() + removed.err());
        assertFalse(scrape().contains("cache=\"f\""), "gone with its configuration");
        Path scraped = Files.writeString(dir.resolve("scrape-not-open.txt"), text, StandardCharsets.UTF_8);
        ExternalTools.assumeInstalled("promtool");
        ExternalTools.Result r = tools.runWithInput(TOOL_TIMEOUT, scraped, "promtool", "check", "metrics");
        assertEquals(0, r.exitCode(), "promtool check metrics:\n" + r.all() + "\non:\n" + text);
    }

    @Test
    @Order(4)
    void withoutHttpListenNothingListensAndNoHttpBundleRuns() throws Exception {
        Path instance = Files.createDirectories(dir.resolve("without-http"));
        try (PcacheProcess plain = PcacheProcess.configure(instance, Optional.empty(), """
                cache.n.cache_dev = n.cache
                cache.n.cache_dev_size = 512M
                cache.n.backing_dev = file:n.backing
                cache.n.backing_dev_size = 64M
                """)) {
            plain.startServing("n");
            assertEquals(Set.of(), ListeningSockets.of(plain.pid()), "no TCP listener without http.listen");
            PcacheProcess.CtlResult lb = plain.ctl("lb -s");
            assertEquals(0, lb.status(), lb.err());
            assertTrue(lb.out().contains("pcache.shell"), lb.out());
            assertFalse(lb.out().contains("org.apache.felix.http"), lb.out());
            assertFalse(lb.out().contains("pcache.metrics"), lb.out());
            assertFalse(lb.out().contains("slf4j"), lb.out());
            assertFalse(lb.out().contains("pcache.health"), lb.out());
            assertFalse(lb.out().contains("healthcheck"), lb.out());
            assertFalse(lb.out().contains("eventadmin"), lb.out());
            assertEquals(0, plain.stop(), plain.log());
        }
    }
}
