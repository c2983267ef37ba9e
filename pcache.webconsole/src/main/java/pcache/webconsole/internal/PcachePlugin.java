package pcache.webconsole.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

import jakarta.servlet.Servlet;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import pcache.api.CacheDevice;
import pcache.api.CacheOpenFailure;

/**
 * The Web Console's pcache page ({@code /system/console/pcache}): a table of the open caches, the
 * configured caches that are not open with why, and a chart of throughput and dirty data, drawn by {@code pcache.js} (served here, nothing from
 * elsewhere) from {@code caches.json}, which it polls every {@value #POLL_SECONDS} seconds. The
 * console wraps the page in its frame and asks for its login before any of these answer; the page
 * only reads: changes go through the configuration manager's forms or the shell.
 */
@Component(service = Servlet.class, property = {"felix.webconsole.label=" + PcachePlugin.LABEL,
    "felix.webconsole.title=pcache caches", "felix.webconsole.category=pcache"})
public class PcachePlugin extends HttpServlet {

    /** The page's label: its place under the console's root. */
    static final String LABEL = "pcache";
    /** How often the page asks for new values. */
    static final int POLL_SECONDS = 2;

    private static final long serialVersionUID = 1L;

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile List<CacheDevice> caches;

    /** Why configured caches are not open. */
    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile List<CacheOpenFailure> openFailures;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile PcacheConfigurationHandler configurations;

    @Override
    protected void doGet(HttpServletRequest request, HttpServletResponse response) throws IOException {
        String uri = request.getRequestURI();
        if (uri.endsWith("/" + LABEL + "/caches.json")) {
            PcacheConfigurationHandler handler = configurations;
            send(response, "application/json", json(System.currentTimeMillis(), rows(), notOpen(),
                    handler == null ? List.of() : handler.refusals()));
        } else if (uri.endsWith("/" + LABEL + "/pcache.js")) {
            send(response, "text/javascript", resource("pcache.js"));
        } else if (uri.endsWith("/" + LABEL) || uri.endsWith("/" + LABEL + "/")) {
            response.setContentType("text/html");
            response.setCharacterEncoding("UTF-8");
            Object root = request.getAttribute("felix.webconsole.pluginRoot");
            response.getWriter().write(page(root instanceof String r ? r : request.getContextPath() + "/" + LABEL));
        } else {
            response.sendError(HttpServletResponse.SC_NOT_FOUND, "no such pcache page: try /" + LABEL);
        }
    }

    private static void send(HttpServletResponse response, String type, String body) throws IOException {
        response.setContentType(type);
        response.setCharacterEncoding("UTF-8");
        response.setHeader("Cache-Control", "no-store");
        response.getWriter().write(body);
    }

    /** The rows of the open caches, by name; a cache closing meanwhile is left out. */
    List<CacheRow> rows() {
        List<CacheRow> rows = new ArrayList<>();
        List<CacheDevice> open = caches;
        if (open != null) {
            for (CacheDevice cache : open) {
                try {
                    rows.add(CacheRow.of(cache));
                } catch (RuntimeException closing) {
                    // closed between the list and the question: the next poll no longer lists it
                }
            }
        }
        rows.sort(Comparator.comparing(CacheRow::name));
        return rows;
    }

    /**
     * A configured cache that is not open: its name, whether it waits for its backing device (else
     * its open failed) and why.
     */
    record NotOpen(String name, boolean waitsForBacking, String reason) {
    }

    /** The configured caches that published why they are not open, by name. */
    List<NotOpen> notOpen() {
        List<NotOpen> notOpen = new ArrayList<>();
        List<CacheOpenFailure> failures = openFailures;
        if (failures != null) {
            for (CacheOpenFailure f : failures) {
                notOpen.add(new NotOpen(f.name(), f.waitsForBacking(), f.reason()));
            }
        }
        notOpen.sort(Comparator.comparing(NotOpen::name));
        return notOpen;
    }

