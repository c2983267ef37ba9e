package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
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

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The health checks of the distribution, end to end: pcache started with {@code http.listen}
 * answers {@code GET /system/health} with 200 and JSON naming every pcache check while the cache
 * is healthy (never 200 before the checks exist); {@code hc:exec} over the control socket prints
 * the same checks; the endpoint is
 * read-only and ignores what a request asks for; and once the cache device file is removed
 * under the running cache (deterministic: the check looks for the file) it answers 503 with the
 * reason and what to do, as {@code hc:exec} and {@code pcache:status} do. Every wait is bounded;
 * the tests run in order on one instance.
 */
@Timeout(300)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HealthIT {

    private static final Duration HTTP_TIMEOUT = Duration.ofSeconds(20);
    /** Longer than the executor's result cache (2 s) many times over. */
    private static final Duration CHANGE_TIMEOUT = Duration.ofSeconds(60);
    private static final String CACHE = "h";
    private static final List<String> CHECKS = List.of("pcache backing device", "pcache cache device",
            "pcache data integrity", "pcache dirty data", "pcache NBD export", "pcache space",
            "pcache write-back and GC");

    @TempDir
    static Path dir;

    private static PcacheProcess pcache;
    private static int httpPort;
    private static HttpClient http;

    @BeforeAll
    static void startPcache() throws Exception {
        http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(HTTP_TIMEOUT).build();
        pcache = PcacheProcess.startOnFreePort(port -> PcacheProcess.configure(dir, Optional.empty(), """
                cache.h.cache_dev = h.cache
                cache.h.cache_dev_size = 512M
                cache.h.backing_dev = file:h.backing
                cache.h.backing_dev_size = 64M
                http.listen = 127.0.0.1:%d
                health.dirty_warn_percent = 60
                """.formatted(port)), CACHE);
        httpPort = pcache.port();
    }

    @AfterAll
    static void stopPcache() throws Exception {
        if (pcache != null && pcache.isAlive()) {
            assertEquals(0, pcache.stop(), "clean stop on SIGTERM:\n" + pcache.log());
        }
    }

    private static URI healthUri(String query) {
        return URI.create("http://127.0.0.1:" + httpPort + HealthEndpoint.PATH + query);
    }

    private static HttpResponse<String> get(URI uri) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri).timeout(HTTP_TIMEOUT).GET().build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }

    /**
     * Waits (bounded) until /system/health answers {@code status} with a body holding
     * {@code text} (JSON's escaped slashes read as slashes), and returns that body.
     */
    private static String awaitHealth(int status, String text) throws Exception {
        long deadline = System.nanoTime() + CHANGE_TIMEOUT.toNanos();
        String last = "(no answer)";
        while (true) {
            try {
                HttpResponse<String> r = get(healthUri(""));
                String body = r.body().replace("\\/", "/");
                last = r.statusCode() + "\n" + body;
                if (r.statusCode() == 200 && !CHECKS.stream().allMatch(c -> body.contains("\"name\":\"" + c + "\""))) {
                    fail("200 without every pcache check (the endpoint answered before the checks existed?):\n" + body);
                }
                if (r.statusCode() == status && body.contains(text)) {
                    assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"),
                            r.headers().toString());
                    return body;
                }
            } catch (IOException notYet) {
                last = notYet.toString();
            }
            if (!pcache.isAlive()) {
                fail("pcache exited:\n" + pcache.log());
            }
            if (System.nanoTime() > deadline) {
                fail("no " + status + " with '" + text + "' from " + healthUri("") + " after "
                        + CHANGE_TIMEOUT.toSeconds() + " s; last answer: " + last + "\n" + pcache.log());
            }
            Thread.sleep(200);
        }
    }

    @Test
    @Order(0)
    void healthyCacheAnswers200WithEveryCheckInJson() throws Exception {
        String body = awaitHealth(200, "\"overallResult\":\"OK\"");
        for (String check : CHECKS) {
            assertTrue(body.contains("{\"name\":\"" + check + "\",\"status\":\"OK\""), check + " in\n" + body);
        }
        assertTrue(body.contains("\"tags\":[\"pcache\"]"), body);
        assertTrue(body.contains("cache h: backing device file:" + pcache.dataDir().resolve("h.backing") + " online"),
                body);
        assertTrue(body.contains("cache h: 0.0 % of the data capacity is dirty (warning above 60 %)"),
                "health.dirty_warn_percent reached the check:\n" + body);
    }

    @Test
    @Order(1)
    void hcExecPrintsTheChecks() {
        PcacheProcess.CtlResult exec = pcache.ctl("hc:exec");
        assertEquals(0, exec.status(), exec.err());
        assertTrue(exec.out().contains("Overall Health Result: OK"), exec.out());
        for (String check : CHECKS) {
            assertTrue(exec.out().contains(check), check + " in\n" + exec.out());
        }
        PcacheProcess.CtlResult list = pcache.ctl("hc:list");
        assertEquals(0, list.status(), list.err());
        assertTrue(list.out().contains("pcache"), list.out());
    }

    @Test
    @Order(2)
    void readOnlyAndDeafToRequestOptions() throws Exception {
        HttpResponse<String> post = http.send(HttpRequest.newBuilder(healthUri("")).timeout(HTTP_TIMEOUT)
                .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(405, post.statusCode(), post.body());
        HttpResponse<String> asked = get(healthUri("?tags=nothing&names=nothing&httpStatus=OK:418"));
        assertEquals(200, asked.statusCode(), asked.body());
        assertTrue(asked.body().contains("\"name\":\"pcache cache device\""), asked.body());
        assertTrue(asked.headers().firstValue("Access-Control-Allow-Origin").isEmpty(), asked.headers().toString());
        assertEquals(404, get(healthUri(".html")).statusCode(), "JSON only");
        HttpResponse<String> html = get(healthUri("?format=html"));
        assertTrue(html.body().startsWith("Invalid format html - supported formats: [json]"), html.body());
    }

    @Test
    @Order(3)
    void aRemovedCacheDeviceAnswers503WithTheReasonAndWhatToDo() throws Exception {
        Path device = pcache.dataDir().resolve("h.cache");
        Files.delete(device);
        String reason = "cache h: cache device " + device + " no longer exists (removed while open)";
        String body = awaitHealth(503, reason);
        assertTrue(body.contains("\"overallResult\":\"CRITICAL\""), body);
        assertTrue(body.contains("{\"name\":\"pcache cache device\",\"status\":\"CRITICAL\""), body);
        assertTrue(body.contains("Drain the cache (pcache:drain h) before stopping pcache"), body);
        assertTrue(body.contains("{\"name\":\"pcache backing device\",\"status\":\"OK\""), "the others pass:\n" + body);

        PcacheProcess.CtlResult exec = pcache.ctl("hc:exec");
        assertEquals(0, exec.status(), exec.err());
        assertTrue(exec.out().contains("Overall Health Result: CRITICAL"), exec.out());
        PcacheProcess.CtlResult status = pcache.ctl("pcache:status h");
        assertEquals(0, status.status(), status.err());
        assertTrue(status.out().contains("attention     cache device " + device + " no longer exists"), status.out());
    }

    /**
     * A configured cache whose open failed is critical, with why. Before, it was "temporarily
     * unavailable: it is opening, or it cannot open its cache device", whatever the reason.
     */
    @Test
    @Order(4)
    void aCacheThatCannotBeOpenedIsCriticalWithWhy() throws Exception {
        ForeignDevices.createCacheOn(pcache, "f");
        String body = awaitHealth(503, "cache f: configured but cannot be opened: superblock at cache-device offset"
                + " 4096 (0x1000): magic 0xffffffffffffffff is not dm-pcache's");
        assertTrue(body.contains("It tries again when its configuration changes"), body);
    }
}
