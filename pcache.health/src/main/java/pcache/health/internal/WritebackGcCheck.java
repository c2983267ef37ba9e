package pcache.health.internal;

import java.util.ArrayList;
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
 * Do write-back and GC work? Critical while the latest write-back attempt or GC pass failed, or
 * while either is stuck at damage in the key log: both retry on their own, but dirty data cannot
 * leave the cache and space cannot be reclaimed until they succeed. Errors that were followed by
 * success are only counted in the OK message.
 */
@Component(service = HealthCheck.class, property = {HealthCheck.NAME + "=" + WritebackGcCheck.NAME,
        HealthCheck.TAGS + "=" + HealthTags.PCACHE})
public final class WritebackGcCheck implements HealthCheck {

    static final String NAME = "pcache write-back and GC";

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile List<CacheDevice> caches;

    @Override
    public Result execute() {
        List<Finding> findings = new ArrayList<>();
        CacheView.of(caches).forEach(c -> findings.addAll(assess(c)));
        return Finding.result(findings);
    }

    /** One finding per problem, or one OK finding. */
    static List<Finding> assess(CacheView c) {
        List<Finding> findings = new ArrayList<>();
        if (c.conditions().writebackError() != null) {
            findings.add(Finding.critical(c.name(), "write-back fails (" + c.conditions().writebackError() + "); it"
                    + " retries with back-off and the dirty data stays safe in the cache. Check the backing device ("
                    + c.status().backing() + ")"));
        }
        if (c.conditions().gcError() != null) {
            findings.add(Finding.critical(c.name(), "GC fails (" + c.conditions().gcError() + "; "
                    + c.conditions().gcErrors() + " failed passes since the cache opened); it retries, but no space"
                    + " is reclaimed meanwhile. The log has the details; pcache:inspect on a copy of the cache device"
                    + " shows its structures"));
        }
        if (c.conditions().keyLogDamage() != null) {
            findings.add(Finding.critical(c.name(), "the key log is damaged (" + c.conditions().keyLogDamage()
                    + "): write-back cannot get past it. Stop pcache and check the cache device with pcache:fsck"));
        }
        if (findings.isEmpty()) {
            long writebackErrors = c.statistics().writebackErrors();
            long gcErrors = c.conditions().gcErrors();
            findings.add(Finding.ok(c.name(), "write-back and GC work" + (writebackErrors == 0 && gcErrors == 0 ? ""
                    : " (" + writebackErrors + " failed write-back attempts and " + gcErrors + " failed GC passes since"
                    + " the cache opened, retried successfully)")));
        }
        return findings;
    }
}