    /**
     * {@code {"time":MILLIS,"caches":[...],"notOpen":[{"name":"...","state":"failed","reason":"..."}],
     * "refused":[{"time":MILLIS,"configuration":"...","message":"..."}]}}: the open caches, the
     * configured caches that are not open ({@code state} {@code failed} or {@code waits for backing})
     * and the latest configuration changes refused, newest first.
     */
    static String json(long timeMillis, List<CacheRow> rows, List<NotOpen> notOpen,
            List<PcacheConfigurationHandler.Refusal> refused) {
        StringBuilder b = new StringBuilder("{").append(Json.field("time", timeMillis)).append(",\"caches\":[");
        for (int i = 0; i < rows.size(); i++) {
            b.append(i == 0 ? "" : ",").append(rows.get(i).toJson());
        }
        b.append("],\"notOpen\":[");
        for (int i = 0; i < notOpen.size(); i++) {
            NotOpen n = notOpen.get(i);
            b.append(i == 0 ? "{" : ",{").append(Json.field("name", n.name())).append(',')
                    .append(Json.field("state", n.waitsForBacking() ? "waits for backing" : "failed")).append(',')
                    .append(Json.field("reason", n.reason())).append('}');
        }
        b.append("],\"refused\":[");
        for (int i = 0; i < refused.size(); i++) {
            PcacheConfigurationHandler.Refusal r = refused.get(i);
            b.append(i == 0 ? "{" : ",{").append(Json.field("time", r.timeMillis())).append(',')
                    .append(Json.field("configuration", r.configuration())).append(',')
                    .append(Json.field("message", r.message())).append('}');
        }
        return b.append("]}").toString();
    }

    /** {@code value} for a double-quoted HTML attribute. */
    private static String attribute(String value) {
        return value.replace("&", "&amp;").replace("\"", "&quot;").replace("<", "&lt;");
    }

    /** The page's body inside the console's frame: a table, a chart, and the script that fills both. */
    static String page(String pluginRoot) {
        String root = attribute(pluginRoot);
        // absolute: the page is served at /pcache/ too, where a relative link would stay under it
        String consoleRoot = pluginRoot.endsWith("/" + LABEL)
                ? pluginRoot.substring(0, pluginRoot.length() - LABEL.length() - 1) : pluginRoot;
        String configuration = attribute(consoleRoot + "/configMgr");
        return """
                <div id="pcache" data-poll-seconds="%d" data-root="%s">
                <p class="statline">Caches open in this pcache, refreshed every %d s (the same values as\
                 pcache:status and pcache:stats). Change a cache in <a href="%s">Configuration</a>.</p>
                <table id="pcache-caches" class="tablesorter nicetable">
                <thead><tr><th>Cache</th><th>Mode</th><th>State</th><th>Backing device</th><th>Backing state</th>\
                <th>Dirty</th><th>Segments used</th><th>Hit ratio</th><th>Written back</th></tr></thead>
                <tbody><tr><td colspan="9">loading...</td></tr></tbody>
                </table>
                <div id="pcache-not-open" style="display:none"><h3>Configured caches not open</h3>\
                <p class="statline">These caches are configured but did not open (the same as pcache:list\
                 says); a failed one tries again when its configuration changes:</p>
                <ul></ul></div>
                <div id="pcache-refused" style="display:none"><h3>Configuration changes refused</h3>\
                <p class="statline">The configuration manager's form does not show why a save failed; pcache\
                 checked it with the rules of pcache:create and refused it for these reasons (newest first):</p>
                <ul></ul></div>
                <h3>Throughput and dirty data, last 5 minutes</h3>
                <canvas id="pcache-chart" width="900" height="260" style="border:1px solid #ccc"></canvas>
                <p id="pcache-legend" class="statline"></p>
                </div>
                <script src="%s/pcache.js"></script>
                """.formatted(POLL_SECONDS, root, POLL_SECONDS, configuration, root);
    }

    private static String resource(String name) throws IOException {
        try (InputStream in = PcachePlugin.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException("resource " + name + " is missing from bundle pcache.webconsole");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
