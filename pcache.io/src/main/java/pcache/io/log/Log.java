package pcache.io.log;

import java.util.Objects;
import java.util.ResourceBundle;
import java.util.function.Supplier;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.FrameworkUtil;
import org.osgi.service.log.Logger;
import org.osgi.service.log.LoggerFactory;
import org.osgi.util.tracker.ServiceTracker;

/**
 * A {@link System.Logger} for a class of a pcache bundle that writes to the OSGi Log Service: the
 * R7 {@link LoggerFactory} registered in the framework the bundle runs in (Felix Log in pcache's
 * own runtime, Pax Logging in Karaf, Equinox's own), as a logger of that bundle named after the
 * class, so its level comes from the runtime's {@code LoggerAdmin} configuration.
 *
 * <p>It writes to {@code System.getLogger} (java.util.logging unless configured otherwise)
 * instead while no {@code LoggerFactory} is there (outside OSGi, in unit tests, before the log
 * bundle starts or after it stopped), and in addition when the framework property
 * {@value #ALSO_TO_SYSTEM_LOGGER} is {@code true}: pcache's launcher sets it, so its one line per
 * record on stderr appears at once and in order, as before.
 */
public final class Log implements System.Logger {

    /** Framework property: also write every record to {@code System.getLogger} (the launcher sets it). */
    public static final String ALSO_TO_SYSTEM_LOGGER = "pcache.log.system_logger";

    private final String name;
    private final Class<?> owner;
    private final System.Logger system;
    /** The bundle context the tracker below belongs to; a restarted bundle has a new one. */
    private volatile BundleContext context;
    private volatile ServiceTracker<LoggerFactory, LoggerFactory> factories;
    private volatile boolean alsoToSystem;

    private Log(Class<?> owner) {
        this.owner = Objects.requireNonNull(owner, "owner");
        this.name = owner.getName();
        this.system = System.getLogger(name);
    }

    /** The logger of {@code owner}'s class, named after it. */
    public static System.Logger of(Class<?> owner) {
        return new Log(owner);
    }

    @Override
    public String getName() {
        return name;
    }

    @Override
    public boolean isLoggable(Level level) {
        Logger osgi = osgiLogger();
        if (osgi == null) {
            return system.isLoggable(level);
        }
        return enabled(osgi, level) || alsoToSystem && system.isLoggable(level);
    }

    @Override
    public void log(Level level, ResourceBundle bundle, String msg, Throwable thrown) {
        Logger osgi = osgiLogger();
        if (osgi == null || alsoToSystem) {
            system.log(level, bundle, msg, thrown);
        }
        if (osgi != null && enabled(osgi, level)) {
            write(osgi, level, msg, thrown);
        }
    }

    @Override
    public void log(Level level, ResourceBundle bundle, String format, Object... params) {
        Logger osgi = osgiLogger();
        if (osgi == null || alsoToSystem) {
            system.log(level, bundle, format, params);
        }
        if (osgi != null && enabled(osgi, level)) {
            write(osgi, level, params == null || params.length == 0 ? format
                    : java.text.MessageFormat.format(format, params), null);
        }
    }

    @Override
    public void log(Level level, Supplier<String> msgSupplier) {
        Logger osgi = osgiLogger();
        boolean toOsgi = osgi != null && enabled(osgi, level);
        boolean toSystem = (osgi == null || alsoToSystem) && system.isLoggable(level);
        if (toOsgi || toSystem) {
            String msg = msgSupplier.get();
            if (toSystem) {
                system.log(level, msg);
            }
            if (toOsgi) {
                write(osgi, level, msg, null);
            }
        }
    }

    @Override
    public void log(Level level, Supplier<String> msgSupplier, Throwable thrown) {
        Logger osgi = osgiLogger();
        boolean toOsgi = osgi != null && enabled(osgi, level);
        boolean toSystem = (osgi == null || alsoToSystem) && system.isLoggable(level);
        if (toOsgi || toSystem) {
            String msg = msgSupplier.get();
            if (toSystem) {
                system.log(level, msg, thrown);
            }
            if (toOsgi) {
                write(osgi, level, msg, thrown);
            }
        }
    }

    /** The OSGi logger of this class's bundle, or null when there is no bundle or no LoggerFactory. */
    private Logger osgiLogger() {
        BundleContext current;
        try {
            Bundle bundle = FrameworkUtil.getBundle(owner);
            current = bundle == null ? null : bundle.getBundleContext();
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
        alsoToSystem = Boolean.parseBoolean(current.getProperty(ALSO_TO_SYSTEM_LOGGER));
        factories = tracker;
        context = current;
        return tracker;
    }

    private static boolean enabled(Logger osgi, Level level) {
        return switch (level) {
            case ALL, TRACE -> osgi.isTraceEnabled();
            case DEBUG -> osgi.isDebugEnabled();
            case INFO -> osgi.isInfoEnabled();
            case WARNING -> osgi.isWarnEnabled();
            case ERROR -> osgi.isErrorEnabled();
            case OFF -> false;
        };
    }

    static void write(Logger osgi, Level level, String msg, Throwable thrown) {
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
