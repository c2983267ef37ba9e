package pcache.health.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.felix.hc.api.Result;
import org.junit.jupiter.api.Test;

import pcache.api.CacheConditions;

/** Requests waiting for space now warn; requests that waited before only count. */
class SpaceWaitCheckTest {

    @Test
    void waitingRequestsWarnWithWhatToDo() {
        FindingAssertions.ok(SpaceWaitCheck.assess(Views.healthy("c0")),
                "cache c0: no request waits for space (3 of 32 segments in use, 5 waited since the cache opened)");
        Finding waiting = SpaceWaitCheck.assess(Views.withConditions("c0", new CacheConditions(4, null, null, 0, null,
                null)));
        assertEquals(Result.Status.WARN, waiting.status());
        assertTrue(waiting.message().startsWith("cache c0: 4 request(s) waiting for free cache space (3 of 32 segments"
                + " in use, 0.0 % dirty)"), waiting.message());
        assertTrue(waiting.message().contains("pcache:stats c0"), waiting.message());
    }
}
