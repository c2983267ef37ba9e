package pcache.api.config;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

/** The raw values of a configuration against the types of its component property type. */
class TypedPropertiesTest {

    @interface Sample {
        boolean read__only() default false;

        int max__connections() default 1;

        long size__bytes() default 0;

        String path() default "";

        long backing_timeout() default 0;
    }

    @Test
    void elementNamesMapToPropertyNamesAsDeclarativeServicesDoes() {
        assertEquals("size_bytes", TypedProperties.propertyName("size__bytes"));
        assertEquals("backing.target", TypedProperties.propertyName("backing_target"));
        assertEquals("a-b", TypedProperties.propertyName("a$_$b"));
        assertEquals("a$b", TypedProperties.propertyName("a$$b"));
        assertEquals("ab", TypedProperties.propertyName("a$b"));
    }

    @Test
    void valuesThatConvertToTheirTypePass() {
        assertEquals(List.of(), TypedProperties.problems(Sample.class, Map.of(
                "read_only", "TRUE", "max_connections", "12", "size_bytes", 4096L, "path", "x",
                "backing.timeout", "-1")));
        assertEquals(List.of(), TypedProperties.problems(Sample.class, Map.of(
                "read_only", Boolean.FALSE, "max_connections", 3, "size_bytes", "9223372036854775807")));
        assertEquals(List.of(), TypedProperties.problems(Sample.class, Map.of()), "absent keys take defaults");
    }

    @Test
    void everyValueSomethingElseWouldBeReadAsIsNamedWithItsKey() {
        assertEquals(List.of(
                "backing.timeout = '30s': not a whole number (written without a unit: the key's name says which)",
                "max_connections = '4294967296': out of range for this key",
                "read_only = 'yes': not true or false (any other text would be taken as false)",
                "size_bytes = '4G': not a whole number (written without a unit: the key's name says which)"),
                TypedProperties.problems(Sample.class, Map.of("read_only", "yes", "max_connections", "4294967296",
                        "size_bytes", "4G", "path", "any", "backing.timeout", "30s")));
        assertEquals(List.of("max_connections = '1.5': not a whole number (written without a unit: the key's name"
                + " says which) (a fraction would be cut off)", "read_only = ' true': spaces around true (they would"
                + " make it read as false)"), TypedProperties.problems(Sample.class, Map.of("max_connections", 1.5,
                        "read_only", " true")));
    }

    /** What SCR converts without loss passes: whole numbers of any type, an array's first element. */
    @Test
    void valuesScrConvertsWithoutLossPass() {
        assertEquals(List.of(), TypedProperties.problems(Sample.class, Map.of("max_connections", 50.0,
                "size_bytes", new java.math.BigInteger("4096"), "read_only", new String[] {"true"},
                "backing.timeout", List.of(7L))));
        assertEquals(List.of("size_bytes = '4G': not a whole number (written without a unit: the key's name says"
                + " which)"), TypedProperties.problems(Sample.class, Map.of("size_bytes", List.of("4G"))));
    }

    /** Keys the component reads from the raw properties by rules of its own are left to it. */
    @Test
    void keysReadElsewhereAreLeftOut() {
        assertEquals(List.of(), TypedProperties.problems(Sample.class, Map.of("read_only", "true "),
                List.of("read_only")));
    }
}
