package pcache.health.internal;

import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.apache.felix.hc.api.HealthCheck;
import org.apache.felix.hc.api.Result;
import org.apache.felix.hc.api.ResultLog;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

import pcache.api.CacheDevice;
import pcache.api.config.HealthProperties;

/**
 * Is more of a cache dirty than {@code dirty_warn_percent} (configuration {@code pcache.health})
 * of its data capacity? Then write-back does not keep up, and writes will soon wait for space.
 * A configured value out of range makes the check report that configuration error.
 */
@Component(service = HealthCheck.class, configurationPid = HealthProperties.PID,
        property = {HealthCheck.NAME + "=" + DirtyDataCheck.NAME, HealthCheck.TAGS + "=" + HealthTags.PCACHE})
@Designate(ocd = DirtyDataCheck.Config.class)
public final class DirtyDataCheck implements HealthCheck {

    static final String NAME = "pcache dirty data";

    /** The metatype of configuration {@code pcache.health}. */
    @ObjectClassDefinition(name = "pcache health checks",
            description = "Thresholds of pcache's health checks (tag pcache).")
    @interface Config {
        @AttributeDefinition(name = HealthProperties.DIRTY_WARN_PERCENT, description = "Warn when a cache's dirty"
                + " data is above this percentage of its data capacity (0 warns about any dirty byte, 100 never"
                + " warns).", min = "" + HealthProperties.DIRTY_WARN_PERCENT_MIN,
                max = "" + HealthProperties.DIRTY_WARN_PERCENT_MAX)
        int dirty__warn__percent() default HealthProperties.DIRTY_WARN_PERCENT_DEFAULT;
    }

    /** The threshold, or the configuration error that keeps the check from having one. */
    private record Threshold(int percent, String error) {
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile List<CacheDevice> caches;

    private volatile Threshold threshold = new Threshold(HealthProperties.DIRTY_WARN_PERCENT_DEFAULT, null);

    @Activate
    @Modified
    void configure(Map<String, Object> properties) {
        Object value = properties.get(HealthProperties.DIRTY_WARN_PERCENT);
        if (value == null) {
            threshold = new Threshold(HealthProperties.DIRTY_WARN_PERCENT_DEFAULT, null);
            return;
        }
        try {
            threshold = new Threshold(HealthProperties.dirtyWarnPercent(value.toString()), null);
        } catch (IllegalArgumentException e) {
            threshold = new Threshold(-1, configurationError(value));
        }
    }

    /** What the check says while its threshold is not a percentage. */
    static String configurationError(Object value) {
        return "configuration " + HealthProperties.PID + ": " + HealthProperties.DIRTY_WARN_PERCENT + "=" + value
                + " is not " + HealthProperties.DIRTY_WARN_PERCENT_EXPECTED + "; fix it (launcher key health."
                + HealthProperties.DIRTY_WARN_PERCENT + ")";
    }

    @Override
    public Result execute() {
        Threshold t = threshold;
        if (t.error() != null) {
            ResultLog log = new ResultLog();
            log.add(new ResultLog.Entry(Result.Status.HEALTH_CHECK_ERROR, t.error()));
            return new Result(log);
        }
        return Finding.result(CacheView.of(caches).stream().map(c -> assess(c, t.percent())).toList());
    }

    static Finding assess(CacheView c, int warnPercent) {
        double share = c.statistics().dirtyPercent();
        String text = String.format(Locale.ROOT, "%.1f %% of the data capacity is dirty", share);
        if (share > warnPercent) {
            return Finding.warn(c.name(), text + String.format(Locale.ROOT, " (above %s=%d): write-back does not keep"
                    + " up and writes will soon wait for space. Check that write-back progresses and the backing"
                    + " device keeps up (pcache:stats %s); pcache:drain %s writes everything back",
                    HealthProperties.DIRTY_WARN_PERCENT, warnPercent, c.name(), c.name()));
        }
        return Finding.ok(c.name(), text + " (warning above " + warnPercent + " %)");
    }
}
