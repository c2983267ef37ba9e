package pcache.health.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.apache.felix.hc.api.Result;
import org.junit.jupiter.api.Test;

import pcache.api.CacheConditions;

/** Write-back or GC errors: critical while the latest attempt failed, counted only once they succeed again. */
class WritebackGcCheckTest {

    @Test
    void pastErrorsFollowedBySuccessPass() {
        List<Finding> f = WritebackGcCheck.assess(Views.withConditions("c0", new CacheConditions(0, null, null, 3, null,
                null)));
        assertEquals(1, f.size());
        FindingAssertions.ok(f.get(0), "cache c0: write-back and GC work (2 failed write-back attempts and 3 failed"
                + " GC passes since the cache opened, retried successfully)");
        FindingAssertions.ok(WritebackGcCheck.assess(Views.healthy("c1")).get(0), "cache c1: write-back and GC work");
    }

    @Test
    void eachCurrentFailureIsCriticalWithItsReason() {
        List<Finding> f = WritebackGcCheck.assess(Views.withConditions("c0", new CacheConditions(0, null,
                "EIO writing 4096 bytes at 0", 1, "segment 3: bad generation", "kset at 0:8192 has a bad CRC")));
        assertEquals(3, f.size(), f.toString());
        f.forEach(x -> assertEquals(Result.Status.CRITICAL, x.status(), x.message()));
        assertTrue(f.get(0).message().startsWith("cache c0: write-back fails (EIO writing 4096 bytes at 0)"),
                f.get(0).message());
        assertTrue(f.get(0).message().contains("Check the backing device (" + Views.BACKING + ")"), f.get(0).message());
        assertTrue(f.get(1).message().startsWith("cache c0: GC fails (segment 3: bad generation; 1 failed passes"),
                f.get(1).message());
        assertTrue(f.get(2).message().startsWith("cache c0: the key log is damaged (kset at 0:8192 has a bad CRC)"),
                f.get(2).message());
        assertTrue(f.get(2).message().contains("pcache:fsck"), f.get(2).message());
    }
}
