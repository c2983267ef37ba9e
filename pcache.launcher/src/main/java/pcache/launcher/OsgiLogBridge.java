package pcache.launcher;

import java.time.Instant;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

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
 * {@value pcache.launcher.OsgiLogBridge#ALSO_TO_SYSTEM_LOGGER}, which the launcher sets), so their
 * entries are skipped here, as are the framework events the Log Service records by itself
 * ({@code Events.*}: every bundle and service event).
 */
final class OsgiLogBridge implements LogListener {

    /** The framework property pcache.io.log.Log reads (the bundles cannot share the constant). */
    static final String ALSO_TO_SYSTEM_LOGGER = "pcache.log.system_logger";
    /** The framework property of the R7 LoggerAdmin: the root logger context's level. */
    static final String ROOT_LEVEL = "org.osgi.service.log.admin.loglevel";

    private OsgiLogBridge() {
    }

    /** Adds the listener to every LogReaderService that comes; close the tracker to stop. */
    static ServiceTracker<LogReaderService, LogReaderService> open(BundleContext context) {
        OsgiLogBridge bridge = new OsgiLogBridge();
        ServiceTracker<LogReaderService, LogReaderService> tracker = new ServiceTracker<>(context,
                LogReaderService.class, null) {
            @Override
            public LogReaderService addingService(ServiceReference<LogReaderService> reference) {
                LogReaderService reader = super.addingService(reference);
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

    /** Whether the launcher prints {@code entry}: not pcache's (printed already), not a framework event. */
    static boolean prints(String symbolicName, String loggerName) {
        return !(symbolicName != null && symbolicName.startsWith("pcache."))
                && !(loggerName != null && loggerName.startsWith("Events."));
    }

    @Override
    public void logged(LogEntry entry) {
        Bundle bundle = entry.getBundle();
        String name = bundle == null ? null : bundle.getSymbolicName();
        if (!prints(name, entry.getLoggerName())) {
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
