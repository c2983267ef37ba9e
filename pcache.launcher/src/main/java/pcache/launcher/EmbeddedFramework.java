package pcache.launcher;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;

import org.apache.felix.gogo.runtime.activator.Activator;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleActivator;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.Constants;
import org.osgi.framework.FrameworkEvent;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.launch.FrameworkFactory;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.util.tracker.ServiceTracker;

/**
 * The embedded OSGi framework: installs every jar of the distribution's {@code bundles/}
 * folder (and of {@code bundles/http/} when the HTTP service is configured), starts them, and
 * hands the configuration to ConfigAdmin. The ConfigAdmin API is on the
 * launcher's class path and exported by the system bundle (framework.properties), so it is used
 * typed: ConfigAdmin itself wires to that copy.
 *
 * <p>The Gogo runtime runs here too, not as a bundle: its jar is on the launcher's class path, the
 * system bundle exports its packages (framework.properties), and its activator starts with the
 * system bundle, so its {@code CommandProcessor} and {@code ThreadIO} services are registered
 * before any bundle starts and unregistered after every bundle has stopped, however the
 * framework is stopped (the shell's exit, a signal, the control socket's stop).
 */
public final class EmbeddedFramework {

    private static final System.Logger LOG = System.getLogger(EmbeddedFramework.class.getName());

    /**
     * The sub-folder of {@code bundles/} with the HTTP service and what runs on it (Felix HTTP,
     * the servlet API, SLF4J, pcache.metrics, the health checks: pcache.health, Felix Health Checks
     * and EventAdmin): installed only when {@code http.listen} is set.
     */
    public static final String HTTP_BUNDLES = "http";
    /** Started last, after the configuration is in, so its prompt follows the start-up output. */
    static final String GOGO_SHELL = "org.apache.felix.gogo.shell";
    /**
     * The OSGi Log Service. Installed and started before the other bundles, so that it is stopped
     * after them: a bundle that logs through it only while it runs (Felix's Configurator) would
     * otherwise print every message, debug ones included, to standard output.
     */
    static final String LOG_SERVICE = "org.apache.felix.log";
    private static final Duration SERVICE_WAIT = Duration.ofSeconds(10);
    /**
     * Felix: activators started (in order) with the system bundle's context when the framework
     * initialises, and stopped once all bundles have stopped.
     */
    static final String SYSTEM_BUNDLE_ACTIVATORS = "felix.systembundle.activators";

    private final Framework framework;
    private final long startedNanos;

    private EmbeddedFramework(Framework framework) {
        this.framework = framework;
        this.startedNanos = System.nanoTime();
    }

