package pcache.export.nbd.internal;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.osgi.service.metatype.annotations.Option;

import pcache.api.CacheDevice;
import pcache.api.NbdExports;
import pcache.api.config.ExportDefinition;
import pcache.api.config.ExportProperties;
import pcache.api.config.ExportTlsMode;
import pcache.api.config.TypedProperties;
import pcache.api.tls.TlsConfigurationException;
import pcache.api.tls.TlsEndpoint;
import pcache.api.tls.TlsProvider;
import pcache.io.log.Log;

/**
 * Exports every {@link CacheDevice} service over NBD under its {@link CacheDevice#NAME} property.
 * A thin shell over {@link NbdServer}: a cache that appears is exported at once, one that goes
 * away is withdrawn (its clients get ESHUTDOWN, in-flight requests finish, connections close).
 *
 * <p>It is also the {@link NbdExports} service. {@link #unexport} withdraws an export the same way
 * and remembers the name: the cache stays withdrawn, even if its service goes away and comes back
 * (a re-configured or re-created cache of that name), until {@link #export} is called for the name.
 * The memory lasts as long as this component (a restart of the NBD export or of the process
 * exports every cache again). A cache that was not withdrawn by hand is exported again whenever
 * its service comes back.
 *
 * <p>Its configuration is checked by pcache.api.config's {@link ExportDefinition}, the rules and
 * messages the launcher applies to the {@code nbd.*} keys; TLS credentials are loaded once, at
 * activation, by the {@link TlsProvider} service. A configuration that is refused, or credentials
 * that cannot be loaded, leave the component inactive (nothing listens) with an error naming the
 * key or the file.
 */
@Component(configurationPid = NbdExportComponent.PID, configurationPolicy = ConfigurationPolicy.OPTIONAL,
        service = NbdExports.class, immediate = true)
@Designate(ocd = NbdExportComponent.Config.class)
public class NbdExportComponent implements NbdExports {
    static final String PID = "pcache.export.nbd";
    private static final System.Logger LOG = Log.of(NbdExportComponent.class);

    /** Configuration of the NBD server. */
    @ObjectClassDefinition(name = "pcache NBD export",
            description = "NBD server exporting every pcache cache device under its name")
    public @interface Config {
        @AttributeDefinition(description = "Where to listen: host:port, [ipv6]:port or unix:/path; "
                + "comma-separated for several. A non-loopback address needs tls=require, or "
                + "insecure_allow_cleartext_network=true.")
        String listen() default ExportProperties.LISTEN_DEFAULT;

        @AttributeDefinition(description = "TLS (NBD STARTTLS): off; on (offered, clear text still allowed); "
                + "require (every option but STARTTLS is refused before TLS)",
                options = {@Option(label = "off", value = "off"),
                        @Option(label = "on", value = "on"),
                        @Option(label = "require", value = "require")})
        String tls() default ExportProperties.TLS_DEFAULT;

        @AttributeDefinition(required = false, description = "X.509 credentials: a directory with server-cert.pem, "
                + "server-key.pem and, to verify client certificates, ca-cert.pem (qemu's and nbdkit's layout)")
        String tls__certificates() default "";

        @AttributeDefinition(required = false, description = "Pre-shared keys: a file of identity:hexkey lines "
                + "(psktool's, qemu's and nbdkit's format)")
        String tls__psk__file() default "";

        @AttributeDefinition(required = false, description = "true: clients must present a certificate signed "
                + "by ca-cert.pem; false: they need not; empty: true when the directory holds ca-cert.pem")
        String tls__verify__peer() default "";

        @AttributeDefinition(description = "Allow a non-loopback listen address with tls=off or tls=on (which "
                + "serves clients that skip TLS in clear text): anyone on the network can then read and overwrite "
                + "the caches")
        boolean insecure__allow__cleartext__network() default ExportProperties.INSECURE_ALLOW_CLEARTEXT_NETWORK_DEFAULT;

        @AttributeDefinition(description = "Most client connections served at once")
        int max__connections() default NbdServerConfig.DEFAULT_MAX_CONNECTIONS;

        @AttributeDefinition(description = "Payload bytes one connection may have in flight; "
                + "beyond it the server stops reading that socket until replies drain")
        long max__inflight__bytes__per__connection() default NbdServerConfig.DEFAULT_MAX_INFLIGHT_BYTES;

