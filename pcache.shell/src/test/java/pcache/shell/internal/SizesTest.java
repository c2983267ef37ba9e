package pcache.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class SizesTest {

    @ParameterizedTest
    @CsvSource({
        "0, 0 B",
        "1023, 1023 B",
        "1024, 1 KiB",
        "1536, 1.5 KiB",
        "1073741824, 1 GiB",
        "4294967296, 4 GiB",
        "1610612736, 1.5 GiB",
        "1099511627776, 1 TiB",
        "9223372036854775807, 8.0 EiB"})
    void human(long bytes, String expected) {
        assertEquals(expected, Sizes.human(bytes));
    }

    @ParameterizedTest
    @CsvSource({"4096, 4096", "512M, 536870912", "1G, 1073741824", "1gib, 1073741824", "2 K, 2048", "3TB, 3298534883328",
        "100B, 100"})
    void parse(String text, long expected) {
        assertEquals(expected, Sizes.parse(text));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "0", "1.5G", "-1", "12X", "99999999999999999999", "9999999999T"})
    void parseRefusesWithWhatItExpects(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sizes.parse(text));
        assertTrue(e.getMessage().startsWith(Sizes.EXPECTED), e.getMessage());
    }
}
