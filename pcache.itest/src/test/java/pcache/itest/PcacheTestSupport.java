package pcache.itest;

import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.bundle;
import static org.ops4j.pax.exam.CoreOptions.composite;
import static org.ops4j.pax.exam.CoreOptions.frameworkProperty;
import static org.ops4j.pax.exam.CoreOptions.junitBundles;
import static org.ops4j.pax.exam.CoreOptions.options;
import static org.ops4j.pax.exam.CoreOptions.systemPackages;
import static org.ops4j.pax.exam.CoreOptions.systemProperty;
import static org.ops4j.pax.exam.CoreOptions.workingDirectory;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.jar.JarFile;

import javax.inject.Inject;

import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.Filter;
import org.osgi.framework.FrameworkUtil;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.util.tracker.ServiceTracker;

import pcache.launcher.FrameworkProperties;

/**
 * Base class of the Pax Exam integration tests: a framework in the test JVM (native container;
 * Apache Felix in one failsafe execution, Eclipse Equinox in another) with
 * exactly the bundles of the launcher's distribution folder and the launcher's framework
 * properties, failing on any unresolved bundle. One difference: the launcher runs the Gogo
 * runtime on its class path with the system bundle, here the runtime is installed as a bundle
 * (and the system bundle does not export its packages). Subclasses add options with
 * {@link #additionalOptions()} and use the helpers to configure caches through ConfigAdmin,
 * wait for services and run shell commands.
 *
 * <p>Code here runs in two places: {@link #config()} in the plain test JVM before the framework
 * exists, the tests inside the framework (in the Pax Exam probe bundle, which sees exported
 * packages only: pcache.api, the OSGi and Gogo APIs).
 */
public abstract class PcacheTestSupport {

    /** How long helpers wait for a service or a component. */
    protected static final Duration TIMEOUT = Duration.ofSeconds(20);

    @Inject
    protected BundleContext context;

    private ServiceTracker<ConfigurationAdmin, ConfigurationAdmin> adminTracker;

    /** The distribution's {@code bundles/} folder (set by the pom from pcache.launcher's output). */
    protected static Path bundlesFolder() {
        String distribution = System.getProperty("pcache.distribution");
        assertNotNull("system property pcache.distribution is not set (run through Maven failsafe)", distribution);
        return Path.of(distribution, "bundles");
    }

    /** The jars of the distribution, sorted by name. */
    protected static List<File> distributionBundles() {
        File[] jars = bundlesFolder().toFile().listFiles((d, n) -> n.endsWith(".jar"));
        assertNotNull("no bundles folder at " + bundlesFolder()
                + ": build pcache.launcher first (./mvnw -B verify -pl pcache.itest -am)", jars);
        assertTrue("no jars in " + bundlesFolder(), jars.length > 0);
        Arrays.sort(jars);
        return Arrays.asList(jars);
    }

    /** The Bundle-SymbolicName of a jar. */
    protected static String symbolicName(File jar) throws IOException {
        try (JarFile j = new JarFile(jar)) {
            String bsn = j.getManifest().getMainAttributes().getValue("Bundle-SymbolicName");
            return bsn == null ? null : bsn.split(";")[0].trim();
        }
    }

    @Configuration
    public Option[] config() {
        List<Option> options = new ArrayList<>();
        options.add(junitBundles());
        // fail fast when any provisioned bundle cannot resolve
        options.add(systemProperty("pax.exam.osgi.unresolved.fail").value("true"));
        options.add(systemProperty("ds.loglevel").value("warn"));
        options.add(workingDirectory(System.getProperty("pcache.itest.work", "target/itest-work") + "/"
                + getClass().getSimpleName()));
        // the same framework properties the launcher uses (read from the launcher jar), the Gogo
        // shell kept off stdin (it would stop the framework at the end of the test JVM's stdin)
        FrameworkProperties.headless().forEach((key, value) -> {
            if (key.equals(Constants.FRAMEWORK_SYSTEMPACKAGES_EXTRA)) {
                // as a framework property it would replace the packages Pax Exam itself exports
                // from the system bundle (org.ops4j.pax.exam...): the probe would never start.
                // Without the Gogo runtime's: the launcher runs the runtime with the system
                // bundle, here it is a bundle (below)
                options.add(systemPackages(Arrays.stream(value.split(",")).map(String::trim)
                        .filter(clause -> !FrameworkProperties.isGogoRuntimeExport(clause))
                        .toArray(String[]::new)));
            } else {
                options.add(frameworkProperty(key).value(value));
            }
        });
        // file: URLs: reactor bundles are not in any Maven repository
        for (File jar : distributionBundles()) {
            options.add(bundle(jar.toURI().toString()));
        }
        options.add(bundle(gogoRuntimeJar().toURI().toString()));
        options.add(composite(additionalOptions()));
        return options(options.toArray(Option[]::new));
    }

