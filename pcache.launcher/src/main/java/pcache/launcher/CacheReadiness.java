package pcache.launcher;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.wiring.BundleCapability;
import org.osgi.framework.wiring.BundleRevision;

import pcache.api.CacheDevice;
import pcache.api.CacheOpenFailure;
import pcache.api.config.LdapFilters;

/**
 * Waits until the configured caches are open, so that a {@code -c} command sees them. A cache
 * is open when its {@code CacheDevice} service (property {@code pcache.cache.name}) is
 * registered; caches open asynchronously after their component activates. A cache whose open
 * failed publishes a {@code CacheOpenFailure} service instead: it is not waited for (unless it
 * only waits for its backing device, which may still be connecting), and the reason is logged
 * before the command runs. Nothing is awaited
 * when no bundle declares that it provides CacheDevice services, or when no Declarative Services
 * extender is there to run such a component: both are read from the bundles' declared
 * capabilities (the framework's own API).
 */
final class CacheReadiness {

    private static final System.Logger LOG = System.getLogger(CacheReadiness.class.getName());
    /** Bound on the wait; a cache that does not open in time is reported, the command runs anyway. */
    static final Duration TIMEOUT = Duration.ofSeconds(30);

    /** Only the name: the launcher's own copy of pcache.api is not the bundles' one. */
    private static final String CACHE_DEVICE = "pcache.api.CacheDevice";
    private static final String OPEN_FAILURE = "pcache.api.CacheOpenFailure";
    private static final String SERVICE_NAMESPACE = "osgi.service";
    private static final String EXTENDER_NAMESPACE = "osgi.extender";
    private static final String DS_EXTENDER = "osgi.component";

    private CacheReadiness() {
    }

    /**
     * Waits (at most {@link #TIMEOUT}) until each of {@code names} has a CacheDevice service or
     * has failed to open (a CacheOpenFailure that does not wait for a backing device).
     *
     * @return the caches not open (each logged as a warning, with why when it failed), empty when all are open
     */
    static List<String> await(BundleContext context, List<String> names) {
        if (names.isEmpty() || !cachesCanOpen(context)) {
            return List.of();
        }
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        Map<String, String> failed = new TreeMap<>();
        Map<String, String> backingWaits = new TreeMap<>();
        List<String> waiting = waiting(context, names, failed, backingWaits);
        while (!waiting.isEmpty() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            failed.clear();
            backingWaits.clear();
            waiting = waiting(context, names, failed, backingWaits);
        }
        failed.forEach((name, reason) -> LOG.log(System.Logger.Level.WARNING, "cache {0} cannot be opened: {1};"
                + " running the command anyway", name, reason));
        backingWaits.forEach((name, reason) -> LOG.log(System.Logger.Level.WARNING, "cache {0} not open after {1} s:"
                + " {2}; running the command anyway", name, TIMEOUT.toSeconds(), reason));
        List<String> opening = waiting.stream().filter(n -> !backingWaits.containsKey(n)).toList();
        if (!opening.isEmpty()) {
            LOG.log(System.Logger.Level.WARNING, "cache(s) {0} not open after {1} s (see the log above); "
                    + "running the command anyway", opening, TIMEOUT.toSeconds());
        }
        List<String> notOpen = new ArrayList<>(failed.keySet());
        notOpen.addAll(waiting);
        return notOpen;
    }

    /**
     * The caches of {@code names} still to wait for; those that failed to open go into
     * {@code failed} instead, with the reason they publish; those of the first that wait for a
     * backing device also go into {@code backingWaits}, with the reason.
     */
    private static List<String> waiting(BundleContext context, List<String> names, Map<String, String> failed,
            Map<String, String> backingWaits) {
        List<String> waiting = new ArrayList<>();
        for (String name : names) {
            // all references: the launcher's own pcache.api (lib/) is not the bundles' one, so the
            // class-space check of getServiceReferences would hide every cache
            if (references(context, CACHE_DEVICE, name) != null) {
                continue;
            }
            ServiceReference<?>[] failures = references(context, OPEN_FAILURE, name);
            ServiceReference<?> failure = failures == null ? null : failures[0]; // one per cache
            String reason = failure == null ? null : String.valueOf(failure.getProperty(CacheOpenFailure.REASON));
            if (failure != null && !Boolean.TRUE.equals(failure.getProperty(CacheOpenFailure.WAITS_FOR_BACKING))) {
                failed.put(name, reason);
                continue;
            }
            if (failure != null) {
                backingWaits.put(name, reason);
            }
            waiting.add(name);
        }
        return waiting;
    }

    private static ServiceReference<?>[] references(BundleContext context, String type, String name) {
        try {
            return context.getAllServiceReferences(type, LdapFilters.equal(CacheDevice.NAME, name));
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException("an escaped filter is always valid", e);
        }
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
