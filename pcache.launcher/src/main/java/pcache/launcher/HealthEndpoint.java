package pcache.launcher;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * How Apache Felix Health Checks serve pcache's checks (with {@code http.listen} only, like
 * everything HTTP): the executor runs the checks tagged {@value #TAG} when no tag is given (so
 * {@code hc:exec} alone runs them), and one servlet answers {@code GET} {@value #PATH} in JSON
 * with HTTP 200 when every check is OK and 503 otherwise, a warning included: a monitor or load
 * balancer sees every finding. The servlet ignores what a request asks for (tags, names, status
 * mapping, timeout), so the endpoint is read-only and always answers about pcache's checks, and
 * sends no CORS header.
 */
final class HealthEndpoint {

    /** Where the health report is served. */
    static final String PATH = "/system/health";
    /** The tag of pcache's checks. */
    static final String TAG = "pcache";
    /** Health check status to HTTP status: 200 only when everything passed. */
    static final String STATUS_MAPPING = "OK:200,WARN:503,TEMPORARILY_UNAVAILABLE:503,CRITICAL:503,HEALTH_CHECK_ERROR:503";

    /** Felix HC's executor (a singleton configuration). */
    static final String EXECUTOR_PID = "org.apache.felix.hc.core.impl.executor.HealthCheckExecutorImpl";
    /** Felix HC's servlet (one factory configuration per servlet). */
    static final String SERVLET_FACTORY_PID = "org.apache.felix.hc.core.impl.servlet.HealthCheckExecutorServlet";
    /** The name of pcache's servlet configuration. */
    static final String SERVLET_NAME = "pcache";

    private HealthEndpoint() {
    }

    /** The executor's configuration. */
    static ConfigurationRecord executor() {
        return new ConfigurationRecord(EXECUTOR_PID, Optional.empty(), Map.of("defaultTags", TAG));
    }

    /** The servlet's configuration. */
    static ConfigurationRecord servlet() {
        Map<String, Object> servlet = new LinkedHashMap<>();
        servlet.put("servletPath", PATH);
        servlet.put("tags", TAG);
        servlet.put("format", "json");
        servlet.put("allowed.formats", "json");
        servlet.put("httpStatusMapping", STATUS_MAPPING);
        servlet.put("disable.request.configuration", Boolean.TRUE);
        servlet.put("cors.accessControlAllowOrigin", "");
        return new ConfigurationRecord(SERVLET_FACTORY_PID, Optional.of(SERVLET_NAME), servlet);
    }
}
