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
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Web Console of the distribution, end to end: pcache started with {@code http.listen} and no
 * credentials configured generates them (mode 0600, named on standard output, the password
 * nowhere in the output), and {@code /system/console} then refuses requests without credentials
 * and with the console's usual {@code admin}/{@code admin}, and serves the one user of the file,
 * including the configuration manager's metatype forms of pcache's configurations. Health and
 * metrics stay credential-free. Every wait is bounded.
 */
@Timeout(300)
class WebConsoleIT {

    private static final Duration HTTP_TIMEOUT = Duration.ofSeconds(20);
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(60);

    @TempDir
    static Path dir;

    private static PcacheProcess pcache;
    private static int httpPort;
    private static HttpClient http;

    @BeforeAll
    static void startPcache() throws Exception {
        http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(HTTP_TIMEOUT).build();
        pcache = PcacheProcess.startOnFreePort(port -> PcacheProcess.configure(dir, Optional.empty(), """
                cache.w.cache_dev = w.cache
                cache.w.cache_dev_size = 512M
                cache.w.backing_dev = file:w.backing
                cache.w.backing_dev_size = 64M
                http.listen = 127.0.0.1:%d
                http.allowed_hosts = pcache.test
                """.formatted(port)), "w");
        httpPort = pcache.port();
        awaitConsole();
    }

    @AfterAll
    static void stopPcache() throws Exception {
        if (pcache != null && pcache.isAlive()) {
            assertEquals(0, pcache.stop(), "clean stop on SIGTERM:\n" + pcache.log());
        }
    }

    private static URI uri(String path) {
        return URI.create("http://127.0.0.1:" + httpPort + path);
    }

    private static HttpResponse<String> get(String path, String userPass) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(HTTP_TIMEOUT).GET();
        if (userPass != null) {
            b.header("Authorization", "Basic "
                    + Base64.getEncoder().encodeToString(userPass.getBytes(StandardCharsets.UTF_8)));
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }

    /** Waits (bounded) until the console answers at all (404 until pcache's login is registered). */
    private static void awaitConsole() throws Exception {
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        String last = "(no answer)";
        while (true) {
            try {
                HttpResponse<String> r = get("/system/console/configMgr", null);
                if (r.statusCode() == 401) {
                    return;
                }
                last = r.statusCode() + " " + r.body();
            } catch (IOException notYet) {
                last = notYet.toString();
            }
            if (!pcache.isAlive()) {
                fail("pcache exited:\n" + pcache.log());
            }
            if (System.nanoTime() > deadline) {
                fail("no 401 from /system/console after " + READY_TIMEOUT.toSeconds() + " s; last answer: " + last
                        + "\n" + pcache.log());
            }
            Thread.sleep(200);
        }
    }

    private static String credentials() throws IOException {
        List<String> lines = Files.readAllLines(pcache.dataDir().resolve("console-credentials")).stream()
                .filter(l -> !l.startsWith("#")).toList();
        assertEquals(1, lines.size(), lines.toString());
        return lines.get(0);
    }

    @Test
    void generatedCredentialsAreOwnerOnlyAndNamedButNeverShown() throws Exception {
        Path file = pcache.dataDir().resolve("console-credentials");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        String password = credentials().substring("admin:".length());
        String out = Files.readString(dir.resolve("pcache-1.out"));
        assertTrue(out.contains("pcache: Web Console http://127.0.0.1:" + httpPort
                + "/system/console: user and password generated into " + file + "\n"), out);
        assertFalse(out.contains(password), "the password on standard output");
        assertFalse(pcache.log().contains(password), "the password in the log");
    }

    @Test
    void noCredentialsAndTheDefaultAdminAreRefused() throws Exception {
        for (String path : List.of("/system/console", "/system/console/configMgr", "/system/console/bundles")) {
            HttpResponse<String> none = get(path, null);
            assertEquals(401, none.statusCode(), path + ": " + none.body());
            assertEquals("Basic realm=\"pcache Web Console\", charset=\"UTF-8\"",
                    none.headers().firstValue("WWW-Authenticate").orElse(""), path);
            assertEquals(401, get(path, "admin:admin").statusCode(), path + " with admin:admin");
            assertEquals(401, get(path, "admin:" + credentials().substring(6) + "x").statusCode(), path);
        }
    }

    @Test
    void theRightCredentialsOpenTheConsoleAndPcachesForms() throws Exception {
        HttpResponse<String> page = get("/system/console/configMgr", credentials());
        assertEquals(200, page.statusCode(), page.body());
        for (String pid : List.of("pcache.target~w", "pcache.backing.file~w.backing", "pcache.export.nbd")) {
            assertTrue(page.body().contains(pid), pid + " in the configuration manager");
        }
        // what the page's form is drawn from: the metatype of pcache.target with the cache's values
        HttpResponse<String> form = get("/system/console/configMgr/pcache.target~w.json", credentials());
        assertEquals(200, form.statusCode(), form.body());
        assertTrue(form.body().contains("\"title\":\"pcache cache\""), form.body());
        assertTrue(form.body().contains("\"gc_percent\":{\"name\":\"GC threshold\""), form.body());
    }

    /** One request with {@code host} as its Host header (which HttpClient does not let a caller set). */
    private static String rawGet(String path, String host, String userPass) throws IOException {
        try (java.net.Socket socket = new java.net.Socket()) {
            socket.connect(new java.net.InetSocketAddress("127.0.0.1", httpPort), (int) HTTP_TIMEOUT.toMillis());
            socket.setSoTimeout((int) HTTP_TIMEOUT.toMillis());
            String auth = userPass == null ? "" : "Authorization: Basic "
                    + Base64.getEncoder().encodeToString(userPass.getBytes(StandardCharsets.UTF_8)) + "\r\n";
            socket.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n" + auth
                    + "Connection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            return new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void aRequestOnLoopbackNamingAnotherHostIsRefusedEverywhere() throws Exception {
        for (String path : List.of("/metrics", "/system/health", "/system/console/configMgr")) {
            String rebound = rawGet(path, "evil.example:" + httpPort, credentials());
            assertTrue(rebound.startsWith("HTTP/1.1 403 "), path + ":\n" + rebound);
            assertTrue(rebound.contains("pcache: refused: the request reached a loopback address (127.0.0.1) under the"
                    + " name 'evil.example' (its Host header), as a web page using DNS rebinding sends it"), rebound);
            for (String host : List.of("127.0.0.1:" + httpPort, "localhost:" + httpPort, "PCACHE.test:" + httpPort)) {
                String allowed = rawGet(path, host, credentials());
                assertTrue(allowed.startsWith("HTTP/1.1 200 ") || path.equals("/system/health")
                        && allowed.startsWith("HTTP/1.1 503 "), path + " as " + host + ":\n" + allowed);
            }
        }
        long deadline = System.nanoTime() + HTTP_TIMEOUT.toNanos(); // the log line may be written a little later
        while (!pcache.log().contains("HTTP request GET /metrics refused (403): the request reached a loopback")) {
            if (System.nanoTime() > deadline) {
                fail("no WARNING line for the refusal:\n" + pcache.log());
            }
            Thread.sleep(100);
        }
    }

    @Test
    void healthAndMetricsNeedNoCredentials() throws Exception {
        assertTrue(List.of(200, 503).contains(get("/system/health", null).statusCode()));
        assertEquals(200, get("/metrics", null).statusCode());
    }
}
