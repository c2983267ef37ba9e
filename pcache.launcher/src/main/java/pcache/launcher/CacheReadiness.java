package pcache.launcher;

import java.lang.reflect.Method;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;

/**
 * Waits until the configured caches are open, so that a {@code -c} command sees them. A cache
 * is open when its {@code CacheDevice} service (property {@code pcache.cache.name}) is
 * registered; caches open asynchronously after their component activates. Nothing is awaited
 * when no bundle provides the {@code pcache.target} component (asked of Declarative Services'
 * runtime, reflectively: its API lives in a bundle).
 */
final class CacheReadiness {

    private static final System.Logger LOG = System.getLogger(CacheReadiness.class.getName());
    /** Bound on the wait; a cache that fails to open is reported, the command runs anyway. */
    static final Duration TIMEOUT = Duration.ofSeconds(30);

    private static final String SCR = "org.osgi.service.component.runtime.ServiceComponentRuntime";
    private static final String CACHE_DEVICE = "pcache.api.CacheDevice";
    private static final String CACHE_NAME = "pcache.cache.name";

    private CacheReadiness() {
    }

    /**
     * Waits (at most {@link #TIMEOUT}) for a CacheDevice service of each of {@code names}.
     *
     * @return the caches still missing (logged as a warning), empty when all are open
     */
    static List<String> await(BundleContext context, List<String> names) {
        if (names.isEmpty() || !targetComponentPresent(context)) {
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
                if (context.getServiceReferences(CACHE_DEVICE, "(" + CACHE_NAME + "=" + name + ")") == null) {
                    missing.add(name);
                }
            } catch (InvalidSyntaxException e) {
                throw new IllegalArgumentException("cache name " + name + " is not usable in a filter", e);
            }
        }
        return missing;
    }

    /** Whether some bundle declares a DS component configured by the {@code pcache.target} PID. */
    private static boolean targetComponentPresent(BundleContext context) {
        ServiceReference<?> ref = context.getServiceReference(SCR);
        if (ref == null) {
            return false;
        }
        Object scr = context.getService(ref);
        try {
            Method descriptions = ref.getBundle().loadClass(SCR).getMethod("getComponentDescriptionDTOs", Bundle[].class);
            for (Object dto : (Collection<?>) descriptions.invoke(scr, (Object) new Bundle[0])) {
                String[] pids = (String[]) dto.getClass().getField("configurationPid").get(dto);
                if (pids != null && Arrays.asList(pids).contains(ConfigAdminMapping.TARGET_PID)) {
                    return true;
                }
            }
            return false;
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "cannot ask Declarative Services for components: " + e);
            return false;
        } finally {
            context.ungetService(ref);
        }
    }
}
