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
 * Has cached data failed its CRC? Quarantined extents are critical: their data is lost from the
 * cache and reads of them fail until they are rewritten. Extents that failed while clean were
 * re-read from the backing device (nothing lost), which still warns: the cache device corrupts
 * data. The counts are since the cache opened.
 */
@Component(service = HealthCheck.class, property = {HealthCheck.NAME + "=" + DataIntegrityCheck.NAME,
        HealthCheck.TAGS + "=" + HealthTags.PCACHE})
public final class DataIntegrityCheck implements HealthCheck {

    static final String NAME = "pcache data integrity";

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile List<CacheDevice> caches;

    @Override
    public Result execute() {
        return Finding.result(CacheView.of(caches).stream().map(DataIntegrityCheck::assess).toList());
    }

    static Finding assess(CacheView c) {
        long quarantined = c.statistics().quarantinedExtents();
        long errors = c.statistics().crcErrors();
        long recovered = c.statistics().crcRecovered();
        if (quarantined > 0) {
            return Finding.critical(c.name(), quarantined + " extent(s) quarantined: their dirty data failed its CRC,"
                    + " reads of them fail until they are rewritten (" + errors + " CRC errors since the cache"
                    + " opened). Rewrite those ranges from a backup (the log names them) and check the cache device");
        }
        if (errors > 0) {
            return Finding.warn(c.name(), errors + " cached extent(s) failed their CRC since the cache opened, "
                    + recovered + " re-read from the backing device: the cache device returns bad data. Check it"
                    + " (dmesg, its health) and consider replacing it");
        }
        return Finding.ok(c.name(), c.status().dataCrc() ? "no data CRC errors" : "no data CRC errors (data_crc is"
                + " off, so cached data is not checked)");
    }
}