        @AttributeDefinition(description = "Threads executing device requests for all connections; "
                + "0 means twice the number of processors (at least 4). While every one is taken and a request "
                + "has waited 50 ms (requests stuck on a slow backing device), more are added, up to 16 times "
                + "this number (at least 64); they end once idle")
        int workers() default 0;

        @AttributeDefinition(description = "Seconds withdrawal and shutdown wait for requests in flight")
        int drain__timeout__seconds() default 10;

        @AttributeDefinition(description = "Seconds in which a client must send at least 64 KiB (or the rest) "
                + "of a WRITE payload that is being received straight into the cache (holding that space); one "
                + "that stops or trickles is disconnected and the space given back (the shorter, the higher "
                + "that minimum rate: 6.4 KiB/s at 10 s)")
        int payload__stall__timeout__seconds() default 10;

        @AttributeDefinition(description = "READ and WRITE requests up to this many bytes (and FLUSHes) are "
                + "served on the connection's own thread when the cache can do them without waiting (a hit, "
                + "a write that finds space), as are larger WRITEs that find cache space free at once (received "
                + "straight into the cache); 0 sends every request to the workers")
        int inline__max__bytes() default NbdServerConfig.DEFAULT_INLINE_MAX_BYTES;

        @AttributeDefinition(description = "READs of 64 KiB or more that hit the cache are sent straight from its "
                + "memory mapping, without a copy: on every connection (on, the default), on every connection but "
                + "a clear-text unix socket (auto: on some machines the copy measured faster there), or never (off)",
                options = {@Option(label = "on", value = "on"),
                        @Option(label = "auto", value = "auto"),
                        @Option(label = "off", value = "off")})
        String read__views() default ExportProperties.READ_VIEWS_DEFAULT;
    }

    /** A bound cache: the service object and the name it is exported under. */
    private record Bound(CacheDevice device, String name) {
    }

    private final Object lock = new Object();
    private final List<Bound> bound = new ArrayList<>();
    /** Names withdrawn by {@link #unexport}, kept withdrawn until {@link #export}. */
    private final Set<String> withdrawn = new HashSet<>();
    private NbdServer server;
    private TlsPolicy tls = TlsPolicy.off();

    /**
     * Loads TLS credentials; needed only when TLS is configured, and then the configuration sets
     * this reference's minimum cardinality to 1 ({@link ExportProperties#TLS_PROVIDER_MINIMUM}), so
     * the component waits for the provider. Greedy: a provider arriving later re-activates it.
     */
    @Reference(name = "tlsProvider", cardinality = ReferenceCardinality.OPTIONAL,
            policyOption = ReferencePolicyOption.GREEDY)
    TlsProvider tlsProvider;

    @Activate
    void activate(Config config, Map<String, Object> properties) throws IOException {
        ExportDefinition definition = definition(properties);
        TlsPolicy policy = tlsPolicy(definition);
        NbdServerConfig serverConfig = NbdServerConfig.defaults()
                .withMaxConnections(config.max__connections())
                .withMaxInflightBytesPerConnection(config.max__inflight__bytes__per__connection())
                .withWorkers(config.workers() > 0 ? config.workers() : NbdServerConfig.defaultWorkers())
                .withDrainTimeout(Duration.ofSeconds(Math.max(1, config.drain__timeout__seconds())))
                .withPayloadStallTimeout(Duration.ofSeconds(Math.max(1, config.payload__stall__timeout__seconds())))
                .withInlineMaxBytes(config.inline__max__bytes())
                .withReadViews(NbdServerConfig.ReadViews.parse(definition.readViews()));
        List<ListenAddress> addresses = new ArrayList<>();
        for (String address : definition.listen()) {
            addresses.add(ListenAddress.parse(address));
        }
        NbdServer created = new NbdServer(serverConfig, policy);
        try {
            for (ListenAddress address : addresses) {
                created.listen(address);
            }
        } catch (IOException | RuntimeException e) {
            created.close();
            throw e;
        }
        synchronized (lock) {
            server = created;
            tls = policy;
            for (Bound b : bound) {
                if (!withdrawn.contains(b.name())) {
                    exportIfFree(b);
                }
            }
        }
    }

