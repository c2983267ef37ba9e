package pcache.bench.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;

import org.junit.jupiter.api.Test;

class SpreadTest {

    @Test
    void oddCountTakesTheMiddleValue() {
        Spread s = Spread.of(List.of(3.0, 1.0, 2.0));
        assertEquals(2.0, s.median());
        assertEquals(1.0, s.min());
        assertEquals(3.0, s.max());
        assertEquals(3, s.count());
    }

    @Test
    void evenCountTakesTheMeanOfTheMiddleTwo() {
        Spread s = Spread.of(List.of(4.0, 1.0, 10.0, 2.0));
        assertEquals(3.0, s.median());
        assertEquals(1.0, s.min());
        assertEquals(10.0, s.max());
    }

    @Test
    void oneValue() {
        Spread s = Spread.of(List.of(0.5));
        assertEquals(0.5, s.median());
        assertEquals("0.50×", s.ratio());
    }

    @Test
    void ratioShowsTheRange() {
        assertEquals("1.05× (0.90–1.20×)", Spread.of(List.of(1.2, 0.9, 1.05)).ratio());
    }

    @Test
    void noValuesIsAnError() {
        assertThrows(IllegalArgumentException.class, () -> Spread.of(List.of()));
    }
}
