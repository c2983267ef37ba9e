package pcache.health.internal;

import java.util.List;

import org.apache.felix.hc.api.HealthCheck;
import org.apache.felix.hc.api.Result;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

import pcache.api.CacheDevice;

/**
 * Is each cache's backing device reachable? Anything but online is critical: misses and
 * write-back wait for it, so dirty data piles up in the cache.
 */
@Component(service = HealthCheck.class, property = {HealthCheck.NAME + "=" + BackingDeviceCheck.NAME,
        HealthCheck.TAGS + "=" + HealthTags.PCACHE})
public final class BackingDeviceCheck implements HealthCheck {

    static final String NAME = "pcache backing device";

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile List<CacheDevice> caches;

    @Override
    public Result execute() {
        return Finding.result(CacheView.of(caches).stream().map(BackingDeviceCheck::assess).toList());
    }

    static Finding assess(CacheView c) {
        String device = c.status().backing();
        long errors = c.statistics().backingErrors();
        return switch (c.status().backingState()) {
            case ONLINE -> Finding.ok(c.name(), "backing device " + device + " online");
            case RECONNECTING -> Finding.critical(c.name(), "backing device " + device + " unreachable, reconnecting:"
                    + " reads of uncached data and write-back wait for it. Check the server and the network;"
                    + " pcache reconnects on its own");
            case UNAVAILABLE -> Finding.critical(c.name(), "no backing device bound (" + device + "): reads of"
                    + " uncached data and write-back wait. Check that the backing device's configuration names a"
                    + " device that exists (pcache:list shows the backing devices; the log says why one did not"
                    + " open)");
            case FAILING -> Finding.critical(c.name(), "backing device " + device + " fails its I/O (" + errors
                    + " failed operations since the cache opened): requests that need it (reads of uncached data;"
                    + " every request in passthrough mode) fail, write-back retries with back-off and the dirty"
                    + " data stays in the cache. Check the device (its server's log, dmesg)");
        };
    }
}
