package pcache.webconsole.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

class LoopbackHostCheckTest {

    private final LoopbackHostCheck check = new LoopbackHostCheck(List.of("Pcache.Example.COM."));

    @Test
    void anotherNameOnALoopbackConnectionIsRefusedAndNamed() {
        for (String local : List.of("127.0.0.1", "127.0.1.1", "0:0:0:0:0:0:0:1", "[::1]", "::ffff:127.0.0.1")) {
            for (String host : List.of("evil.example", "evil.example:8080", "EVIL.example.:8080", "127.0.0.1.evil.example",
                    "localhost.evil.example:80", "pcache.example.com.evil.example")) {
                Optional<String> refusal = check.refusal(local, host);
                assertTrue(refusal.isPresent(), local + " " + host);
                assertTrue(refusal.get().contains("DNS rebinding"), refusal.get());
                assertTrue(refusal.get().contains("http.allowed_hosts"), refusal.get());
            }
        }
        assertTrue(check.refusal("127.0.0.1", "evil.example:8080").get()
                .contains("under the name 'evil.example' (its Host header)"));
    }

    @Test
    void addressesLocalhostAndAllowedNamesPass() throws Exception {
        for (String host : List.of("127.0.0.1", "127.0.0.1:8080", "127.0.0.1.:8080", "[::1]:8080", "[::1]",
                "10.0.0.5:80", "localhost", "LOCALHOST:8080", "localhost.", "app.localhost:8080", "localhost.localdomain",
                "ip6-localhost:8080", "localhost6", "pcache.example.com", "pcache.example.com:443")) {
            assertEquals(Optional.empty(), check.refusal("127.0.0.1", host), host);
        }
        assertEquals(Optional.empty(), check.refusal("127.0.0.1", null), "no Host header: not a browser");
        String self;
        try {
            self = java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.net.UnknownHostException e) {
            return; // a machine whose own name does not resolve: the check knows no name of its own either
        }
        assertEquals(Optional.empty(), check.refusal("127.0.1.1", self + ":8080"), "this machine's own name");
    }

    @Test
    void connectionsOnOtherAddressesAreNotChecked() {
        for (String local : List.of("10.0.0.5", "192.168.1.2", "2001:db8:0:0:0:0:0:1", "[2001:db8::1]", "", "name")) {
            assertEquals(Optional.empty(), check.refusal(local, "evil.example"), local);
        }
        assertEquals(Optional.empty(), check.refusal(null, "evil.example"));
        assertFalse(LoopbackHostCheck.isLoopback("localhost"), "a name is never looked up");
    }

    @Test
    void aRefusedRequestGets403AndNeverReachesTheServlet() throws Exception {
        AtomicBoolean reached = new AtomicBoolean();
        AtomicInteger status = new AtomicInteger();
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        check.doFilter(request("127.0.0.1", "evil.example:8080"), response(status, body), (q, r) -> reached.set(true));
        assertFalse(reached.get());
        assertEquals(403, status.get());
        assertTrue(body.toString(StandardCharsets.UTF_8).startsWith("pcache: refused: the request reached a loopback"),
                body.toString(StandardCharsets.UTF_8));

        check.doFilter(request("127.0.0.1", "127.0.0.1:8080"), response(status, body), (q, r) -> reached.set(true));
        assertTrue(reached.get());
    }

    @Test
    void theConfigurationsNamesAreTrimmedAndBlankOnesIgnored() {
        LoopbackHostCheck configured = new LoopbackHostCheck(new LoopbackHostCheck.Config() {
            @Override
            public Class<? extends java.lang.annotation.Annotation> annotationType() {
                return LoopbackHostCheck.Config.class;
            }

            @Override
            public String[] allowed__hosts() {
                return new String[] {" proxy.example ", ""};
            }
        });
        assertEquals(Optional.empty(), configured.refusal("127.0.0.1", "proxy.example:443"));
        assertTrue(configured.refusal("127.0.0.1", "other.example").isPresent());
        assertTrue(configured.refusal("127.0.0.1", "").isEmpty(), "an empty Host names nothing");
    }

    private static HttpServletRequest request(String local, String host) {
        return (HttpServletRequest) Proxy.newProxyInstance(LoopbackHostCheckTest.class.getClassLoader(),
                new Class<?>[] {HttpServletRequest.class}, (p, m, a) -> switch (m.getName()) {
                    case "getLocalAddr" -> local;
                    case "getHeader" -> "Host".equalsIgnoreCase((String) a[0]) ? host : null;
                    case "getMethod" -> "GET";
                    case "getRequestURI" -> "/metrics";
                    default -> throw new UnsupportedOperationException(m.getName());
                });
    }

    private static HttpServletResponse response(AtomicInteger status, ByteArrayOutputStream body) {
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
                body.write(b);
            }
        };
        return (HttpServletResponse) Proxy.newProxyInstance(LoopbackHostCheckTest.class.getClassLoader(),
                new Class<?>[] {HttpServletResponse.class}, (p, m, a) -> switch (m.getName()) {
                    case "setStatus" -> {
                        status.set((Integer) a[0]);
                        yield null;
                    }
                    case "setContentType", "setContentLength" -> null;
                    case "getOutputStream" -> out;
                    default -> throw new UnsupportedOperationException(m.getName());
                });
    }
}
