package pcache.health.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import org.apache.felix.hc.api.Result;
import org.junit.jupiter.api.Test;

import pcache.api.config.HealthProperties;
import pcache.api.format.PcacheFormat;

/** Dirty data above the configured share of the data capacity warns; a bad threshold is reported. */
class DirtyDataCheckTest {

    /** A quarter of the 32-segment capacity. */
    private static final long QUARTER = 8L * PcacheFormat.SEG_DATA_SIZE;

    @Test
    void warnsOnlyAboveTheThreshold() {
        FindingAssertions.ok(DirtyDataCheck.assess(Views.withStatistics("c0", Views.statistics(QUARTER, 0, 0, 0, 0,
                0)), 25), "cache c0: 25.0 % of the data capacity is dirty (warning above 25 %)");
        Finding above = DirtyDataCheck.assess(Views.withStatistics("c0", Views.statistics(QUARTER + 4096, 0, 0, 0, 0,
                0)), 25);
        assertEquals(Result.Status.WARN, above.status());
        assertTrue(above.message().startsWith("cache c0: 25.0 % of the data capacity is dirty (above"
                + " dirty_warn_percent=25): write-back does not keep up"), above.message());
        assertTrue(above.message().contains("pcache:drain c0"), above.message());
        assertEquals(Result.Status.OK, DirtyDataCheck.assess(Views.healthy("c0"), 0).status(),
                "0 warns about any dirty byte, and a clean cache has none");
        assertEquals(Result.Status.WARN, DirtyDataCheck.assess(Views.withStatistics("c0", Views.statistics(4096, 0, 0,
                0, 0, 0)), 0).status());
    }

    @Test
    void theConfigurationSetsTheThresholdAndABadValueIsAHealthCheckErrorSayingWhatToFix() {
        DirtyDataCheck check = new DirtyDataCheck();
        check.caches = List.of(Views.device(Views.withStatistics("c0", Views.statistics(4096, 0, 0, 0, 0, 0)), false));
        check.configure(Map.of());
        assertEquals(Result.Status.OK, check.execute().getStatus(), "default " + HealthProperties.DIRTY_WARN_PERCENT_DEFAULT);
        check.configure(Map.of(HealthProperties.DIRTY_WARN_PERCENT, 0));
        assertEquals(Result.Status.WARN, check.execute().getStatus());
        check.configure(Map.of(HealthProperties.DIRTY_WARN_PERCENT, "150"));
        Result bad = check.execute();
        assertEquals(Result.Status.HEALTH_CHECK_ERROR, bad.getStatus());
        assertEquals("configuration pcache.health: dirty_warn_percent=150 is not "
                + HealthProperties.DIRTY_WARN_PERCENT_EXPECTED + "; fix it (launcher key health.dirty_warn_percent)",
                bad.iterator().next().getMessage());
    }
}
