package pcache.launcher;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;
import org.osgi.service.log.LogEntry;
import org.osgi.service.log.LogLevel;
import org.osgi.service.log.LogListener;
import org.osgi.service.log.LogReaderService;
import org.osgi.util.tracker.ServiceTracker;

/**
 * Prints the OSGi Log Service's entries (Felix Log in the distribution) through
 * java.util.logging, so the one line per record on stderr also holds what other bundles log
 * there (SCR's component errors, for example). pcache's own bundles write each record to
 * java.util.logging themselves at once (the framework property
 * {@value pcache.launcher.OsgiLogBridge#ALSO_TO_SYSTEM_LOGGER}, which the launcher sets): an entry
 * that repeats one of those records (same logger, same text, recently printed) is skipped here,
 * as are the framework events the Log Service records by itself ({@code Events.*}: every bundle
 * and service event). Other entries of pcache's bundles are printed: SCR logs what it has to say
 * about a component (an activate method that threw, say) as an entry of the component's bundle,
 * under the component's class name.
 */
final class OsgiLogBridge extends Handler implements LogListener {

    private static final SimpleFormatter FORMAT = new SimpleFormatter();
    /** The parent logger of pcache's records, held (java.util.logging keeps loggers weakly). */
    private static final Logger PCACHE = Logger.getLogger("pcache");

    /** The framework property pcache.io.log.Log reads (the bundles cannot share the constant). */
    static final String ALSO_TO_SYSTEM_LOGGER = "pcache.log.system_logger";
    /** The framework property of the R7 LoggerAdmin: the root logger context's level. */
    static final String ROOT_LEVEL = "org.osgi.service.log.admin.loglevel";

    /** How many of pcache's printed records are remembered for the entries that repeat them. */
    static final int REMEMBERED = 512;

    /** pcache's records printed lately, "logger\nmessage", oldest first, with their counts. */
    private final Map<String, Integer> printed = new LinkedHashMap<>();
    private int size;

    OsgiLogBridge() {
    }

    /**
     * Remembers pcache's records (java.util.logging logger {@code pcache}) and adds the listener to
     * every LogReaderService that comes; close the tracker to stop.
     */
    static ServiceTracker<LogReaderService, LogReaderService> open(BundleContext context) {
        OsgiLogBridge bridge = new OsgiLogBridge();
        bridge.setLevel(Level.ALL);
        PCACHE.addHandler(bridge);
        ServiceTracker<LogReaderService, LogReaderService> tracker = new ServiceTracker<>(context,
                LogReaderService.class, null) {
            @Override
            public LogReaderService addingService(ServiceReference<LogReaderService> reference) {
                LogReaderService reader;
                try {
                    reader = super.addingService(reference);
                } catch (IllegalStateException before) {
                    // a framework restarting by itself (which the launcher then stops) registers its
                    // log service again and tells this tracker of its context of before; Felix
                    // logged the throw as an ERROR "Error during dispatch"
                    return null;
                }
                if (reader != null) {
                    reader.addLogListener(bridge);
                }
                return reader;
            }

            @Override
            public void removedService(ServiceReference<LogReaderService> reference, LogReaderService reader) {
                try {
                    reader.removeLogListener(bridge);
                } catch (RuntimeException stopped) {
                    // the log bundle is stopping: its listeners go with it
                }
                super.removedService(reference, reader);
            }
        };
        tracker.open();
        return tracker;
    }

    /** The Log Service level (its name) of a java.util.logging level: the root context's level for a run. */
    static String osgiLevel(Level level) {
        int v = level.intValue();
        if (v == Level.OFF.intValue()) {
            return LogLevel.AUDIT.name();
        }
        return v >= Level.SEVERE.intValue() ? LogLevel.ERROR.name() : v >= Level.WARNING.intValue()
                ? LogLevel.WARN.name() : v >= Level.INFO.intValue() ? LogLevel.INFO.name()
                : v >= Level.FINE.intValue() ? LogLevel.DEBUG.name() : LogLevel.TRACE.name();
    }

    /** Whether the launcher prints an entry of {@code loggerName}: not a framework event. */
    static boolean prints(String loggerName) {
        return !(loggerName != null && loggerName.startsWith("Events."));
    }

    /** Remembers a record of pcache's (called by java.util.logging as it prints it). */
    @Override
    public void publish(LogRecord record) {
        if (record == null || record.getLoggerName() == null || !isLoggable(record)) {
            return;
        }
        String key = record.getLoggerName() + "\n" + FORMAT.formatMessage(record);
        synchronized (printed) {
            printed.merge(key, 1, Integer::sum);
            if (++size > REMEMBERED) {
                var oldest = printed.entrySet().iterator();
                var first = oldest.next();
                if (first.getValue() == 1) {
                    oldest.remove();
                } else {
                    first.setValue(first.getValue() - 1);
                }
                size--;
            }
        }
    }

    /** Whether {@code loggerName} printed {@code message} lately (and forgets one such record). */
    boolean printedAlready(String loggerName, String message) {
        String key = loggerName + "\n" + message;
        synchronized (printed) {
            Integer count = printed.get(key);
            if (count == null) {
                return false;
            }
            if (count == 1) {
                printed.remove(key);
            } else {
                printed.put(key, count - 1);
            }
            size--;
            return true;
        }
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
    }

    @Override
    public void logged(LogEntry entry) {
        Bundle bundle = entry.getBundle();
        String name = bundle == null ? null : bundle.getSymbolicName();
        if (!prints(entry.getLoggerName()) || printedAlready(entry.getLoggerName(), entry.getMessage())) {
            return;
        }
        Level level = switch (entry.getLogLevel()) {
            case AUDIT, ERROR -> Level.SEVERE;
            case WARN -> Level.WARNING;
            case INFO -> Level.INFO;
            case DEBUG -> Level.FINE;
            case TRACE -> Level.FINEST;
        };
        // a bundle's root logger (SCR logs there) is named after the bundle
        String logger = entry.getLoggerName() == null || entry.getLoggerName().equals(org.osgi.service.log.Logger.ROOT_LOGGER_NAME)
                ? (name == null ? "osgi" : name) : entry.getLoggerName();
        LogRecord record = new LogRecord(level, (name == null ? "" : "[" + name + "] ") + entry.getMessage());
        record.setLoggerName(logger);
        record.setThrown(entry.getException());
        record.setInstant(Instant.ofEpochMilli(entry.getTime()));
        Logger.getLogger(logger).log(record);
    }
}
