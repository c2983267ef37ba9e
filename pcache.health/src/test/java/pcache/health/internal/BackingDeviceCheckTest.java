package pcache.health.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.apache.felix.hc.api.Result;
import org.apache.felix.hc.api.ResultLog;
import org.junit.jupiter.api.Test;

import pcache.api.BackingState;

/** Backing device reachable: online passes, every other state is critical with what to do. */
class BackingDeviceCheckTest {

    @Test
    void onlinePassesAndEveryOtherStateIsCriticalNamingTheCacheTheDeviceAndWhatToDo() {
        Finding ok = BackingDeviceCheck.assess(Views.healthy("c0"));
        assertEquals(Result.Status.OK, ok.status());
        assertEquals("cache c0: backing device " + Views.BACKING + " online", ok.message());

        Finding reconnecting = BackingDeviceCheck.assess(Views.withState("c0", BackingState.RECONNECTING));
        assertEquals(Result.Status.CRITICAL, reconnecting.status());
        assertTrue(reconnecting.message().startsWith("cache c0: backing device " + Views.BACKING
                + " unreachable, reconnecting"), reconnecting.message());
        assertTrue(reconnecting.message().contains("pcache reconnects on its own"), reconnecting.message());

        Finding none = BackingDeviceCheck.assess(Views.withState("c0", BackingState.UNAVAILABLE));
        assertEquals(Result.Status.CRITICAL, none.status());
        assertTrue(none.message().startsWith("cache c0: no backing device bound"), none.message());

        Finding failing = BackingDeviceCheck.assess(Views.withState("c0", BackingState.FAILING));
        assertEquals(Result.Status.CRITICAL, failing.status());
        assertTrue(failing.message().contains("fails its I/O (7 failed operations"), failing.message());
    }

    @Test
    void theResultIsTheWorstOfTheCachesAndLeavesOutAClosingCache() {
        BackingDeviceCheck check = new BackingDeviceCheck();
        check.caches = List.of(Views.device(Views.healthy("a"), false),
                Views.device(Views.withState("b", BackingState.RECONNECTING), false),
                Views.device(Views.healthy("closing"), true));
        Result r = check.execute();
        assertEquals(Result.Status.CRITICAL, r.getStatus());
        List<String> messages = new ArrayList<>();
        for (ResultLog.Entry e : r) {
            messages.add(e.getStatus() + " " + e.getMessage());
        }
        assertEquals(2, messages.size(), messages.toString());
        assertTrue(messages.get(0).startsWith("OK cache a: "), messages.toString());
        assertTrue(messages.get(1).startsWith("CRITICAL cache b: "), messages.toString());
    }

    @Test
    void withoutCachesItPassesSayingSo() {
        BackingDeviceCheck check = new BackingDeviceCheck();
        Result r = check.execute();
        assertEquals(Result.Status.OK, r.getStatus());
        assertEquals("no open cache", r.iterator().next().getMessage());
    }
}
