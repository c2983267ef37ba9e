package pcache.api.config;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * Checks the raw values of a component's configuration against the types of its Declarative
 * Services configuration type, before the component reads them through it.
 *
 * <p>Configuration Admin may hold every value as a string: Karaf's {@code etc/*.cfg} files, the
 * Web Console's forms and a Configurator resource without types all deliver {@code "true"},
 * {@code "4096"}. Service Component Runtime converts them when an accessor is called, and its
 * conversions are no check: a boolean that is not {@code true} becomes {@code false} without a
 * word ({@code data_crc = yes} formats a cache without data CRCs, {@code read_only = on} opens a
 * writable disk), and a number it cannot parse fails the call with a
 * {@code NumberFormatException} that names neither the key nor the component. These problems name
 * the key, the value and what it takes.
 */
public final class TypedProperties {

    private TypedProperties() {
    }

    /**
     * The problems of {@code properties} against the {@code boolean}, {@code int} and
     * {@code long} elements of {@code configType}, one per key, in the order of the keys'
     * names; empty when every value converts to what it says. Values of other elements, and
     * keys the type does not name, are not looked at.
     *
     * @param configType a component property type (an annotation type)
     */
    public static List<String> problems(Class<?> configType, Map<String, ?> properties) {
        return problems(configType, properties, List.of());
    }

    /**
     * As {@link #problems(Class, Map)}, leaving out the keys of {@code readElsewhere}: those the
     * component reads from the raw properties with rules of its own (trimming, say), not through
     * the type.
     */
    public static List<String> problems(Class<?> configType, Map<String, ?> properties,
            java.util.Collection<String> readElsewhere) {
        List<String> problems = new ArrayList<>();
        Method[] elements = configType.getDeclaredMethods();
        Arrays.sort(elements, Comparator.comparing(Method::getName));
        for (Method element : elements) {
            if (element.getParameterCount() != 0) {
                continue;
            }
            String key = propertyName(element.getName());
            if (readElsewhere.contains(key)) {
                continue;
            }
            Object value = scalar(properties.get(key));
            Class<?> type = element.getReturnType();
            String problem = null;
            if (type == boolean.class) {
                problem = booleanProblem(value);
            } else if (type == int.class) {
                problem = integerProblem(value, Integer.MIN_VALUE, Integer.MAX_VALUE);
            } else if (type == long.class) {
                problem = integerProblem(value, Long.MIN_VALUE, Long.MAX_VALUE);
            }
            if (problem != null) {
                problems.add(key + " = '" + value + "': " + problem);
            }
        }
        return problems;
    }

    /**
     * The property name of an element of a component property type, by the rules of
     * Declarative Services 1.4 (112.8.2.1): {@code $$} is {@code $}, a lone {@code $} goes,
     * {@code $_$} is {@code -}, {@code __} is {@code _} and a lone {@code _} is a dot.
     */
    static String propertyName(String element) {
        StringBuilder name = new StringBuilder(element.length());
        for (int i = 0; i < element.length(); i++) {
            char c = element.charAt(i);
            if (c == '$') {
                if (element.startsWith("$_$", i)) {
                    name.append('-');
                    i += 2;
                } else if (element.startsWith("$$", i)) {
                    name.append('$');
                    i++;
                }
            } else if (c == '_') {
                if (element.startsWith("__", i)) {
                    name.append('_');
                    i++;
                } else {
                    name.append('.');
                }
            } else {
                name.append(c);
            }
        }
        return name.toString();
    }

    /** What SCR converts for a scalar element: an array's or a collection's first element. */
    private static Object scalar(Object value) {
        if (value != null && value.getClass().isArray()) {
            return java.lang.reflect.Array.getLength(value) == 0 ? null : java.lang.reflect.Array.get(value, 0);
        }
        if (value instanceof java.util.Collection<?> c) {
            return c.isEmpty() ? null : c.iterator().next();
        }
        return value;
    }

    private static String booleanProblem(Object value) {
        if (value == null || value instanceof Boolean) {
            return null;
        }
        if (value instanceof String s && (s.equalsIgnoreCase("true") || s.equalsIgnoreCase("false"))) {
            return null;
        }
        if (value instanceof String s && (s.trim().equalsIgnoreCase("true") || s.trim().equalsIgnoreCase("false"))) {
            return "spaces around " + s.trim() + " (they would make it read as false)";
        }
        return "not " + ConfigValues.BOOLEAN_EXPECTED + " (any other text would be taken as false)";
    }

    private static String integerProblem(Object value, long min, long max) {
        if (value == null) {
            return null;
        }
        String what = "a whole number (written without a unit: the key's name says which)";
        if (value instanceof Byte || value instanceof Short || value instanceof Integer || value instanceof Long) {
            long v = ((Number) value).longValue();
            return v < min || v > max ? "out of range for this key" : null;
        }
        if (value instanceof Number n) { // Double, Float, BigDecimal, BigInteger: whole ones only
            java.math.BigDecimal d;
            try {
                d = new java.math.BigDecimal(n.toString());
            } catch (NumberFormatException e) {
                return "not " + what; // NaN, infinity
            }
            if (d.signum() != 0 && d.stripTrailingZeros().scale() > 0) {
                return "not " + what + " (a fraction would be cut off)";
            }
            return d.compareTo(java.math.BigDecimal.valueOf(min)) < 0 || d.compareTo(java.math.BigDecimal.valueOf(max)) > 0
                    ? "out of range for this key" : null;
        }
        if (value instanceof String s) {
            try {
                long v = Long.parseLong(s);
                return v < min || v > max ? "out of range for this key" : null;
            } catch (NumberFormatException e) {
                return "not " + what;
            }
        }
        return "not " + what + " (a " + value.getClass().getSimpleName() + ")";
    }
}
