package pcache.health.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.felix.hc.api.Result;
import org.junit.jupiter.api.Test;

import pcache.api.CacheConditions;
import pcache.api.CacheOpenFailure;

/** Cache device locked and writable, and every configured cache open. */
class CacheDeviceCheckTest {

    @Test
    void aHeldDevicePassesAndALostHoldIsCriticalWithTheCachesOwnWords() {
        Finding ok = CacheDeviceCheck.assess(Views.healthy("c0"));
        assertEquals(Result.Status.OK, ok.status());
        assertEquals("cache c0: /data/c0.cache (mapped) locked and writable", ok.message());

        String problem = "cache device /data/c0.cache no longer exists (removed while open)";
        Finding lost = CacheDeviceCheck.assess(Views.withConditions("c0", new CacheConditions(0, problem, null, 0,
                null, null)));
        assertEquals(Result.Status.CRITICAL, lost.status());
        assertEquals("cache c0: " + problem, lost.message());
    }

    @Test
    void aConfiguredCacheThatIsNotOpenIsTemporarilyUnavailable() {
        List<Finding> findings = CacheDeviceCheck.assess(List.of(Views.healthy("a")), Set.of("a", "b"), Map.of());
        assertEquals(2, findings.size(), findings.toString());
        assertEquals(Result.Status.OK, findings.get(0).status());
        assertEquals(Result.Status.TEMPORARILY_UNAVAILABLE, findings.get(1).status());
        assertEquals("cache b: configured but not open: it is opening, or its component did not start (the log says"
                + " why: 'cache b')", findings.get(1).message());
        assertEquals(1, CacheDeviceCheck.assess(List.of(Views.healthy("a")), Set.of(), Map.of()).size(),
                "an open cache the check cannot find configured (no ConfigAdmin) is still checked");
    }

    /**
     * A cache whose open failed is critical, with why; one that waits for its backing device is
     * temporarily unavailable, with why. Before, both were "temporarily unavailable: it is opening,
     * or it cannot open its cache device", and the log said which.
     */
    @Test
    void aCacheWhoseOpenFailedIsCriticalWithWhy() {
        List<Finding> findings = CacheDeviceCheck.assess(List.of(), Set.of("b", "c"), Map.of(
                "b", failure("b", "cache device /data/b.cache is in use by another process", false),
                "c", failure("c", "it waits for its backing device (backing.target (pcache.backing.name=c.backing))",
                        true),
                "d", failure("d", "superblock damaged", false)));
        assertEquals(List.of(
                Finding.critical("b", "configured but cannot be opened: cache device /data/b.cache is in use by another"
                        + " process. It tries again when its configuration changes"),
                new Finding(Result.Status.TEMPORARILY_UNAVAILABLE, "cache c: configured but not open: it waits for its"
                        + " backing device (backing.target (pcache.backing.name=c.backing))"),
                Finding.critical("d", "configured but cannot be opened: superblock damaged. It tries again when its"
                        + " configuration changes")), findings);
    }

    /** A cache's published failure. */
    private record Failure(String name, String reason, boolean waitsForBacking) implements CacheOpenFailure {
    }

    private static CacheOpenFailure failure(String name, String reason, boolean waitsForBacking) {
        return new Failure(name, reason, waitsForBacking);
    }
}
