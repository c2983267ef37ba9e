package pcache.webconsole.internal;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

import org.apache.felix.webconsole.spi.SecurityProvider;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import pcache.io.Printable;
import pcache.io.log.Log;

/**
 * The Web Console's login: HTTP Basic against the one user of pcache's credentials file (see
 * {@link ConsoleCredentials}). The launcher starts the framework with
 * {@code felix.webconsole.security.providers=pcache}, so the console serves nothing until this
 * service (id {@value #ID}) is registered, and this service outranks the console's built-in
 * provider (its default {@code admin}/{@code admin} never gets a say). Without its configuration
 * (PID {@value #PID}, written by the launcher) or with an unreadable file it is not registered:
 * the console then stays closed rather than open.
 */
@Component(service = SecurityProvider.class, configurationPid = ConsoleSecurityProvider.PID,
        configurationPolicy = ConfigurationPolicy.REQUIRE,
        property = {SecurityProvider.PROPERTY_ID + "=" + ConsoleSecurityProvider.ID, "service.ranking:Integer=1000"})
@Designate(ocd = ConsoleSecurityProvider.Config.class)
public class ConsoleSecurityProvider implements SecurityProvider {

    /** The configuration PID. */
    public static final String PID = "pcache.webconsole";
    /** The provider id that {@code felix.webconsole.security.providers} names. */
    public static final String ID = "pcache";
    /** The realm a browser shows in its login dialog. */
    static final String REALM = "pcache Web Console";

    private static final System.Logger LOG = Log.of(ConsoleSecurityProvider.class);

    /** The configuration: where the credentials are. */
    @ObjectClassDefinition(name = "pcache Web Console login",
            description = "HTTP Basic login of the Web Console against one USER:PASSWORD line of a file"
                    + " (set by the launcher from http.console_credentials)")
    public @interface Config {
        /** The credentials file (property {@code credentials_file}). */
        @AttributeDefinition(name = "Credentials file",
                description = "Absolute path of a file with one line USER:PASSWORD, readable by its owner only")
        String credentials__file();
    }

    private final ConsoleCredentials credentials;

    /** For tests: a provider of {@code credentials}. */
    ConsoleSecurityProvider(ConsoleCredentials credentials) {
        this.credentials = credentials;
    }

    /** Reads the credentials file; fails (the service stays unregistered) when it cannot. */
    @Activate
    public ConsoleSecurityProvider(Config config) throws IOException {
        if (config.credentials__file() == null || config.credentials__file().isBlank()) {
            String problem = "Web Console stays closed: configuration " + PID + " has no credentials_file;"
                    + " start pcache with http.listen (the launcher sets it)";
            LOG.log(System.Logger.Level.ERROR, problem);
            throw new IOException(problem);
        }
        Path file = Path.of(config.credentials__file());
        try {
            this.credentials = ConsoleCredentials.read(file);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.ERROR, "Web Console stays closed: " + e.getMessage());
            throw e;
        }
    }

    /**
     * The user when the request's Basic credentials are right; otherwise {@code null} after
     * answering 401 with a Basic challenge.
     */
    @Override
    public Object authenticate(HttpServletRequest request, HttpServletResponse response) {
        // no page of the console may be shown inside another site's page (clickjacking)
        response.setHeader("X-Frame-Options", "DENY");
        response.setHeader("Content-Security-Policy", "frame-ancestors 'none'");
        String crossSite = crossSiteChange(request);
        if (crossSite != null) {
            // the browser sends the operator's password with a form another site's page submits
            LOG.log(System.Logger.Level.WARNING, "Web Console: refused {0} {1} from {2}: {3}; a page of another"
                    + " site may not change pcache (use the pages of the console itself)", request.getMethod(),
                    Printable.of(String.valueOf(request.getRequestURI())), request.getRemoteAddr(), crossSite);
            response.setStatus(HttpServletResponse.SC_FORBIDDEN);
            return null;
        }
        Optional<BasicAuthorization> given = BasicAuthorization.parse(request.getHeader("Authorization"));
        if (given.isPresent() && credentials.accepts(given.get().user(), given.get().password())) {
            return given.get().user();
        }
        if (given.isPresent()) { // the name is the client's, unauthenticated: escaped, no forged log lines
            LOG.log(System.Logger.Level.INFO, "Web Console: refused login of user {0} from {1}",
                    Printable.of(given.get().user()), request.getRemoteAddr());
        }
        response.setHeader("WWW-Authenticate", "Basic realm=\"" + REALM + "\", charset=\"UTF-8\"");
        response.setStatus(HttpServletResponse.SC_UNAUTHORIZED);
        return null;
    }

    /**
     * Why {@code request}, which may change something (any method but GET, HEAD and OPTIONS),
     * comes from a page of another site, or null when it does not: the browser says so
     * ({@code Sec-Fetch-Site}, which every current browser sends), or, from a browser without it,
     * its {@code Origin} (else its {@code Referer}) is not this console's host. A request without either (curl, scripts) is no browser's and is
     * let through to the login. Before, any page the operator opened could submit forms to the
     * console with the operator's password (HTTP Basic: the browser adds it by itself) and change
     * configurations, stop pcache or install bundles.
     */
    static String crossSiteChange(HttpServletRequest request) {
        String method = request.getMethod();
        if (method == null || method.equals("GET") || method.equals("HEAD") || method.equals("OPTIONS")) {
            return null;
        }
        String fetchSite = request.getHeader("Sec-Fetch-Site");
        if (fetchSite != null) { // the browser's own word, which no proxy in front changes
            return fetchSite.equals("same-origin") || fetchSite.equals("none") ? null
                    : "the browser says it comes from a " + Printable.of(fetchSite) + " page";
        }
        String host = request.getHeader("Host");
        String origin = request.getHeader("Origin");
        if (origin != null) {
            return sameHost(origin, host) ? null
                    : "its Origin " + Printable.of(origin) + " is not this console's (" + Printable.of(String.valueOf(host))
                            + ")";
        }
        String referer = request.getHeader("Referer");
        if (referer != null && !sameHost(referer, host)) {
            return "its Referer " + Printable.of(referer) + " is not this console's (" + Printable.of(String.valueOf(host))
                    + ")";
        }
        return null;
    }

    /**
     * Whether {@code url} (an Origin or a Referer) names the host and port {@code host}. The
     * scheme is not compared: behind a proxy that ends TLS the browser says https and the console
     * sees http.
     */
    private static boolean sameHost(String url, String host) {
        try {
            java.net.URI u = new java.net.URI(url);
            return host != null && u.getRawAuthority() != null && u.getRawAuthority().equalsIgnoreCase(host);
        } catch (java.net.URISyntaxException e) {
            return false;
        }
    }

    /** The one user may do everything the console offers. */
    @Override
    public boolean authorize(Object user, String role) {
        return user != null;
    }

    /** HTTP Basic has no session to end: the browser forgets the credentials when it closes. */
    @Override
    public void logout(HttpServletRequest request, HttpServletResponse response) {
    }
}
