package pcache.io.log;

import java.util.Objects;
import java.util.ResourceBundle;
import java.util.function.Supplier;

/**
 * A {@link System.Logger} for a class of a pcache bundle that writes to the OSGi Log Service: the
 * R7 {@code LoggerFactory} registered in the framework the bundle runs in (Felix Log in pcache's
 * own runtime, Pax Logging in Karaf, Equinox's own), as a logger of that bundle named after the
 * class, so its level comes from the runtime's {@code LoggerAdmin} configuration.
 *
 * <p>It writes to {@code System.getLogger} (java.util.logging unless configured otherwise)
 * instead while no {@code LoggerFactory} is there (before the log bundle starts or after it
 * stopped) or where there is no OSGi at all (unit tests, the benchmarks: the OSGi classes are not
 * even loaded then, see {@link OsgiSink}), and in addition when the framework property
 * {@value #ALSO_TO_SYSTEM_LOGGER} is {@code true}: pcache's launcher sets it, so its one line per
 * record on stderr appears at once and in order, as before.
 */
public final class Log implements System.Logger {

    /** Framework property: also write every record to {@code System.getLogger} (the launcher sets it). */
    public static final String ALSO_TO_SYSTEM_LOGGER = "pcache.log.system_logger";

    /** Whether the OSGi framework and Log Service classes can be loaded here. */
    private static final boolean OSGI = osgiClassesPresent();

    private final String name;
    private final System.Logger system;
    /** Null outside OSGi. */
    private final OsgiSink osgi;

    private Log(Class<?> owner) {
        Objects.requireNonNull(owner, "owner");
        this.name = owner.getName();
        this.system = System.getLogger(name);
        this.osgi = OSGI ? new OsgiSink(owner) : null;
    }

    /** The logger of {@code owner}'s class, named after it. */
    public static System.Logger of(Class<?> owner) {
        return new Log(owner);
    }

    private static boolean osgiClassesPresent() {
        try {
            ClassLoader loader = Log.class.getClassLoader();
            Class.forName("org.osgi.framework.FrameworkUtil", false, loader);
            Class.forName("org.osgi.service.log.LoggerFactory", false, loader);
            Class.forName("org.osgi.util.tracker.ServiceTracker", false, loader);
            return true;
        } catch (ClassNotFoundException | LinkageError absent) {
            return false;
        }
    }

    @Override
    public String getName() {
        return name;
    }

    /** The OSGi Logger now (see {@link OsgiSink#current()}), or null. */
    private Object osgiLogger() {
        return osgi == null ? null : osgi.current();
    }

    /** Whether a record goes to the system logger: there is no OSGi Logger, or the launcher asks for both. */
    private boolean toSystem(Object osgiLogger) {
        return osgiLogger == null || osgi.alsoToSystem();
    }

    @Override
    public boolean isLoggable(Level level) {
        Object o = osgiLogger();
        return o != null && OsgiSink.enabled(o, level) || toSystem(o) && system.isLoggable(level);
    }

    @Override
    public void log(Level level, ResourceBundle bundle, String msg, Throwable thrown) {
        Object o = osgiLogger();
        if (toSystem(o)) {
            system.log(level, bundle, msg, thrown);
        }
        if (o != null) {
            OsgiSink.writeIfEnabled(o, level, msg, thrown);
        }
    }

    @Override
    public void log(Level level, ResourceBundle bundle, String format, Object... params) {
        Object o = osgiLogger();
        if (toSystem(o)) {
            system.log(level, bundle, format, params);
        }
        if (o != null && OsgiSink.enabled(o, level)) {
            OsgiSink.writeIfEnabled(o, level, params == null || params.length == 0 ? format
                    : java.text.MessageFormat.format(format, params), null);
        }
    }

    @Override
    public void log(Level level, Supplier<String> msgSupplier) {
        log(level, msgSupplier, null);
    }

    @Override
    public void log(Level level, Supplier<String> msgSupplier, Throwable thrown) {
        Object o = osgiLogger();
        boolean toOsgi = o != null && OsgiSink.enabled(o, level);
        boolean toSystem = toSystem(o) && system.isLoggable(level);
        if (toOsgi || toSystem) {
            String msg = msgSupplier.get();
            if (toSystem) {
                system.log(level, msg, thrown);
            }
            if (toOsgi) {
                OsgiSink.writeIfEnabled(o, level, msg, thrown);
            }
        }
    }
}
