package pcache.shell.internal;

import java.util.List;

/**
 * Every {@code pcache:} command: its name, synopsis and help. The single list the shell's
 * usage texts come from; adding a command means adding a constant here, a method of the same
 * name in {@link PcacheCommands} and the name in its {@code @GogoCommand} function list (a unit
 * test checks that the three agree).
 */
public enum CommandSpec {

    VERSION("version", "", 0, 0,
            "Shows the versions of the pcache shell bundle, of Java and of the OSGi framework."),
    LIST("list", "", 0, 0,
            "Lists the caches (name, size, mode, clean or dirty, backing device), the backing devices "
                    + "(name, driver, state, size, identity) and the pmem and CRC providers present.");

    /** The Gogo scope of every pcache command. */
    public static final String SCOPE = "pcache";

    private final String function;
    private final String parameters;
    private final int minArguments;
    private final int maxArguments;
    private final String description;

    CommandSpec(String function, String parameters, int minArguments, int maxArguments, String description) {
        this.function = function;
        this.parameters = parameters;
        this.minArguments = minArguments;
        this.maxArguments = maxArguments;
        this.description = description;
    }

    /** The Gogo function name, e.g. {@code list}. */
    public String function() {
        return function;
    }

    /** {@code pcache:list [-h]} plus the positional parameters. */
    public String synopsis() {
        return SCOPE + ":" + function + " [-h]" + (parameters.isEmpty() ? "" : " " + parameters);
    }

    /** The text of {@code -h}/{@code --help}. */
    public String help() {
        return "usage: " + synopsis() + "\n" + wrap(description, "  ", 78) + "  -h, --help  show this help";
    }

    private static String wrap(String text, String indent, int width) {
        StringBuilder out = new StringBuilder();
        StringBuilder line = new StringBuilder(indent);
        for (String word : text.split(" ")) {
            if (line.length() > indent.length() && line.length() + 1 + word.length() > width) {
                out.append(line).append('\n');
                line = new StringBuilder(indent);
            }
            line.append(line.length() > indent.length() ? " " : "").append(word);
        }
        return out.append(line).append('\n').toString();
    }

    /**
     * Checks {@code args}: either a help request, or as many positional arguments as the
     * command takes.
     *
     * @return the positional arguments, or empty-handed {@link Parsed#help()} when help was asked for
     * @throws IllegalArgumentException saying what was expected
     */
    public Parsed parse(String... args) {
        List<String> list = args == null ? List.of() : List.of(args);
        if (list.contains("-h") || list.contains("--help")) {
            return new Parsed(true, List.of());
        }
        for (String a : list) {
            if (a.startsWith("-") && a.length() > 1 && !a.matches("-\\d.*")) {
                throw new IllegalArgumentException("unknown option '" + a + "'; usage: " + synopsis());
            }
        }
        if (list.size() < minArguments || list.size() > maxArguments) {
            String expected = maxArguments == 0 ? "no arguments"
                    : minArguments == maxArguments ? minArguments + " argument(s)"
                    : minArguments + " to " + maxArguments + " arguments";
            throw new IllegalArgumentException(SCOPE + ":" + function + " takes " + expected + ", got "
                    + (list.isEmpty() ? "none" : "'" + String.join(" ", list) + "'") + "; usage: " + synopsis());
        }
        return new Parsed(false, list);
    }

    /**
     * A checked command line.
     *
     * @param help whether help was asked for
     * @param arguments the positional arguments
     */
    public record Parsed(boolean help, List<String> arguments) {
    }
}
