package pcache.export.nbd.internal;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

import pcache.api.CacheDevice;

/**
 * Exports every {@link CacheDevice} service over NBD under its {@link CacheDevice#NAME} property.
 * A thin shell over {@link NbdServer}: a cache that appears is exported at once, one that goes
 * away is withdrawn (its clients get ESHUTDOWN, in-flight requests finish, connections close).
 */
@Component(configurationPid = NbdExportComponent.PID, configurationPolicy = ConfigurationPolicy.OPTIONAL,
        service = {}, immediate = true)
@Designate(ocd = NbdExportComponent.Config.class)
public class NbdExportComponent {
    static final String PID = "pcache.export.nbd";
    private static final System.Logger LOG = System.getLogger(NbdExportComponent.class.getName());

    /** Configuration of the NBD server. */
    @ObjectClassDefinition(name = "pcache NBD export",
            description = "NBD server exporting every pcache cache device under its name")
    public @interface Config {
        @AttributeDefinition(description = "Where to listen: host:port, [ipv6]:port or unix:/path; "
                + "comma-separated for several. A non-loopback address exposes the caches to the network "
                + "without TLS or authentication.")
        String listen() default "127.0.0.1:10809";

        @AttributeDefinition(description = "Most client connections served at once")
        int max__connections() default NbdServerConfig.DEFAULT_MAX_CONNECTIONS;

        @AttributeDefinition(description = "Payload bytes one connection may have in flight; "
                + "beyond it the server stops reading that socket until replies drain")
        long max__inflight__bytes__per__connection() default NbdServerConfig.DEFAULT_MAX_INFLIGHT_BYTES;

        @AttributeDefinition(description = "Threads executing device requests for all connections; "
                + "0 means twice the number of processors (at least 4)")
        int workers() default 0;

        @AttributeDefinition(description = "Seconds withdrawal and shutdown wait for requests in flight")
        int drain__timeout__seconds() default 10;
    }

    /** A bound cache: the service object and the name it is exported under. */
    private record Bound(CacheDevice device, String name) {
    }

    private final Object lock = new Object();
    private final List<Bound> bound = new ArrayList<>();
    private NbdServer server;

    @Activate
    void activate(Config config) throws IOException {
        NbdServerConfig serverConfig = NbdServerConfig.defaults()
                .withMaxConnections(config.max__connections())
                .withMaxInflightBytesPerConnection(config.max__inflight__bytes__per__connection())
                .withWorkers(config.workers() > 0 ? config.workers() : NbdServerConfig.defaultWorkers())
                .withDrainTimeout(Duration.ofSeconds(Math.max(1, config.drain__timeout__seconds())));
        List<ListenAddress> addresses = ListenAddress.parseList(config.listen());
        NbdServer created = new NbdServer(serverConfig);
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
            for (Bound b : bound) {
                exportIfFree(b);
            }
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
            if (server != null) {
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
                if (server == current) {
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
