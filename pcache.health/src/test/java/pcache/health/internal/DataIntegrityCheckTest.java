package pcache.health.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.felix.hc.api.Result;
import org.junit.jupiter.api.Test;

import pcache.api.BackingState;
import pcache.api.CacheConditions;

/** Data CRC errors warn, quarantined extents are critical. */
class DataIntegrityCheckTest {

    @Test
    void noErrorsPassAndSayWhetherDataIsChecked() {
        FindingAssertions.ok(DataIntegrityCheck.assess(Views.healthy("c0")), "cache c0: no data CRC errors");
        CacheView unchecked = new CacheView("c1", Views.status("c1", BackingState.ONLINE, false),
                Views.statistics(0, 0, 0, 0, 0, 0), CacheConditions.NONE);
        FindingAssertions.ok(DataIntegrityCheck.assess(unchecked),
                "cache c1: no data CRC errors (data_crc is off, so cached data is not checked)");
    }

    @Test
    void recoveredErrorsWarnAndQuarantinedExtentsAreCritical() {
        Finding recovered = DataIntegrityCheck.assess(Views.withStatistics("c0", Views.statistics(0, 0, 2, 2, 0, 0)));
        assertEquals(Result.Status.WARN, recovered.status());
        assertTrue(recovered.message().startsWith("cache c0: 2 cached extent(s) failed their CRC since the cache"
                + " opened, 2 re-read from the backing device"), recovered.message());

        Finding quarantined = DataIntegrityCheck.assess(Views.withStatistics("c0", Views.statistics(0, 0, 3, 2, 1, 0)));
        assertEquals(Result.Status.CRITICAL, quarantined.status());
        assertTrue(quarantined.message().startsWith("cache c0: 1 extent(s) quarantined"), quarantined.message());
        assertTrue(quarantined.message().contains("Rewrite those ranges"), quarantined.message());
    }
}