    /** The configuration checked by the contract's rules; refused with every problem named. */
    private static ExportDefinition definition(Map<String, Object> properties) {
        ExportDefinition.Parsed parsed = ExportDefinition.parse(properties, Path.of("").toAbsolutePath(), "");
        // and the server's own numbers, which SCR would fail on without naming the key
        List<String> typeProblems = TypedProperties.problems(Config.class, properties, ExportProperties.ALL);
        if (parsed.definition().isEmpty() || !typeProblems.isEmpty()) {
            List<String> all = new ArrayList<>(parsed.problems());
            all.addAll(typeProblems);
            String problems = String.join("; ", all);
            LOG.log(Level.ERROR, () -> "NBD export not started, its configuration (" + PID + ") is refused: " + problems);
            throw new IllegalArgumentException("NBD export configuration refused: " + problems);
        }
        return parsed.definition().get();
    }

    /** Loads the credentials once; every connection uses the same endpoint. */
    private TlsPolicy tlsPolicy(ExportDefinition definition) throws IOException {
        if (definition.tls() == ExportTlsMode.OFF) {
            return definition.insecureAllowCleartextNetwork() ? TlsPolicy.offAllowingCleartextNetwork() : TlsPolicy.off();
        }
        TlsProvider provider = tlsProvider;
        if (provider == null) {
            String message = "NBD export not started: tls=" + definition.tls().configName() + " needs a TlsProvider "
                    + "service (bundle pcache.tls), and none is registered";
            LOG.log(Level.ERROR, message);
            throw new IllegalStateException(message);
        }
        try {
            TlsEndpoint endpoint = provider.server(definition.tlsSettings().orElseThrow());
            return new TlsPolicy(definition.tls(), endpoint, definition.insecureAllowCleartextNetwork());
        } catch (TlsConfigurationException e) {
            LOG.log(Level.ERROR, () -> "NBD export not started, TLS credentials unusable: " + e.getMessage());
            throw new IOException("NBD export TLS credentials unusable: " + e.getMessage(), e);
        }
    }

    @Deactivate
    void deactivate() {
        NbdServer stopping;
        synchronized (lock) {
            stopping = server;
            server = null;
        }
        if (stopping != null) {
            stopping.close();
        }
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC)
    void bindCache(CacheDevice device, Map<String, Object> properties) {
        Bound b = new Bound(device, exportName(device, properties));
        synchronized (lock) {
            bound.add(b);
            if (server != null && !withdrawn.contains(b.name())) {
                exportIfFree(b);
            }
        }
    }

    void unbindCache(CacheDevice device, Map<String, Object> properties) {
        Bound removed = null;
        NbdServer current;
        synchronized (lock) {
            for (int i = 0; i < bound.size(); i++) {
                if (bound.get(i).device() == device) {
                    removed = bound.remove(i);
                    break;
                }
            }
            current = server;
        }
        if (removed == null || current == null) {
            return;
        }
        // Outside the lock: withdrawal waits (bounded) for requests in flight on this device,
        // which must stay usable until then; the service is still registered during unbind.
        if (isExported(current, removed)) {
            current.unexport(removed.name());
            synchronized (lock) {
                if (server == current && !withdrawn.contains(removed.name())) {
                    for (Bound other : bound) {
                        if (other.name().equals(removed.name())) {
                            exportIfFree(other); // a second cache of that name was waiting
                            break;
                        }
                    }
                }
            }
        }
    }

    private boolean isExported(NbdServer current, Bound b) {
        Export e = current.find(b.name());
        return e != null && e.name.equals(b.name()) && e.device == b.device();
    }

    /** Exports b unless its name is already taken (then it waits for the holder to go away). */
    private void exportIfFree(Bound b) {
        try {
            server.export(b.name(), b.device(), "pcache cache '" + b.name() + "', "
                    + b.device().sizeBytes() + " bytes");
        } catch (IllegalStateException | IllegalArgumentException e) {
            LOG.log(Level.WARNING, () -> "cache '" + b.name() + "' not exported over NBD: " + e.getMessage());
        }
    }

    // ---------------------------------------------------------------- NbdExports

