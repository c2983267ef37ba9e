package pcache.webconsole.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.annotation.Annotation;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

class ConsoleSecurityProviderTest {

    @TempDir
    Path dir;

    /** What a request's handling did to the response. */
    private static final class Answer {
        final Map<String, String> headers = new HashMap<>();
        int status = 200;
    }

    private static HttpServletRequest request(String authorization) {
        return (HttpServletRequest) Proxy.newProxyInstance(ConsoleSecurityProviderTest.class.getClassLoader(),
                new Class<?>[] {HttpServletRequest.class}, (p, m, a) -> switch (m.getName()) {
                    case "getHeader" -> "Authorization".equalsIgnoreCase((String) a[0]) ? authorization : null;
                    case "getRemoteAddr" -> "127.0.0.1";
                    default -> null;
                });
    }

    /** A {@code method} request to the console with {@code headers} (name, value, ...), the right password among them. */
    private static HttpServletRequest request(String method, String... headers) {
        Map<String, String> all = new HashMap<>();
        for (int i = 0; i < headers.length; i += 2) {
            all.put(headers[i].toLowerCase(java.util.Locale.ROOT), headers[i + 1]);
        }
        return (HttpServletRequest) Proxy.newProxyInstance(ConsoleSecurityProviderTest.class.getClassLoader(),
                new Class<?>[] {HttpServletRequest.class}, (p, m, a) -> switch (m.getName()) {
                    case "getHeader" -> all.get(((String) a[0]).toLowerCase(java.util.Locale.ROOT));
                    case "getMethod" -> method;
                    case "getScheme" -> "http";
                    case "getRequestURI" -> "/system/console/configMgr/pcache.export.nbd";
                    case "getRemoteAddr" -> "127.0.0.1";
                    default -> null;
                });
    }

    private static HttpServletResponse response(Answer answer) {
        return (HttpServletResponse) Proxy.newProxyInstance(ConsoleSecurityProviderTest.class.getClassLoader(),
                new Class<?>[] {HttpServletResponse.class}, (p, m, a) -> {
                    switch (m.getName()) {
                        case "setHeader" -> answer.headers.put((String) a[0], (String) a[1]);
                        case "setStatus" -> answer.status = (Integer) a[0];
                        default -> { }
                    }
                    return null;
                });
    }

    private static String basic(String userPass) {
        return "Basic " + Base64.getEncoder().encodeToString(userPass.getBytes(StandardCharsets.UTF_8));
    }

    private ConsoleSecurityProvider provider(String line) throws IOException {
        Path file = Files.writeString(dir.resolve("console-credentials"), "# pcache\n" + line + "\n");
        return new ConsoleSecurityProvider(config(file.toString()));
    }

    private static ConsoleSecurityProvider.Config config(String file) {
        return new ConsoleSecurityProvider.Config() {
            @Override
            public Class<? extends Annotation> annotationType() {
                return ConsoleSecurityProvider.Config.class;
            }

            @Override
            public String credentials__file() {
                return file;
            }
        };
    }

    @Test
    void theRightPasswordIsAccepted() throws IOException {
        ConsoleSecurityProvider p = provider("admin:s3cret:with:colons");
        Answer answer = new Answer();
        assertEquals("admin", p.authenticate(request(basic("admin:s3cret:with:colons")), response(answer)));
        assertEquals(200, answer.status);
        assertTrue(p.authorize("admin", "any role"));
    }

