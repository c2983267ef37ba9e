package pcache.api.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;

class ConfigValuesTest {

    @ParameterizedTest
    @CsvSource({
        "4096, 4096",
        "512B, 512",
        "1K, 1024",
        "1k, 1024",
        "1KiB, 1024",
        "2M, 2097152",
        "1G, 1073741824",
        "1GB, 1073741824",
        "' 4 G ', 4294967296",
        "1T, 1099511627776",
        "8388607T, 9223370937343148032"})
    void sizes(String text, long bytes) {
        assertEquals(bytes, ConfigValues.sizeBytes(text));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "0", "0G", "-1G", "1.5G", "1P", "G", "1 GiBs", "8388608T", "99999999999999999999"})
    void badSizes(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ConfigValues.sizeBytes(text));
        assertTrue(e.getMessage().startsWith(ConfigValues.SIZE_EXPECTED), e.getMessage());
    }

    @Property
    void everyUnitMultipleParses(@ForAll @LongRange(min = 1, max = 1L << 20) long n) {
        assertEquals(n << 10, ConfigValues.sizeBytes(n + "K"));
        assertEquals(n << 20, ConfigValues.sizeBytes(n + "M"));
        assertEquals(n << 30, ConfigValues.sizeBytes(n + "G"));
        assertEquals(n << 40, ConfigValues.sizeBytes(n + "T"));
    }

    @ParameterizedTest
    @CsvSource({"30s, 30000", "30, 30000", "500ms, 500", "2m, 120000", "1h, 3600000", "0, 0", "' 5 S ', 5000"})
    void durations(String text, long millis) {
        assertEquals(Duration.ofMillis(millis), ConfigValues.duration(text));
    }

    @ParameterizedTest
    // the last one fits a Duration but not in milliseconds, which is how every user takes it
    @ValueSource(strings = {"", "-1s", "1d", "1.5s", "s", "99999999999999999999h", "10000000000000000"})
    void badDurations(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ConfigValues.duration(text));
        assertTrue(e.getMessage().startsWith(ConfigValues.DURATION_EXPECTED), e.getMessage());
    }

    @ParameterizedTest
    @CsvSource({"true, true", "TRUE, true", "false, false", "' False ', false"})
    void booleans(String text, boolean value) {
        assertEquals(value, ConfigValues.bool(text));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "yes", "1", "on"})
    void badBooleans(String text) {
        assertThrows(IllegalArgumentException.class, () -> ConfigValues.bool(text));
    }

    /** The cases the shell's own size parser had, before there was one parser. */
    @ParameterizedTest
    @CsvSource({"512M, 536870912", "1gib, 1073741824", "2 K, 2048", "3TB, 3298534883328", "100B, 100"})
    void sizesAsTheShellTookThem(String text, long bytes) {
        assertEquals(bytes, ConfigValues.sizeBytes(text));
    }

    @ParameterizedTest
    @ValueSource(strings = {"-1", "12X", "9999999999T"})
    void badSizesAsTheShellRefusedThem(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ConfigValues.sizeBytes(text));
        assertTrue(e.getMessage().startsWith(ConfigValues.SIZE_EXPECTED), e.getMessage());
    }

    @ParameterizedTest
    @CsvSource({"0, 0", "90, 90", "' 70 ', 70"})
    void gcPercents(String text, int percent) {
        assertEquals(percent, ConfigValues.gcPercent(text));
    }

    @ParameterizedTest
    @ValueSource(strings = {"-1", "91", "half", ""})
    void badGcPercents(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ConfigValues.gcPercent(text));
        assertEquals("an integer from 0 to 90", e.getMessage());
    }
}
