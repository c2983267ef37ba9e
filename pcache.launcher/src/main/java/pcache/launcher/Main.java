package pcache.launcher;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.logging.Level;

import pcache.api.config.CacheAttribute;
import pcache.api.config.CacheDefinition;
import pcache.api.config.ConfigurationChecks;
import pcache.api.config.DevicePaths;

/**
 * The pcache launcher: reads the configuration, embeds the Felix framework with the bundles of
 * the distribution, hands the configuration to ConfigAdmin, then serves the interactive Gogo
 * shell, runs one command ({@code -c}), or runs as a service ({@code --no-shell}); or, with
 * {@code ctl}, sends one command to an instance that is already running.
 *
 * <p>Exit status: 0 success, 1 command or runtime failure, 2 bad configuration or usage.
 */
public final class Main {

    /** Exit status of a successful run. */
    public static final int OK = 0;
    /** Exit status when a command or the runtime failed. */
    public static final int FAILED = 1;
    /** Exit status for a bad command line or configuration. */
    public static final int BAD_CONFIGURATION = 2;

    private static final System.Logger LOG = System.getLogger(Main.class.getName());

    private final PrintStream out;
    private final PrintStream err;
    private final Map<String, String> environment;
    private final Properties systemProperties;

    Main(PrintStream out, PrintStream err, Map<String, String> environment, Properties systemProperties) {
        this.out = out;
        this.err = err;
        this.environment = environment;
        this.systemProperties = systemProperties;
    }

    public static void main(String[] args) {
        int status = new Main(System.out, System.err, System.getenv(), System.getProperties()).run(args);
        // bundles may leave non-daemon threads behind; the framework has stopped by now
        System.exit(status);
    }

    /** Runs the launcher; returns the exit status. */
    int run(String... args) {
        LaunchArguments arguments;
        try {
            arguments = LaunchArguments.parse(args);
        } catch (UsageException e) {
            err.println("pcache: " + e.getMessage());
            err.println("usage: pcache [--config FILE] [-Dkey=value]... [-v] [-c COMMAND | --no-shell | ctl COMMAND]"
                    + " (pcache --help for more)");
            return BAD_CONFIGURATION;
        }
        if (arguments.mode() == LaunchArguments.Mode.HELP) {
            out.print(LaunchArguments.usage());
            return OK;
        }
        PcacheSettings settings;
        try {
            Map<String, String> values = ConfigSources.load(arguments.configFile(), arguments.overrides(),
                    systemProperties, environment, Path.of("").toAbsolutePath());
            settings = SettingsParser.parse(values);
        } catch (ConfigException e) {
            err.println("pcache: bad configuration ("
                    + arguments.configFile().map(p -> "file " + p).orElse("embedded defaults")
                    + " with overrides from -D and PCACHE_* variables):");
            e.problems().forEach(p -> err.println("  " + p));
            return BAD_CONFIGURATION;
        }
        Level level = LogSetup.effectiveLevel(settings.logLevel(), arguments.verbosity());
        LogSetup.configure(level);

        if (arguments.mode() == LaunchArguments.Mode.CONTROL) {
            return ControlClient.send(settings.controlSocket(), arguments.command(), out, err);
        }
        try {
            return runFramework(arguments, settings, level);
        } catch (LaunchException e) {
            err.println("pcache: " + e.getMessage());
            LOG.log(System.Logger.Level.DEBUG, "launch failure", e);
            return FAILED;
        }
    }