    /**
     * A change a page of another site submits is refused, even with the right password (which the
     * browser adds by itself), and no page may be framed. Before, any page the operator opened
     * could change configurations, stop pcache or install bundles through the console.
     */
    @Test
    void aChangeFromAnotherSitesPageIsRefusedAndNoPageMayBeFramed() throws IOException {
        ConsoleSecurityProvider p = provider("admin:s3cret");
        String auth = basic("admin:s3cret");
        String host = "127.0.0.1:8080";
        String[][] refused = {
            {"Authorization", auth, "Host", host, "Origin", "http://evil.example"},
            {"Authorization", auth, "Host", host, "Origin", "http://127.0.0.1:3000"},
            {"Authorization", auth, "Host", host, "Origin", "null"},
            {"Authorization", auth, "Host", host, "Referer", "http://evil.example/page"},
            {"Authorization", auth, "Host", host, "Sec-Fetch-Site", "cross-site", "Origin", "http://" + host},
            {"Authorization", auth, "Host", host, "Sec-Fetch-Site", "same-site"},
        };
        for (String[] headers : refused) {
            Answer answer = new Answer();
            assertNull(p.authenticate(request("POST", headers), response(answer)), String.join(" ", headers));
            assertEquals(403, answer.status, String.join(" ", headers));
        }
        String[][] accepted = {
            {"Authorization", auth, "Host", host, "Origin", "http://" + host},
            {"Authorization", auth, "Host", host, "Referer", "http://" + host + "/system/console/configMgr"},
            {"Authorization", auth, "Host", host, "Sec-Fetch-Site", "same-origin", "Origin", "http://" + host},
            // behind a proxy that ends TLS and sets its own Host: the browser's word counts
            {"Authorization", auth, "Host", host, "Sec-Fetch-Site", "same-origin", "Origin", "https://pcache.example"},
            {"Authorization", auth, "Host", host, "Sec-Fetch-Site", "same-origin", "Origin", "null"},
            {"Authorization", auth, "Host", "pcache.example", "Origin", "https://pcache.example"},
            {"Authorization", auth, "Host", host}, // curl, a script: no browser's
        };
        for (String[] headers : accepted) {
            Answer answer = new Answer();
            assertEquals("admin", p.authenticate(request("POST", headers), response(answer)), String.join(" ", headers));
            assertEquals("DENY", answer.headers.get("X-Frame-Options"));
            assertEquals("frame-ancestors 'none'", answer.headers.get("Content-Security-Policy"));
        }
        Answer read = new Answer();
        assertEquals("admin", p.authenticate(request("GET", "Authorization", auth, "Host", host, "Origin",
                "http://evil.example"), response(read)), "a read changes nothing");
        assertEquals("DENY", read.headers.get("X-Frame-Options"));
    }

    @Test
    void aWrongOrMissingPasswordIsRefusedWithAChallenge() throws IOException {
        ConsoleSecurityProvider p = provider("admin:s3cret");
        for (String header : new String[] {null, basic("admin:admin"), basic("admin:s3cre"), basic("admin:s3cret "),
                basic("Admin:s3cret"), basic("root:s3cret"), basic("admin"), "Basic !!!", "Bearer s3cret",
                basic(":s3cret"), basic("admin:")}) {
            Answer answer = new Answer();
            assertNull(p.authenticate(request(header), response(answer)), String.valueOf(header));
            assertEquals(401, answer.status, String.valueOf(header));
            assertEquals("Basic realm=\"pcache Web Console\", charset=\"UTF-8\"", answer.headers.get("WWW-Authenticate"));
        }
        assertFalse(p.authorize(null, "any role"));
    }

    @Test
    void comparesDigestsOfEqualLengthWhateverIsGiven() {
        ConsoleCredentials c = ConsoleCredentials.parse("admin:s3cret").orElseThrow();
        assertEquals(32, c.passwordDigest().length);
        // a prefix, a longer and an empty password all go through the same fixed-length comparison
        assertFalse(c.accepts("admin", "s"));
        assertFalse(c.accepts("admin", "s3cret-and-more"));
        assertFalse(c.accepts("admin", ""));
        assertTrue(c.accepts("admin", "s3cret"));
        assertFalse(c.toString().contains("s3cret"));
    }

    @Test
    void anUnusableFileKeepsTheConsoleClosedAndSaysWhatToDo() throws IOException {
        Path file = dir.resolve("console-credentials");
        for (String content : new String[] {"", "# only a comment\n", "admin\n", "admin:\n", ":pw\n", "a:b\nc:d\n"}) {
            Files.writeString(file, content);
            IOException e = assertThrows(IOException.class, () -> new ConsoleSecurityProvider(config(file.toString())));
            assertTrue(e.getMessage().startsWith("Web Console credentials file " + file + " is unusable: "), e.getMessage());
            assertTrue(e.getMessage().endsWith("write one line USER:PASSWORD, or delete the file and restart pcache"
                    + " to generate one"), e.getMessage());
        }
        assertThrows(IOException.class, () -> new ConsoleSecurityProvider(config(dir.resolve("none").toString())));
    }
}
