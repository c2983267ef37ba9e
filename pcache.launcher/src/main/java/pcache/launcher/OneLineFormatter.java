package pcache.launcher;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.logging.Formatter;
import java.util.logging.Level;
import java.util.logging.LogRecord;

/**
 * {@code 2026-01-01 12:00:00.123 WARNING pcache.engine.Foo: message}: one line per record, with
 * the level in System.Logger's words. An exception is summarised on the same line (with its
 * causes); the stack trace follows only when the record's logger is at DEBUG or finer.
 */
public final class OneLineFormatter extends Formatter {

    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS").withZone(ZoneId.systemDefault());

    @Override
    public String format(LogRecord record) {
        StringBuilder line = new StringBuilder(128);
        line.append(TIME.format(record.getInstant())).append(' ')
                .append(levelName(record.getLevel())).append(' ')
                .append(record.getLoggerName() == null ? "-" : record.getLoggerName()).append(": ")
                .append(oneLine(formatMessage(record)));
        Throwable thrown = record.getThrown();
        if (thrown != null) {
            line.append(" [");
            for (Throwable t = thrown; t != null; t = t.getCause() == t ? null : t.getCause()) {
                line.append(t == thrown ? "" : "; caused by ").append(oneLine(t.toString()));
            }
            line.append(']');
        }
        line.append(System.lineSeparator());
        if (thrown != null && isDebug(record.getLoggerName())) {
            StringWriter trace = new StringWriter();
            thrown.printStackTrace(new PrintWriter(trace));
            line.append(trace);
        }
        return line.toString();
    }

    /** The System.Logger name of a java.util.logging level. */
    static String levelName(Level level) {
        int v = level.intValue();
        if (v >= Level.SEVERE.intValue()) {
            return "ERROR";
        }
        if (v >= Level.WARNING.intValue()) {
            return "WARNING";
        }
        if (v >= Level.INFO.intValue()) {
            return "INFO";
        }
        return v >= Level.FINE.intValue() ? "DEBUG" : "TRACE";
    }

    private static String oneLine(String s) {
        return s == null ? "null" : s.replace("\r\n", " | ").replace('\n', ' ').replace('\r', ' ');
    }

    private static boolean isDebug(String loggerName) {
        java.util.logging.Logger logger = java.util.logging.Logger.getLogger(loggerName == null ? "" : loggerName);
        return logger.isLoggable(Level.FINE);
    }
}
