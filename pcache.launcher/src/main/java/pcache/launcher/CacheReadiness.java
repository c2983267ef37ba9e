package pcache.launcher;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.wiring.BundleCapability;
import org.osgi.framework.wiring.BundleRevision;

import pcache.api.CacheDevice;
import pcache.api.config.LdapFilters;

/**
 * Waits until the configured caches are open, so that a {@code -c} command sees them. A cache
 * is open when its {@code CacheDevice} service (property {@code pcache.cache.name}) is
 * registered; caches open asynchronously after their component activates. Nothing is awaited
 * when no bundle declares that it provides CacheDevice services, or when no Declarative Services
 * extender is there to run such a component: both are read from the bundles' declared
 * capabilities (the framework's own API).
 */
final class CacheReadiness {

    private static final System.Logger LOG = System.getLogger(CacheReadiness.class.getName());
    /** Bound on the wait; a cache that fails to open is reported, the command runs anyway. */
    static final Duration TIMEOUT = Duration.ofSeconds(30);

    /** Only the name: the launcher's own copy of pcache.api is not the bundles' one. */
    private static final String CACHE_DEVICE = "pcache.api.CacheDevice";
    private static final String SERVICE_NAMESPACE = "osgi.service";
    private static final String EXTENDER_NAMESPACE = "osgi.extender";
    private static final String DS_EXTENDER = "osgi.component";

    private CacheReadiness() {
    }

    /**
     * Waits (at most {@link #TIMEOUT}) for a CacheDevice service of each of {@code names}.
     *
     * @return the caches still missing (logged as a warning), empty when all are open
     */
    static List<String> await(BundleContext context, List<String> names) {
        if (names.isEmpty() || !cachesCanOpen(context)) {
            return List.of();
        }
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        List<String> missing = missing(context, names);
        while (!missing.isEmpty() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            missing = missing(context, names);
        }
        if (!missing.isEmpty()) {
            LOG.log(System.Logger.Level.WARNING, "cache(s) {0} not open after {1} s (see the log above); "
                    + "running the command anyway", missing, TIMEOUT.toSeconds());
        }
        return missing;
    }

    private static List<String> missing(BundleContext context, List<String> names) {
        List<String> missing = new ArrayList<>();
        for (String name : names) {
            try {
                // all references: the launcher's own pcache.api (lib/) is not the bundles' one, so the
                // class-space check of getServiceReferences would hide every cache
                if (context.getAllServiceReferences(CACHE_DEVICE, LdapFilters.equal(CacheDevice.NAME, name)) == null) {
                    missing.add(name);
                }
            } catch (InvalidSyntaxException e) {
                throw new IllegalStateException("an escaped filter is always valid", e);
            }
        }
        return missing;
    }

    /** Whether some bundle provides CacheDevice services and a DS extender runs. */
    private static boolean cachesCanOpen(BundleContext context) {
        boolean provider = false;
        boolean extender = false;
        for (Bundle b : context.getBundles()) {
            BundleRevision revision = b.adapt(BundleRevision.class);
            if (revision == null || (b.getState() & (Bundle.STARTING | Bundle.ACTIVE)) == 0) {
                continue;
            }
            for (BundleCapability c : revision.getDeclaredCapabilities(SERVICE_NAMESPACE)) {
                Object classes = c.getAttributes().get("objectClass");
                provider |= classes instanceof List<?> list && list.contains(CACHE_DEVICE);
            }
            for (BundleCapability c : revision.getDeclaredCapabilities(EXTENDER_NAMESPACE)) {
                extender |= DS_EXTENDER.equals(c.getAttributes().get(EXTENDER_NAMESPACE));
            }
        }
        return provider && extender;
    }
}
