package pcache.health.internal;

import java.util.List;
import java.util.Locale;

import org.apache.felix.hc.api.HealthCheck;
import org.apache.felix.hc.api.Result;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

import pcache.api.CacheDevice;

/**
 * Are requests waiting for free cache space now? They wait until write-back and GC reclaim a
 * segment, so clients see writes stall.
 */
@Component(service = HealthCheck.class, property = {HealthCheck.NAME + "=" + SpaceWaitCheck.NAME,
        HealthCheck.TAGS + "=" + HealthTags.PCACHE})
public final class SpaceWaitCheck implements HealthCheck {

    static final String NAME = "pcache space";

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile List<CacheDevice> caches;

    @Override
    public Result execute() {
        return Finding.result(CacheView.of(caches).stream().map(SpaceWaitCheck::assess).toList());
    }

    static Finding assess(CacheView c) {
        int waiting = c.conditions().requestsWaitingForSpace();
        String used = c.statistics().segmentsUsed() + " of " + c.statistics().segmentsTotal() + " segments in use";
        if (waiting > 0) {
            return Finding.warn(c.name(), waiting + " request(s) waiting for free cache space (" + used
                    + String.format(Locale.ROOT, ", %.1f %% dirty", c.statistics().dirtyPercent()) + "): write-back"
                    + " and GC do not free space as fast as clients write. Check that write-back progresses"
                    + " (pcache:stats " + c.name() + "); a lower gc_percent or a larger cache device gives more room");
        }
        return Finding.ok(c.name(), "no request waits for space (" + used + ", "
                + c.statistics().deferredRequests() + " waited since the cache opened)");
    }
}
