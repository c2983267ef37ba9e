package pcache.launcher;

import java.util.List;

/**
 * The configuration is wrong. Carries every problem found, each naming the key, the value and
 * what was expected, so that one run shows all of them.
 */
public class ConfigException extends Exception {
    private static final long serialVersionUID = 1L;

    private final List<String> problems;

    public ConfigException(List<String> problems) {
        super(String.join("\n", problems));
        if (problems.isEmpty()) {
            throw new IllegalArgumentException("a configuration error needs at least one problem");
        }
        this.problems = List.copyOf(problems);
    }

    public ConfigException(String problem) {
        this(List.of(problem));
    }

    /** A problem with one key: {@code key=value: expected ...}. */
    public static String problem(String key, String value, String expected) {
        return key + "=" + value + ": expected " + expected;
    }

    /** Every problem, one sentence each. */
    public List<String> problems() {
        return problems;
    }
}
