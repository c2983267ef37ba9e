package pcache.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

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
}
