package pcache.webconsole.internal;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.Collection;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.osgi.service.servlet.whiteboard.Preprocessor;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import pcache.api.config.HttpProperties;
import pcache.io.Printable;
import pcache.io.log.Log;

/**
 * Refuses every HTTP request that reached a loopback address under another machine's name: the
 * mark of DNS rebinding, where a page of {@code evil.example} has its name re-pointed at
 * 127.0.0.1 and then reads this machine's {@code /metrics} and {@code /system/health} as its own
 * (the browser counts them as the page's origin). A browser sends the name it resolved in the
 * {@code Host} header, so a loopback connection whose {@code Host} is neither an address,
 * {@code localhost} (or a name under {@code .localhost}, which browsers never resolve through
 * DNS) nor a name in {@code allowed_hosts} is answered 403 before any servlet sees it. Requests
 * arriving on other addresses are not checked (a listener on the network serves every name it
 * is reached by). A Whiteboard preprocessor, so it runs before every servlet of the HTTP
 * service: the Web Console, Felix's health servlet and the metrics.
 */
@Component(service = Preprocessor.class, configurationPid = LoopbackHostCheck.PID)
@Designate(ocd = LoopbackHostCheck.Config.class)
public class LoopbackHostCheck implements Preprocessor {

    /** The configuration PID (optional: without it, only addresses and localhost names pass). */
    public static final String PID = HttpProperties.PID;

    private static final System.Logger LOG = Log.of(LoopbackHostCheck.class);
    /** At most one log line per this many nanoseconds: a page may send refusals without end. */
    private static final long LOG_EVERY_NANOS = 10_000_000_000L;
    private static final Pattern IPV4 = Pattern.compile("[0-9]{1,3}(\\.[0-9]{1,3}){3}");

    /** The configuration: names a loopback connection may also be reached by. */
    @ObjectClassDefinition(name = "pcache HTTP host check",
            description = "Requests on a loopback address must name an address, localhost or one of these hosts"
                    + " (set by the launcher from http.allowed_hosts)")
    public @interface Config {
        /** Further host names (property {@code allowed_hosts}). */
        @AttributeDefinition(name = "Allowed hosts", required = false,
                description = "Host names a proxy on this machine passes on in the Host header (e.g."
                        + " pcache.example.com); addresses and localhost always pass")
        String[] allowed__hosts() default {};
    }

    /** The loopback names Debian's and Red Hat's /etc/hosts carry. */
    private static final Set<String> LOOPBACK_NAMES = Set.of("localhost", "localhost.localdomain", "localhost4",
            "localhost4.localdomain4", "localhost6", "localhost6.localdomain6", "ip6-localhost", "ip6-loopback");

    private final Set<String> allowed;
    /** This machine's own name (Debian's /etc/hosts maps it to 127.0.1.1), canonical; or "" when unknown. */
    private final String thisHost = ownHostName();
    private final AtomicLong lastLog = new AtomicLong(System.nanoTime() - LOG_EVERY_NANOS);
    private final AtomicLong unlogged = new AtomicLong();

    /** The check with {@code allowed} as further names. */
    LoopbackHostCheck(Collection<String> allowed) {
        this.allowed = allowed.stream().map(HttpProperties::canonicalHost).collect(Collectors.toUnmodifiableSet());
    }

    /** The check as configured; an entry that is not a host name is left out, with a WARNING naming it. */
    @Activate
    public LoopbackHostCheck(Config config) {
        this(configured(config.allowed__hosts()));
    }

    private static Set<String> configured(String[] names) {
        Set<String> hosts = new java.util.HashSet<>();
        for (String name : names == null ? new String[0] : names) {
            if (name == null || name.isBlank()) {
                continue;
            }
            try {
                hosts.add(HttpProperties.allowedHost(name));
            } catch (IllegalArgumentException e) {
                LOG.log(System.Logger.Level.WARNING, () -> "configuration " + PID + ", " + HttpProperties.ALLOWED_HOSTS
                        + ": left out: " + Printable.of(e.getMessage()));
            }
        }
        return hosts;
    }

    /**
     * Why a request is refused, or empty when it passes.
     *
     * @param localAddress the address the connection reached ({@link ServletRequest#getLocalAddr()})
     * @param host the request's {@code Host} header, or null
     */
    Optional<String> refusal(String localAddress, String host) {
        if (host == null || host.isEmpty() || !isLoopback(localAddress)) {
            return Optional.empty();
        }
        String name = hostName(host.trim());
        String canonical = HttpProperties.canonicalHost(name);
        if (name.startsWith("[") || IPV4.matcher(canonical).matches()) {
            return Optional.empty(); // an address: the browser connected to it, no name was resolved
        }
        if (canonical.endsWith(".localhost") || LOOPBACK_NAMES.contains(canonical) || allowed.contains(canonical)
                || canonical.equals(thisHost)) {
            return Optional.empty(); // names /etc/hosts gives this machine: no page can rebind them
        }
        return Optional.of("the request reached a loopback address (" + Printable.of(localAddress)
                + ") under the name '" + Printable.of(name) + "' (its Host header), as a web page using DNS rebinding"
                + " sends it; open pcache by address or as localhost (http://127.0.0.1:PORT/), or add the name to"
                + " http.allowed_hosts (configuration " + PID + ") when a proxy on this machine passes it on");
    }

    private static String ownHostName() {
        try {
            return HttpProperties.canonicalHost(InetAddress.getLocalHost().getHostName());
        } catch (UnknownHostException | RuntimeException e) {
            return "";
        }
    }

    /** The host part of a {@code Host} header: without the port, an IPv6 address keeping its brackets. */
    private static String hostName(String host) {
        if (host.startsWith("[")) {
            int end = host.indexOf(']');
            return end < 0 ? host : host.substring(0, end + 1);
        }
        int colon = host.lastIndexOf(':');
        return colon < 0 ? host : host.substring(0, colon);
    }

    /** Whether {@code address} (as a servlet container gives it: a literal, maybe bracketed) is a loopback address. */
    static boolean isLoopback(String address) {
        return HttpProperties.isLoopbackLiteral(address);
    }

    @Override
    public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
            throws IOException, ServletException {
        if (request instanceof HttpServletRequest http && response instanceof HttpServletResponse out) {
            Optional<String> refusal = refusal(http.getLocalAddr(), http.getHeader("Host"));
            if (refusal.isPresent()) {
                log(http.getMethod() + " " + http.getRequestURI(), refusal.get());
                out.setStatus(HttpServletResponse.SC_FORBIDDEN);
                out.setContentType("text/plain; charset=UTF-8");
                byte[] body = ("pcache: refused: " + refusal.get() + "\n").getBytes(StandardCharsets.UTF_8);
                out.setContentLength(body.length);
                out.getOutputStream().write(body);
                return;
            }
        }
        chain.doFilter(request, response);
    }

    private void log(String what, String why) {
        long now = System.nanoTime();
        long last = lastLog.get();
        if (now - last < LOG_EVERY_NANOS || !lastLog.compareAndSet(last, now)) {
            unlogged.incrementAndGet();
            return;
        }
        long more = unlogged.getAndSet(0);
        LOG.log(System.Logger.Level.WARNING, () -> "HTTP request " + Printable.of(what) + " refused (403): " + why
                + (more > 0 ? " (" + more + " more refused since the last such line)" : ""));
    }
}