    @Override
    public List<String> listenAddresses() {
        NbdServer current = server();
        if (current == null) {
            return List.of();
        }
        List<String> result = new ArrayList<>();
        for (SocketAddress a : current.boundAddresses()) {
            if (a instanceof InetSocketAddress inet) {
                result.add(ListenAddress.tcp(inet).toString());
            } else if (a instanceof UnixDomainSocketAddress unix) {
                result.add(ListenAddress.unix(unix.getPath()).toString());
            } else {
                result.add(String.valueOf(a));
            }
        }
        return result;
    }

    @Override
    public NbdExports.TlsInfo tls() {
        TlsPolicy policy;
        NbdServer current;
        synchronized (lock) {
            policy = tls;
            current = server;
        }
        return new NbdExports.TlsInfo(policy.mode().configName(),
                policy.endpoint() == null ? "" : policy.endpoint().describe(),
                current == null ? 0 : current.tlsConnectionCount());
    }

    @Override
    public List<NbdExports.ExportInfo> exports() {
        List<Bound> caches;
        NbdServer current;
        synchronized (lock) {
            caches = new ArrayList<>(bound);
            current = server;
        }
        List<NbdExports.ExportInfo> result = new ArrayList<>();
        for (Bound b : caches) {
            Export e = current == null ? null : current.find(b.name());
            boolean exported = e != null && e.name.equals(b.name()) && e.device == b.device();
            long size;
            try {
                size = b.device().sizeBytes();
            } catch (RuntimeException ex) {
                size = -1; // a cache going away must not break the listing
            }
            if (exported) {
                ExportStatistics s = e.statistics();
                result.add(new NbdExports.ExportInfo(b.name(), size, true, e.connectionCount(), s.requests(),
                        s.bytesRead(), s.bytesWritten(), s.errors()));
            } else {
                result.add(new NbdExports.ExportInfo(b.name(), size, false, 0, 0, 0, 0, 0));
            }
        }
        result.sort(Comparator.comparing(NbdExports.ExportInfo::name));
        return result;
    }

    @Override
    public void export(String name) throws IOException {
        synchronized (lock) {
            boolean wasWithdrawn = withdrawn.remove(name);
            Bound b = boundNamed(name);
            if (b == null) {
                throw new IOException("no cache device named '" + name + "' is registered" + (wasWithdrawn
                        ? " (its earlier unexport is forgotten: it will be exported when it appears)"
                        : "; caches: " + names()));
            }
            if (server == null) {
                throw new IOException("the NBD server is not running; cache '" + name + "' will be exported when"
                        + " it starts");
            }
            if (server.find(name) == null) {
                exportIfFree(b);
            }
            if (server.find(name) == null) {
                throw new IOException("cache '" + name + "' could not be exported (see the log)");
            }
        }
    }

    @Override
    public void unexport(String name) throws IOException {
        NbdServer current;
        synchronized (lock) {
            if (boundNamed(name) == null && !withdrawn.contains(name)) {
                throw new IOException("no export named '" + name + "'; caches: " + names());
            }
            withdrawn.add(name);
            current = server;
        }
        // outside the lock: withdrawal waits (bounded) for the requests in flight
        if (current != null && current.unexport(name)) {
            LOG.log(Level.INFO, () -> "cache '" + name + "' withdrawn from NBD by request; pcache:export " + name
                    + " exports it again");
        }
    }

    private Bound boundNamed(String name) {
        for (Bound b : bound) {
            if (b.name().equals(name)) {
                return b;
            }
        }
        return null;
    }

    private String names() {
        List<String> names = new ArrayList<>();
        bound.forEach(b -> names.add(b.name()));
        names.sort(null);
        return names.isEmpty() ? "none" : String.join(", ", names);
    }

    /** The running server, or null when not active (for tests). */
    NbdServer server() {
        synchronized (lock) {
            return server;
        }
    }

    private static String exportName(CacheDevice device, Map<String, Object> properties) {
        Object name = properties.get(CacheDevice.NAME);
        if (name instanceof String && !((String) name).isEmpty()) {
            return (String) name;
        }
        String fallback = device.name();
        LOG.log(Level.WARNING, () -> "cache service without a '" + CacheDevice.NAME
                + "' property; exporting it as '" + fallback + "'");
        return fallback;
    }
}
