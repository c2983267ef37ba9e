package pcache.launcher;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The parsed command line of the launcher.
 *
 * @param mode what to do
 * @param command the Gogo command line for {@link Mode#COMMAND} and {@link Mode#CONTROL}, else empty
 * @param configFile the {@code --config} file; empty means the embedded defaults
 * @param overrides {@code -Dkey=value} arguments, in order; they override every other source
 * @param verbosity how many {@code -v} were given
 */
public record LaunchArguments(Mode mode, String command, Optional<Path> configFile,
        Map<String, String> overrides, int verbosity) {

    /** What the launcher was asked to do. */
    public enum Mode {
        /** Start and serve the interactive Gogo shell on the terminal (the default). */
        INTERACTIVE,
        /** Start, run one Gogo command ({@code -c}), stop; exit 0 on success, 1 on failure. */
        COMMAND,
        /** Start and run until SIGTERM/SIGINT ({@code --no-shell}). */
        SERVICE,
        /** Send one command to a running instance over its control socket ({@code ctl}). */
        CONTROL,
        /** Print the usage text ({@code --help}). */
        HELP
    }

    public LaunchArguments {
        overrides = Map.copyOf(overrides);
    }

    /**
     * Parses the arguments given to {@code main}.
     *
     * @throws UsageException naming the offending argument and what was expected
     */
    public static LaunchArguments parse(String... args) throws UsageException {
        Mode mode = Mode.INTERACTIVE;
        String command = "";
        Path config = null;
        Map<String, String> overrides = new LinkedHashMap<>();
        int verbosity = 0;
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            switch (arg) {
                case "-h", "--help", "-?" -> {
                    return new LaunchArguments(Mode.HELP, "", Optional.empty(), Map.of(), 0);
                }
                case "-c", "--command" -> {
                    mode = exclusive(mode, Mode.COMMAND, arg);
                    command = value(args, ++i, arg, "a Gogo command line, e.g. -c \"pcache:list\"");
                }
                case "--no-shell" -> mode = exclusive(mode, Mode.SERVICE, arg);
                case "--config" -> {
                    if (config != null) {
                        throw new UsageException("--config given twice");
                    }
                    config = Path.of(value(args, ++i, arg, "a properties file"));
                }
                case "ctl" -> {
                    mode = exclusive(mode, Mode.CONTROL, arg);
                    List<String> rest = new ArrayList<>(List.of(args).subList(i + 1, args.length));
                    if (rest.isEmpty() || String.join(" ", rest).isBlank()) {
                        throw new UsageException("ctl needs a command, e.g. ctl \"pcache:list\"");
                    }
                    command = String.join(" ", rest);
                    i = args.length;
                }
                default -> {
                    if (arg.startsWith("--config=")) {
                        if (config != null) {
                            throw new UsageException("--config given twice");
                        }
                        config = Path.of(nonEmpty(arg.substring("--config=".length()), "--config",
                                "a properties file"));
                    } else if (arg.startsWith("-D")) {
                        int eq = arg.indexOf('=');
                        if (eq <= 2) {
                            throw new UsageException("bad argument '" + arg + "': expected -Dkey=value");
                        }
                        overrides.put(arg.substring(2, eq), arg.substring(eq + 1));
                    } else if (arg.matches("-v+")) {
                        verbosity += arg.length() - 1;
                    } else if (arg.equals("--verbose")) {
                        verbosity++;
                    } else {
                        throw new UsageException("unknown argument '" + arg + "': expected -c COMMAND, "
                                + "--no-shell, --config FILE, -Dkey=value, -v, --help or ctl COMMAND");
                    }
                }
            }
        }
        return new LaunchArguments(mode, command, Optional.ofNullable(config), overrides, verbosity);
    }

    private static Mode exclusive(Mode current, Mode wanted, String arg) throws UsageException {
        if (current != Mode.INTERACTIVE && current != wanted) {
            throw new UsageException(arg + " cannot be combined with " + flagOf(current));
        }
        if (current == wanted && wanted != Mode.SERVICE) {
            throw new UsageException(arg + " given twice");
        }
        return wanted;
    }

    private static String flagOf(Mode mode) {
        return switch (mode) {
            case COMMAND -> "-c";
            case SERVICE -> "--no-shell";
            case CONTROL -> "ctl";
            default -> mode.name();
        };
    }

    private static String value(String[] args, int i, String option, String expected)
            throws UsageException {
        if (i >= args.length) {
            throw new UsageException(option + " needs " + expected);
        }
        return nonEmpty(args[i], option, expected);
    }

    private static String nonEmpty(String value, String option, String expected) throws UsageException {
        if (value.isBlank()) {
            throw new UsageException(option + " needs " + expected + ", got an empty value");
        }
        return value;
    }

    /** The text printed by {@code --help}. */
    public static String usage() {
        return """
                usage: pcache [options]                  start with the interactive Gogo shell
                       pcache [options] -c "COMMAND"     run one Gogo command, then stop
                       pcache [options] --no-shell       run as a service until SIGTERM/SIGINT
                       pcache [options] ctl "COMMAND"    run a command in the running instance

                options:
                  --config FILE     configuration file (properties); default: embedded defaults
                                    (cache pcache0 under ./data, NBD on 127.0.0.1:10809)
                  -Dkey=value       override one configuration key, e.g. -Dcache.pcache0.gc_percent=50
                  -v, -vv           more logging (INFO, DEBUG); or set log.level
                  -h, --help        this text

                Configuration sources, strongest first: -Dkey=value arguments and JVM system
                properties, environment variables PCACHE_<KEY> (see README), the --config file
                (or the embedded defaults).
                exit status: 0 success, 1 command or runtime failure, 2 bad configuration or usage
                """;
    }
}
