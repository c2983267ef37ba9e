package pcache.health.internal;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;

import org.apache.felix.hc.api.HealthCheck;
import org.apache.felix.hc.api.Result;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

import pcache.api.CacheDevice;
import pcache.api.CacheOpenFailure;
import pcache.api.config.ConfigPids;
import pcache.api.config.TargetProperties;
import pcache.io.log.Log;

/**
 * Does each cache hold its cache device safely: locked by this process, still there and
 * writable? And is every configured cache open? A configured cache whose open failed (its device
 * locked by another process, missing, not writable or damaged) publishes why
 * ({@link CacheOpenFailure}), and is critical with that reason; one that is still opening, or
 * waits for its backing device (which opens it), is "temporarily unavailable" (the health check
 * executor turns a state that lasts into critical).
 */
@Component(service = HealthCheck.class, property = {HealthCheck.NAME + "=" + CacheDeviceCheck.NAME,
        HealthCheck.TAGS + "=" + HealthTags.PCACHE})
public final class CacheDeviceCheck implements HealthCheck {

    static final String NAME = "pcache cache device";

    private static final System.Logger LOG = Log.of(CacheDeviceCheck.class);

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile List<CacheDevice> caches;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile ConfigurationAdmin configurationAdmin;

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile List<CacheOpenFailure> openFailures;

    @Override
    public Result execute() {
        List<CacheView> open = CacheView.of(caches);
        Map<String, CacheOpenFailure> failures = new TreeMap<>();
        List<CacheOpenFailure> published = openFailures;
        for (CacheOpenFailure f : published == null ? List.<CacheOpenFailure>of() : published) {
            failures.put(f.name(), f);
        }
        return Finding.result(assess(open, configuredCaches(), failures));
    }

    /**
     * The findings on the open caches and on the configured caches that are not open: critical for
     * one whose open failed ({@code failures}, by name), temporarily unavailable for one that is
     * opening or waits for its backing device.
     */
    static List<Finding> assess(List<CacheView> open, Set<String> configured, Map<String, CacheOpenFailure> failures) {
        List<Finding> findings = new ArrayList<>();
        open.forEach(c -> findings.add(assess(c)));
        Set<String> openNames = open.stream().map(CacheView::name).collect(Collectors.toSet());
        SortedSet<String> notOpen = new TreeSet<>(configured);
        notOpen.addAll(failures.keySet());
        notOpen.removeAll(openNames);
        for (String name : notOpen) {
            CacheOpenFailure failure = failures.get(name);
            if (failure == null) {
                findings.add(new Finding(Result.Status.TEMPORARILY_UNAVAILABLE, "cache " + name + ": configured but"
                        + " not open: it is opening, or its component did not start (the log says why: 'cache "
                        + name + "')"));
            } else if (failure.waitsForBacking()) {
                findings.add(new Finding(Result.Status.TEMPORARILY_UNAVAILABLE, "cache " + name + ": configured but"
                        + " not open: " + failure.reason()));
            } else {
                findings.add(Finding.critical(name, "configured but cannot be opened: " + failure.reason()
                        + ". It tries again when its configuration changes"));
            }
        }
        return findings;
    }

    static Finding assess(CacheView c) {
        String problem = c.conditions().cacheDeviceProblem();
        String device = c.status().cacheDevice();
        return problem == null ? Finding.ok(c.name(), device + " locked and writable")
                : Finding.critical(c.name(), problem);
    }

    /** The names of the caches configured through ConfigAdmin; none known without ConfigAdmin. */
    private Set<String> configuredCaches() {
        ConfigurationAdmin admin = configurationAdmin;
        Set<String> names = new TreeSet<>();
        if (admin == null) {
            return names;
        }
        try {
            Configuration[] configurations = admin.listConfigurations("(service.factoryPid=" + ConfigPids.TARGET + ")");
            if (configurations != null) {
                for (Configuration c : configurations) {
                    Object name = c.getProperties() == null ? null : c.getProperties().get(TargetProperties.NAME);
                    if (name != null) {
                        names.add(name.toString());
                    }
                }
            }
        } catch (IOException | InvalidSyntaxException | IllegalStateException e) {
            LOG.log(System.Logger.Level.DEBUG, "health: cannot list the cache configurations: {0}", e.toString());
        }
        return names;
    }
}