    /**
     * Starts the framework with {@code properties}, installs and starts every bundle of the
     * folders {@code bundleDirs}, applies {@code configurations} before pcache's bundles start and
     * {@code lateConfigurations} after they started, and finally starts the Gogo shell bundle.
     *
     * @throws LaunchException if the framework, a bundle or ConfigAdmin fails
     */
    public static EmbeddedFramework start(List<Path> bundleDirs, Map<String, String> properties,
            Object felixLogger, List<ConfigurationRecord> configurations, List<ConfigurationRecord> lateConfigurations)
            throws LaunchException {
        List<Path> jars = new ArrayList<>();
        for (Path dir : bundleDirs) {
            jars.addAll(bundleJars(dir));
        }
        Map<String, Object> config = new HashMap<>(properties);
        if (felixLogger != null) {
            config.put("felix.log.logger", felixLogger);
        }
        // the Gogo runtime (lib/): registers CommandProcessor and ThreadIO for the shell bundles
        List<BundleActivator> activators = new ArrayList<>();
        activators.add(new Activator());
        config.put(SYSTEM_BUNDLE_ACTIVATORS, activators);
        FrameworkFactory factory = ServiceLoader.load(FrameworkFactory.class).findFirst()
                .orElseThrow(() -> new LaunchException("no OSGi framework on the class path (lib/ incomplete?)"));
        @SuppressWarnings({"unchecked", "rawtypes"})
        Framework framework = factory.newFramework((Map) config); // Felix takes the logger object as a value
        EmbeddedFramework embedded = new EmbeddedFramework(framework);
        try {
            framework.init();
            BundleContext context = framework.getBundleContext();
            List<Bundle> installed = new ArrayList<>();
            for (Path jar : logServiceFirst(jars)) {
                installed.add(context.installBundle(jar.toUri().toString()));
            }
            framework.start();
            OsgiLogBridge.open(framework.getBundleContext()); // closes with the framework
            // the framework's services first (SCR, ConfigAdmin, ...), then the configurations, then
            // pcache's bundles: their components start with their configuration already present
            // (otherwise the NBD export would bind its default address for a moment, for example)
            Bundle shell = null;
            List<Bundle> ours = new ArrayList<>();
            for (Bundle b : installed) {
                String name = b.getSymbolicName() == null ? "" : b.getSymbolicName();
                if (GOGO_SHELL.equals(name)) {
                    shell = b;
                } else if (b.getHeaders().get(Constants.FRAGMENT_HOST) != null) {
                    continue;
                } else if (name.startsWith("pcache.")) {
                    ours.add(b);
                } else {
                    startBundle(b);
                }
            }
            embedded.configure(configurations);
            for (Bundle b : ours) {
                startBundle(b);
            }
            embedded.configure(lateConfigurations);
            if (shell != null) {
                startBundle(shell);
            }
            LOG.log(System.Logger.Level.INFO, "framework started with {0} bundles, {1} configurations",
                    installed.size(), configurations.size() + lateConfigurations.size());
            return embedded;
        } catch (BundleException | RuntimeException e) {
            embedded.stop(Duration.ofSeconds(10));
            throw new LaunchException("cannot start the OSGi framework: " + e.getMessage(), e);
        } catch (LaunchException e) {
            embedded.stop(Duration.ofSeconds(10));
            throw e;
        }
    }

    private static void startBundle(Bundle b) {
        try {
            b.start();
        } catch (BundleException e) {
            // one broken bundle must not keep the others (and the shell to diagnose it) down
            LOG.log(System.Logger.Level.ERROR, "cannot start bundle " + b.getSymbolicName() + " "
                    + b.getVersion() + ": " + e.getMessage(), e);
        }
    }

    /**
     * {@code jars} with the Log Service's first ({@link #LOG_SERVICE}), the rest in their order.
     * Felix stops bundles in the reverse order of their ids, so the first installed stops last.
     */
    static List<Path> logServiceFirst(List<Path> jars) throws LaunchException {
        List<Path> ordered = new ArrayList<>(jars.size());
        for (Path jar : jars) {
            if (LOG_SERVICE.equals(symbolicName(jar))) {
                ordered.add(0, jar);
            } else {
                ordered.add(jar);
            }
        }
        return ordered;
    }

    /** A jar's Bundle-SymbolicName without its directives, or "" when it has none. */
    private static String symbolicName(Path jar) throws LaunchException {
        try (java.util.jar.JarFile file = new java.util.jar.JarFile(jar.toFile())) {
            java.util.jar.Manifest manifest = file.getManifest();
            String name = manifest == null ? null : manifest.getMainAttributes().getValue(Constants.BUNDLE_SYMBOLICNAME);
            return name == null ? "" : name.split(";", 2)[0].trim();
        } catch (IOException e) {
            throw new LaunchException("cannot read the bundle " + jar + ": " + e.getMessage(), e);
        }
    }

