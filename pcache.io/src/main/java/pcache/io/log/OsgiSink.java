package pcache.io.log;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.FrameworkUtil;
import org.osgi.service.log.Logger;
import org.osgi.service.log.LoggerFactory;
import org.osgi.util.tracker.ServiceTracker;

/**
 * The OSGi side of {@link Log}: the R7 Logger of a class's bundle, through the bundle's
 * {@link LoggerFactory}. Its methods take and return JDK types only, and {@link Log} creates it
 * only when the OSGi classes are there: a pcache bundle's classes also run outside OSGi (unit
 * tests, the benchmarks), where these classes are missing.
 */
final class OsgiSink {

    private final Class<?> owner;
    private final String name;
    /** The bundle context the tracker below belongs to; a restarted bundle has a new one. */
    private volatile BundleContext context;
    private volatile ServiceTracker<LoggerFactory, LoggerFactory> factories;
    private volatile boolean alsoToSystem;
    /** The logger {@link #current()} found, and the tracker's count of changes when it did. */
    private volatile Logger logger;
    private volatile int loggerTrackingCount = -1;

    OsgiSink(Class<?> owner) {
        this.owner = owner;
        this.name = owner.getName();
    }

    /** Whether records also go to the system logger (framework property {@value Log#ALSO_TO_SYSTEM_LOGGER}). */
    boolean alsoToSystem() {
        return alsoToSystem;
    }

    /**
     * The OSGi Logger of the owner's bundle now, or null when there is no bundle context or no
     * LoggerFactory; typed {@code Object} so that {@link Log} names no OSGi type. One lookup per
     * record: the logger is kept until the bundle context or the tracked factories change.
     */
    Object current() {
        try {
            Bundle bundle = FrameworkUtil.getBundle(owner);
            BundleContext now = bundle == null ? null : bundle.getBundleContext();
            if (now == null) {
                return null;
            }
            ServiceTracker<LoggerFactory, LoggerFactory> tracker = factories;
            if (now != context || tracker == null) {
                tracker = track(now);
            }
            int count = tracker.getTrackingCount();
            Logger kept = logger;
            if (kept != null && count == loggerTrackingCount) {
                return kept;
            }
            LoggerFactory factory = tracker.getService();
            kept = factory == null ? null : factory.getLogger(now.getBundle(), name, Logger.class);
            logger = kept;
            loggerTrackingCount = count;
            return kept;
        } catch (IllegalStateException stopping) {
            return null; // the bundle or the factory is going away: the system logger takes the record
        }
    }

    /** Whether {@code osgi} (from {@link #current()}) takes {@code level}. */
    static boolean enabled(Object osgi, System.Logger.Level level) {
        return enabled((Logger) osgi, level);
    }

    /** Writes to {@code osgi} (from {@link #current()}) if it takes {@code level}. */
    static void writeIfEnabled(Object osgi, System.Logger.Level level, String msg, Throwable thrown) {
        if (enabled((Logger) osgi, level)) {
            write((Logger) osgi, level, msg, thrown);
        }
    }

    private synchronized ServiceTracker<LoggerFactory, LoggerFactory> track(BundleContext current) {
        if (current == context && factories != null) {
            return factories;
        }
        ServiceTracker<LoggerFactory, LoggerFactory> tracker = new ServiceTracker<>(current, LoggerFactory.class, null);
        tracker.open();
        alsoToSystem = Boolean.parseBoolean(current.getProperty(Log.ALSO_TO_SYSTEM_LOGGER));
        logger = null;
        factories = tracker;
        context = current;
        return tracker;
    }

    private static boolean enabled(Logger osgi, System.Logger.Level level) {
        return switch (level) {
            case ALL, TRACE -> osgi.isTraceEnabled();
            case DEBUG -> osgi.isDebugEnabled();
            case INFO -> osgi.isInfoEnabled();
            case WARNING -> osgi.isWarnEnabled();
            case ERROR -> osgi.isErrorEnabled();
            case OFF -> false;
        };
    }

    static void write(Logger osgi, System.Logger.Level level, String msg, Throwable thrown) {
        // the message is a format for the OSGi Logger: a "{}" in it is escaped; a trailing
        // Throwable argument becomes the entry's exception
        String format = msg == null ? "" : msg.replace("{}", "\\{}");
        Object[] args = thrown == null ? new Object[0] : new Object[] {thrown};
        switch (level) {
            case ALL, TRACE -> osgi.trace(format, args);
            case DEBUG -> osgi.debug(format, args);
            case INFO -> osgi.info(format, args);
            case WARNING -> osgi.warn(format, args);
            case ERROR -> osgi.error(format, args);
            case OFF -> {
            }
        }
    }
}