    private int runFramework(LaunchArguments arguments, PcacheSettings settings, Level level) throws LaunchException {
        LaunchArguments.Mode mode = arguments.mode();
        if (mode != LaunchArguments.Mode.COMMAND) { // -c serves no control socket
            java.util.Optional<String> socketProblem = ControlServer.pathProblem(settings);
            if (socketProblem.isPresent()) {
                err.println("pcache: bad configuration: " + socketProblem.get());
                return BAD_CONFIGURATION;
            }
        }
        Path bundles = distributionHome().resolve("bundles");
        // the HTTP service and the metrics run only when configured: without http.listen their
        // bundles are not even installed
        List<Path> bundleDirs = settings.http().isPresent()
                ? List.of(bundles, bundles.resolve(EmbeddedFramework.HTTP_BUNDLES)) : List.of(bundles);
        try {
            Files.createDirectories(settings.dataDir());
        } catch (IOException e) {
            throw new LaunchException("cannot create the data directory " + settings.dataDir() + ": " + e, e);
        }
        try (InstanceLock lock = InstanceLock.acquire(settings.dataDir())) {
            List<String> unusable = unusableDevices(settings);
            if (!unusable.isEmpty()) {
                err.println("pcache: bad configuration: a cache's files cannot be used:");
                unusable.forEach(p -> err.println("  " + p));
                return BAD_CONFIGURATION;
            }
            boolean serving = mode != LaunchArguments.Mode.COMMAND;
            if (settings.http().isPresent()) {
                ConsoleCredentialsFile.Prepared credentials;
                try {
                    credentials = ConsoleCredentialsFile.prepare(settings);
                } catch (LaunchException e) {
                    if (settings.consoleCredentials().isEmpty()) {
                        throw e; // the generated file: not the configuration's fault
                    }
                    // the configured file: a configuration error, as README says (before, status 1)
                    err.println("pcache: bad configuration: " + ConfigKeys.HTTP_CONSOLE_CREDENTIALS + ": "
                            + e.getMessage());
                    return BAD_CONFIGURATION;
                }
                if (serving) {
                    settings.http().get().networkWarning().ifPresent(err::println);
                    out.println("pcache: Web Console " + settings.http().get().url(HttpListen.CONSOLE_PATH)
                            + ": user and password " + (credentials.generated() ? "generated into " : "in ")
                            + credentials.file());
                }
            }
            if (serving) {
                ControlServer.removeStale(settings.controlSocket()); // fail before starting anything
            }
            if (mode == LaunchArguments.Mode.INTERACTIVE) {
                out.println("pcache: data " + settings.dataDir() + ", " + settings.caches().size()
                        + " cache(s), NBD " + settings.nbdListen() + ", TLS " + settings.export().tls().configName()
                        + settings.http().map(h -> ", metrics " + h.url("/metrics") + ", health "
                                + h.url(HealthEndpoint.PATH)).orElse("")
                        + ". Gogo shell: try pcache:list, lb, help; Ctrl-D stops.");
            }
            // signals are pcache's before the framework starts: one during start-up stops it
            // as soon as it has started, instead of ending the JVM with the caches open
            StopControl stop = StopControl.install();
            try {
                return runStarted(arguments, settings, level, bundleDirs, serving, stop);
            } finally {
                stop.uninstall();
            }
        }
    }

    /** Starts the framework and serves, or runs the {@code -c} command; {@code stop} is installed. */
    private int runStarted(LaunchArguments arguments, PcacheSettings settings, Level level, List<Path> bundleDirs,
            boolean serving, StopControl stop) throws LaunchException {
        LaunchArguments.Mode mode = arguments.mode();
        LOG.log(System.Logger.Level.INFO, "starting the framework");
        EmbeddedFramework framework = EmbeddedFramework.start(bundleDirs,
                FrameworkProperties.forRun(settings, level, mode == LaunchArguments.Mode.INTERACTIVE),
                new FelixLogBridge(LogSetup.felixLevel(level)), ConfigAdminMapping.map(settings),
                ConfigAdminMapping.afterPcacheBundles(settings));
        if (refused(framework, "a cache names a part no bundle provides:",
                ProviderCheck.verify(framework.context(), settings.caches()))
                || refused(framework, "TLS on the NBD export cannot run:",
                        TlsProviderCheck.verify(framework.context(), settings.export()))) {
            return BAD_CONFIGURATION;
        }
        GogoCommandRunner runner = new GogoCommandRunner(framework.context(), framework.startedNanos());
        if (!serving) {
            // signals stop the framework from here on; one that came while it started stops it now
            java.util.Optional<String> signal = stop.attach(framework);
            if (signal.isPresent()) {
                framework.stop(StopControl.STOP_TIMEOUT);
                err.println("pcache: SIG" + signal.get() + " before the command ran: not run, exit status 1");
                return FAILED;
            }
            CacheReadiness.await(framework.context(),
                    settings.caches().stream().map(CacheDefinition::name).toList());
            int status = runner.execute(arguments.command(), out, err);
            if (!framework.stop(StopControl.STOP_TIMEOUT)) {
                // the command's status would say all went well while a cache may not be closed
                err.println("pcache: the framework did not stop within " + StopControl.STOP_TIMEOUT.toSeconds()
                        + " s (a cache still closing; the log says which): exit status 1");
                return FAILED;
            }
            return status;
        }
        ControlServer control;
        try {
            control = ControlServer.open(settings.controlSocket(), runner);
        } catch (LaunchException e) {
            framework.stop(StopControl.STOP_TIMEOUT);
            throw e;
        }
        stop.onExit(control::close);
        try (control) {
            // signals stop the framework from here on; one that came while it started (or during
            // the checks above, which a stop under them would confuse) stops it now
            java.util.Optional<String> signal = stop.attach(framework);
            if (signal.isPresent()) {
                return framework.stop(StopControl.STOP_TIMEOUT) ? OK : FAILED;
            }
            LOG.log(System.Logger.Level.INFO, "pcache running: data {0}, control socket {1}",
                    settings.dataDir(), control.socket());
            org.osgi.framework.FrameworkEvent stopped = framework.awaitStop(stop::stopBegan);
            if (EmbeddedFramework.isRestart(stopped)) {
                // Felix restarts by itself, but pcache's log bridges and control socket hold the
                // context of before: pcache stops instead, and says so. Before, it exited 0 in
                // the middle of the restart, with the instance lock dropped
                String why = "the framework was asked to restart (the Web Console's Restart, or an update or"
                        + " refresh of the system bundle); pcache does not restart in place: it stops, with exit"
                        + " status 1, for a service manager to start it again (e.g. systemd's Restart=on-failure)";
                LOG.log(System.Logger.Level.ERROR, why);
                err.println("pcache: " + why);
                // Felix's restart (its caches replaying) and the stop after it get a bound each
                stop.watch(StopControl.STOP_TIMEOUT.multipliedBy(2).plusSeconds(5));
                framework.awaitRunning(StopControl.STOP_TIMEOUT);
                stop.watch(StopControl.STOP_TIMEOUT.plusSeconds(5));
                framework.stop(StopControl.STOP_TIMEOUT);
                return FAILED;
            }
            LOG.log(System.Logger.Level.INFO, "framework stopped");
            return OK;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            framework.stop(StopControl.STOP_TIMEOUT);
            return FAILED;
        }
    }