    /** The jars of the bundles folder, sorted by name (a stable install order). */
    static List<Path> bundleJars(Path bundlesDir) throws LaunchException {
        if (!Files.isDirectory(bundlesDir)) {
            throw new LaunchException("no bundles folder at " + bundlesDir
                    + ": run the launcher from its distribution folder (pcache.launcher/target/pcache)");
        }
        List<Path> jars = new ArrayList<>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(bundlesDir, "*.jar")) {
            dir.forEach(jars::add);
        } catch (IOException e) {
            throw new LaunchException("cannot list " + bundlesDir + ": " + e.getMessage(), e);
        }
        if (jars.isEmpty()) {
            throw new LaunchException("the bundles folder " + bundlesDir + " holds no jars");
        }
        jars.sort(null);
        return jars;
    }

    /** Creates or updates each configuration through the ConfigurationAdmin service. */
    private void configure(List<ConfigurationRecord> configurations) throws LaunchException {
        BundleContext context = framework.getBundleContext();
        ServiceTracker<ConfigurationAdmin, ConfigurationAdmin> tracker = new ServiceTracker<>(context,
                ConfigurationAdmin.class, null);
        tracker.open();
        try {
            ConfigurationAdmin admin = tracker.waitForService(SERVICE_WAIT.toMillis());
            if (admin == null) {
                throw new LaunchException("no ConfigurationAdmin service within " + SERVICE_WAIT.toSeconds()
                        + " s: is org.apache.felix.configadmin in bundles/?");
            }
            for (ConfigurationRecord record : configurations) {
                Configuration configuration = record.factoryName().isPresent()
                        ? admin.getFactoryConfiguration(record.pid(), record.factoryName().get(), "?")
                        : admin.getConfiguration(record.pid(), "?");
                configuration.update(new Hashtable<>(record.properties()));
                LOG.log(System.Logger.Level.DEBUG, "configuration {0}: {1}", record.effectivePid(),
                        record.properties());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LaunchException("interrupted while waiting for ConfigurationAdmin", e);
        } catch (IOException | RuntimeException e) {
            throw new LaunchException("ConfigurationAdmin refused a configuration: " + e, e);
        } finally {
            tracker.close();
        }
    }

    /** How often {@link #awaitStop} looks whether a stop has begun. */
    private static final long POLL_MILLIS = 200;

    /** The system bundle's context, for looking up services. */
    public BundleContext context() {
        return framework.getBundleContext();
    }

    /** When the framework finished starting, for deadlines relative to it. */
    public long startedNanos() {
        return startedNanos;
    }

    /** True until the framework has stopped. */
    public boolean isActive() {
        return (framework.getState() & (Bundle.STARTING | Bundle.ACTIVE | Bundle.STOPPING)) != 0;
    }

    /** Starts stopping the framework asynchronously (safe to call repeatedly and from signal handlers). */
    public void requestStop() {
        try {
            framework.stop();
        } catch (BundleException | IllegalStateException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot stop the framework: " + e.getMessage(), e);
        }
    }

    /**
     * Blocks until the framework has stopped, however that was triggered, and says how: a
     * {@link FrameworkEvent#STOPPED}, or a restart Felix makes by itself ({@link #isRestart}).
     * Runs {@code whenStopping} once, as soon as a stop is seen to have begun (a stop command
     * through the control socket or the shell, which returns at once).
     */
    public FrameworkEvent awaitStop(Runnable whenStopping) throws InterruptedException {
        boolean told = false;
        while (true) {
            FrameworkEvent event = framework.waitForStop(POLL_MILLIS);
            if (event.getType() != FrameworkEvent.WAIT_TIMEDOUT) {
                return event;
            }
            if (!told && framework.getState() == Bundle.STOPPING) {
                told = true;
                whenStopping.run();
            }
        }
    }

    /**
     * Whether the framework stopped to start again by itself: an update or a refresh of the
     * system bundle (the Web Console's Restart button, {@code update 0}).
     */
    public static boolean isRestart(FrameworkEvent event) {
        return event.getType() == FrameworkEvent.STOPPED_UPDATE
                || event.getType() == FrameworkEvent.STOPPED_SYSTEM_REFRESHED;
    }

    /**
     * Waits (at most {@code timeout}) until a framework that restarts by itself runs again, so
     * that a stop then stops the restarted one.
     *
     * @return true if it runs
     */
    public boolean awaitRunning(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (framework.getState() != Bundle.ACTIVE && System.nanoTime() < deadline) {
            try {
                Thread.sleep(POLL_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return framework.getState() == Bundle.ACTIVE;
    }

    /**
     * Stops the framework and waits at most {@code timeout}: DS deactivates every component, so
     * caches persist their state.
     *
     * @return true if it stopped in time
     */
    public boolean stop(Duration timeout) {
        requestStop();
        try {
            FrameworkEvent event = framework.waitForStop(Math.max(1, timeout.toMillis()));
            if (event.getType() == FrameworkEvent.WAIT_TIMEDOUT) {
                LOG.log(System.Logger.Level.ERROR, "the framework did not stop within {0} s", timeout.toSeconds());
                return false;
            }
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
