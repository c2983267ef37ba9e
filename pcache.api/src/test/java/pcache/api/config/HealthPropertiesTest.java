package pcache.api.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** The one parser of {@code dirty_warn_percent}. */
class HealthPropertiesTest {

    @Test
    void wholePercentagesFromZeroToHundredAndNothingElse() {
        assertEquals(0, HealthProperties.dirtyWarnPercent("0"));
        assertEquals(80, HealthProperties.dirtyWarnPercent(" 80 "));
        assertEquals(100, HealthProperties.dirtyWarnPercent("100"));
        for (String bad : new String[] {"-1", "101", "80%", "0.5", "", "eighty"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> HealthProperties.dirtyWarnPercent(bad), bad);
            assertEquals(HealthProperties.DIRTY_WARN_PERCENT_EXPECTED, e.getMessage());
        }
    }
}
