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

    OsgiSink(Class<?> owner) {
        this.owner = owner;
        this.name = owner.getName();
    }

    /** Whether records also go to the system logger (framework property {@value Log#ALSO_TO_SYSTEM_LOGGER}). */
    boolean alsoToSystem() {
        return alsoToSystem;
    }

    /** Whether there is an OSGi Logger now, i.e. a bundle context and a LoggerFactory. */
    boolean present() {
        return logger() != null;
    }

    /** Whether the OSGi Logger is there and takes {@code level}. */
    boolean enabled(System.Logger.Level level) {
        Logger osgi = logger();
        return osgi != null && enabled(osgi, level);
    }

    /** Writes to the OSGi Logger if it is there and takes {@code level}. */
    void write(System.Logger.Level level, String msg, Throwable thrown) {
        Logger osgi = logger();
        if (osgi != null && enabled(osgi, level)) {
            write(osgi, level, msg, thrown);
        }
    }

    /** The OSGi logger of the owner's bundle, or null when there is no bundle or no LoggerFactory. */
    private Logger logger() {
        try {
            Bundle bundle = FrameworkUtil.getBundle(owner);
            BundleContext current = bundle == null ? null : bundle.getBundleContext();
            if (current == null) {
                return null;
            }
            ServiceTracker<LoggerFactory, LoggerFactory> tracker = factories;
            if (current != context || tracker == null) {
                tracker = track(current);
            }
            LoggerFactory factory = tracker.getService();
            return factory == null ? null : factory.getLogger(current.getBundle(), name, Logger.class);
        } catch (IllegalStateException stopping) {
            return null; // the bundle or the factory is going away: the system logger takes the record
        }
    }

    private synchronized ServiceTracker<LoggerFactory, LoggerFactory> track(BundleContext current) {
        if (current == context && factories != null) {
            return factories;
        }
        ServiceTracker<LoggerFactory, LoggerFactory> tracker = new ServiceTracker<>(current, LoggerFactory.class, null);
        tracker.open();
        alsoToSystem = Boolean.parseBoolean(current.getProperty(Log.ALSO_TO_SYSTEM_LOGGER));
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
