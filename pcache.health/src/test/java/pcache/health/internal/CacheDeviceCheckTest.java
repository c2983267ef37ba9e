package pcache.health.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;

import org.apache.felix.hc.api.Result;
import org.junit.jupiter.api.Test;

import pcache.api.CacheConditions;

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
        List<Finding> findings = CacheDeviceCheck.assess(List.of(Views.healthy("a")), Set.of("a", "b"));
        assertEquals(2, findings.size(), findings.toString());
        assertEquals(Result.Status.OK, findings.get(0).status());
        assertEquals(Result.Status.TEMPORARILY_UNAVAILABLE, findings.get(1).status());
        assertTrue(findings.get(1).message().startsWith("cache b: configured but not open"), findings.get(1).message());
        assertTrue(findings.get(1).message().contains("'cache b cannot be opened'"), findings.get(1).message());
        assertEquals(1, CacheDeviceCheck.assess(List.of(Views.healthy("a")), Set.of()).size(),
                "an open cache the check cannot find configured (no ConfigAdmin) is still checked");
    }
}