    /**
     * The Gogo runtime jar of the test class path, the one the launcher's lib/ holds (the same
     * managed version): the launcher runs it on its class path and starts it with the system
     * bundle; here, without the launcher, it is installed as a bundle.
     */
    protected static File gogoRuntimeJar() {
        try {
            File jar = new File(CommandProcessor.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            assertTrue("the Gogo runtime is not a jar on the test class path: " + jar, jar.isFile());
            return jar;
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Extra Pax Exam options of a subclass (system properties, more bundles, configurations). */
    protected Option[] additionalOptions() {
        return new Option[0];
    }

    /** Waits for a service of {@code type} matching {@code filter} (may be null). */
    protected <T> T awaitService(Class<T> type, String filter) throws InterruptedException, InvalidSyntaxException {
        String objectClass = "(objectClass=" + type.getName() + ")";
        Filter f = FrameworkUtil.createFilter(filter == null ? objectClass : "(&" + objectClass + filter + ")");
        ServiceTracker<T, T> tracker = new ServiceTracker<>(context, f, null);
        tracker.open();
        try {
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (true) {
                long left = Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
                T tracked = tracker.waitForService(left);
                assertNotNull("no " + type.getSimpleName() + " service " + (filter == null ? "" : filter) + " within "
                        + TIMEOUT.toSeconds() + " s", tracked);
                // our own use of the service: closing the tracker releases its use, and a service
                // factory (ConfigurationAdmin is one) invalidates an object nobody uses any more.
                // The service may go away between the two calls (a component re-registering it
                // after a configuration change): then wait for the next one.
                ServiceReference<T> ref = tracker.getServiceReference();
                T service = ref == null ? null : context.getService(ref);
                if (service != null) {
                    return service;
                }
                assertTrue("no lasting " + type.getSimpleName() + " service within " + TIMEOUT.toSeconds() + " s",
                        System.nanoTime() < deadline);
            }
        } finally {
            // the service object stays usable; tests must not cache it across restarts of its bundle
            tracker.close();
        }
    }

    /**
     * Creates or updates the factory configuration {@code factoryPid~name}, as the launcher does
     * for each cache (see pcache.launcher's ConfigAdminMapping for the keys).
     */
    protected org.osgi.service.cm.Configuration configure(String factoryPid, String name, Map<String, ?> properties)
            throws Exception {
        ConfigurationAdmin admin = configurationAdmin();
        org.osgi.service.cm.Configuration configuration = admin.getFactoryConfiguration(factoryPid, name, "?");
        Dictionary<String, Object> dictionary = new Hashtable<>(properties);
        configuration.update(dictionary);
        return configuration;
    }

    /**
     * ConfigurationAdmin, held for the rest of the test: it is a service factory, so the object
     * {@link #awaitService} hands out stops working once the service is released.
     */
    protected ConfigurationAdmin configurationAdmin() throws InterruptedException {
        synchronized (this) {
            if (adminTracker == null) {
                adminTracker = new ServiceTracker<>(context, ConfigurationAdmin.class, null);
                adminTracker.open();
            }
        }
        ConfigurationAdmin admin = adminTracker.waitForService(TIMEOUT.toMillis());
        assertNotNull("no ConfigurationAdmin service within " + TIMEOUT.toSeconds() + " s", admin);
        return admin;
    }

    /** Creates or updates the singleton configuration {@code pid} (e.g. the NBD export's). */
    protected org.osgi.service.cm.Configuration configure(String pid, Map<String, ?> properties) throws Exception {
        ConfigurationAdmin admin = configurationAdmin();
        org.osgi.service.cm.Configuration configuration = admin.getConfiguration(pid, "?");
        configuration.update(new Hashtable<>(properties));
        return configuration;
    }

    /** Runs a shell command line through Gogo and returns what it printed plus its result. */
    protected String execute(String commandLine) throws Exception {
        CommandProcessor processor = awaitService(CommandProcessor.class, null);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        try (CommandSession session = processor.createSession(new ByteArrayInputStream(new byte[0]), out, out)) {
            Object result = session.execute(commandLine);
            if (result != null) {
                out.println(session.format(result, 0));
            }
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    /** Polls {@code check} every 20 ms until it holds; fails the test after {@code timeoutMillis}. */
    protected static void waitFor(String what, long timeoutMillis, Check check) throws Exception {
        long deadline = System.currentTimeMillis() + timeoutMillis;
        while (!check.ok()) {
            assertTrue("timed out waiting for " + what, System.currentTimeMillis() < deadline);
            Thread.sleep(20);
        }
    }

    /** A condition {@link #waitFor} polls. */
    @FunctionalInterface
    protected interface Check {
        boolean ok() throws Exception;
    }

    /** Sets one property of {@code c} (the others kept) and updates it. */
    protected static void update(org.osgi.service.cm.Configuration c, String key, Object value) throws IOException {
        Dictionary<String, Object> properties = c.getProperties();
        properties.put(key, value);
        c.update(properties);
    }

    /** A fresh directory for one test's devices, under the module's target/ folder. */
    protected Path workDirectory(String name) throws IOException {
        Path dir = Path.of(System.getProperty("pcache.itest.work", "target/itest-work"), getClass().getSimpleName(),
                name).toAbsolutePath();
        Files.createDirectories(dir);
        return dir;
    }
}
