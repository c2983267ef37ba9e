package pcache.launcher;

import java.util.Locale;
import java.util.Map;
import java.util.logging.ConsoleHandler;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.Logger;

/**
 * Configures java.util.logging for the whole process (the bundles log through
 * {@code System.getLogger}, which ends up here): one line per record on stderr, at the level of
 * {@code log.level}, raised by {@code -v}. Left alone when the user points
 * {@code java.util.logging.config.file} at a configuration of their own.
 */
public final class LogSetup {

    /** Accepted level names: System.Logger's and java.util.logging's. */
    private static final Map<String, Level> LEVELS = Map.ofEntries(
            Map.entry("OFF", Level.OFF),
            Map.entry("ERROR", Level.SEVERE), Map.entry("SEVERE", Level.SEVERE),
            Map.entry("WARNING", Level.WARNING), Map.entry("WARN", Level.WARNING),
            Map.entry("INFO", Level.INFO), Map.entry("CONFIG", Level.CONFIG),
            Map.entry("DEBUG", Level.FINE), Map.entry("FINE", Level.FINE),
            Map.entry("FINER", Level.FINER),
            Map.entry("TRACE", Level.FINEST), Map.entry("FINEST", Level.FINEST),
            Map.entry("ALL", Level.ALL));

    private LogSetup() {
    }

    /**
     * Parses a level name, ignoring case.
     *
     * @throws IllegalArgumentException naming the accepted names
     */
    public static Level parseLevel(String name) {
        Level level = LEVELS.get(name.trim().toUpperCase(Locale.ROOT));
        if (level == null) {
            throw new IllegalArgumentException("one of ERROR, WARNING, INFO, DEBUG, TRACE, OFF, ALL "
                    + "(or a java.util.logging level name)");
        }
        return level;
    }

    /** The configured level, made more verbose by each {@code -v}: INFO, then DEBUG, then TRACE. */
    public static Level effectiveLevel(Level configured, int verbosity) {
        Level fromFlags = switch (Math.min(verbosity, 3)) {
            case 0 -> Level.OFF;
            case 1 -> Level.INFO;
            case 2 -> Level.FINE;
            default -> Level.FINEST;
        };
        return fromFlags.intValue() < configured.intValue() ? fromFlags : configured;
    }

    /** Installs the one-line stderr handler on the root logger at {@code level}. */
    public static void configure(Level level) {
        if (System.getProperty("java.util.logging.config.file") != null
                || System.getProperty("java.util.logging.config.class") != null) {
            return;
        }
        LogManager.getLogManager().reset();
        Logger root = Logger.getLogger("");
        Handler handler = new ConsoleHandler(); // stderr
        handler.setFormatter(new OneLineFormatter());
        handler.setLevel(Level.ALL);
        root.addHandler(handler);
        root.setLevel(level);
    }

    /** The Felix framework's log level (1 error .. 4 debug) for a java.util.logging level. */
    public static int felixLevel(Level level) {
        int v = level.intValue();
        return v >= Level.SEVERE.intValue() ? 1 : v >= Level.WARNING.intValue() ? 2 : v >= Level.INFO.intValue() ? 3 : 4;
    }

    /** Felix SCR's {@code ds.loglevel} for a java.util.logging level. */
    public static String scrLevel(Level level) {
        return switch (felixLevel(level)) {
            case 1 -> "error";
            case 2 -> "warn";
            case 3 -> "info";
            default -> "debug";
        };
    }
}
