package pcache.health.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.apache.felix.hc.api.Result;

/** Assertions on findings. */
final class FindingAssertions {

    private FindingAssertions() {
    }

    static void ok(Finding f, String message) {
        assertEquals(Result.Status.OK, f.status(), f.message());
        assertEquals(message, f.message());
    }
}