    /** Reports {@code problems} of the started framework, if any, and stops it; true if there were some. */
    private boolean refused(EmbeddedFramework framework, String what, List<String> problems) {
        if (problems.isEmpty()) {
            return false;
        }
        err.println("pcache: bad configuration: " + what);
        problems.forEach(p -> err.println("  " + p));
        framework.stop(StopControl.STOP_TIMEOUT);
        return true;
    }

    /**
     * What keeps a cache's cache device or backing file from being used, checked before anything
     * starts (otherwise the cache would fail to open after start, with the process running):
     * missing without a size to create it with, and the rest of
     * {@link ConfigurationChecks#deviceFileProblems}.
     */
    static List<String> unusableDevices(PcacheSettings settings) {
        List<String> problems = new ArrayList<>();
        Path instanceLock = DevicePaths.identity(settings.dataDir().resolve(InstanceLock.FILE_NAME));
        for (CacheDefinition c : settings.caches()) {
            for (String p : ConfigurationChecks.deviceFileProblems(c, a -> "cache." + c.name() + "." + a.key())) {
                problems.add("cache " + c.name() + ": " + p);
            }
            // a cache device's lock file lies next to it: <data>/pcache would lock the instance's
            // lock file a second time, and the cache would fail to open after start
            Path real = DevicePaths.identity(c.cacheDev());
            Path lock = real.resolveSibling(real.getFileName() + ".lock");
            if (DevicePaths.identity(lock).equals(instanceLock)) {
                problems.add("cache " + c.name() + ": cache." + c.name() + "." + CacheAttribute.CACHE_DEV.key() + "="
                        + c.cacheDev() + ": its lock file " + lock + " is the lock of the pcache instance itself;"
                        + " give the cache device another name, or put it in another folder");
            }
        }
        return problems;
    }

    /**
     * The distribution folder ({@code pcache.launcher.jar}, {@code lib/}, {@code bundles/}): the
     * system property {@code pcache.home}, else the folder of the launcher jar.
     */
    static Path distributionHome() throws LaunchException {
        String home = System.getProperty("pcache.home");
        if (home != null) {
            return Path.of(home).toAbsolutePath();
        }
        try {
            Path location = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (Files.isDirectory(location)) {
                // run from target/classes (an IDE): use the distribution built beside it
                return location.resolveSibling("pcache");
            }
            return location.getParent();
        } catch (URISyntaxException | RuntimeException e) {
            throw new LaunchException("cannot tell where the launcher jar is; set -Dpcache.home=DIR", e);
        }
    }
}
