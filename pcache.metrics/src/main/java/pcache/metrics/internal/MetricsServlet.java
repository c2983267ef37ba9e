package pcache.metrics.internal;

import java.io.IOException;
import java.io.OutputStream;
import java.util.List;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.servlet.whiteboard.propertytypes.HttpWhiteboardServletName;
import org.osgi.service.servlet.whiteboard.propertytypes.HttpWhiteboardServletPattern;

import io.prometheus.metrics.config.EscapingScheme;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import jakarta.servlet.Servlet;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import pcache.api.CacheDevice;
import pcache.api.CacheOpenFailure;
import pcache.api.CacheStatistics;
import pcache.io.log.Log;

/**
 * {@code GET /metrics}: the statistics of every open cache, and which configured caches are not
 * open ({@code pcache_cache_open}), in the Prometheus text format
 * (version 0.0.4), read when the request comes. Registered with the OSGi Servlet Whiteboard, so it
 * is served only where an HTTP service runs (the launcher starts one only with
 * {@code http.listen}). Read-only; other methods are refused by {@link HttpServlet}.
 */
@Component(service = Servlet.class)
@HttpWhiteboardServletPattern(MetricsServlet.PATH)
@HttpWhiteboardServletName("pcache-metrics")
public class MetricsServlet extends HttpServlet {

    /** Where the metrics are served. */
    static final String PATH = "/metrics";

    private static final long serialVersionUID = 1L;
    private static final System.Logger LOG = Log.of(MetricsServlet.class);

    private final transient PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile List<CacheDevice> caches;

    /** Why configured caches are not open. */
    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile List<CacheOpenFailure> openFailures;

    @Override
    protected void doGet(HttpServletRequest request, HttpServletResponse response) throws IOException {
        SortedMap<String, CacheStatistics> open = statistics(caches);
        MetricSnapshots snapshots = CacheMetrics.snapshot(open, notOpen(openFailures, open.keySet()));
        response.setStatus(HttpServletResponse.SC_OK);
        response.setContentType(writer.getContentType());
        response.setHeader("Cache-Control", "no-store");
        try (OutputStream out = response.getOutputStream()) {
            writer.write(out, snapshots, EscapingScheme.DEFAULT);
        }
    }

    /** The names of the caches of {@code failures} that are not among {@code open}. */
    static SortedSet<String> notOpen(List<CacheOpenFailure> failures, java.util.Set<String> open) {
        SortedSet<String> names = new TreeSet<>();
        if (failures == null) {
            return names;
        }
        for (CacheOpenFailure f : failures) {
            if (!open.contains(f.name())) {
                names.add(f.name());
            }
        }
        return names;
    }

    /**
     * The statistics of each cache by name. A cache that is closing while it is asked is left out
     * of this answer rather than failing it.
     */
    static SortedMap<String, CacheStatistics> statistics(List<CacheDevice> caches) {
        SortedMap<String, CacheStatistics> byName = new TreeMap<>();
        if (caches == null) {
            return byName;
        }
        for (CacheDevice cache : caches) {
            try {
                byName.put(cache.name(), cache.statistics());
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.DEBUG, "metrics: cache {0} left out: {1}", cache.name(), e.toString());
            }
        }
        return byName;
    }
}
