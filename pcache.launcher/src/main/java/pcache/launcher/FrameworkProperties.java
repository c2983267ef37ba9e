package pcache.launcher;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.logging.Level;

import org.osgi.framework.Constants;

/** The OSGi framework properties the launcher starts Felix with. */
public final class FrameworkProperties {

    /** Properties that do not depend on the configuration; pcache.itest reads them too. */
    public static final String STATIC_RESOURCE = "/pcache/launcher/framework.properties";

    /**
     * The packages of the Gogo runtime jar, which the launcher runs on its class path and the
     * system bundle exports (see {@value #STATIC_RESOURCE}).
     */
    public static final Set<String> GOGO_RUNTIME_PACKAGES = Set.of(
            "org.apache.felix.service.command",
            "org.apache.felix.service.command.annotations",
            "org.apache.felix.service.threadio",
            "org.apache.felix.gogo.runtime",
            "org.apache.felix.gogo.runtime.threadio",
            "org.apache.felix.gogo.runtime.activator");

    /** Gogo shell bundle option: do not read stdin. */
    static final String GOSH_ARGS = "gosh.args";

    private FrameworkProperties() {
    }

    /** The properties of {@value #STATIC_RESOURCE} (e.g. {@code org.osgi.framework.system.packages.extra}). */
    public static Map<String, String> staticProperties() {
        try (InputStream in = FrameworkProperties.class.getResourceAsStream(STATIC_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("the launcher jar lacks " + STATIC_RESOURCE + ": rebuild it");
            }
            Properties p = new Properties();
            p.load(in);
            Map<String, String> map = new TreeMap<>();
            p.stringPropertyNames().forEach(k -> map.put(k, p.getProperty(k).trim()));
            return map;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + STATIC_RESOURCE, e);
        }
    }

    /**
     * Whether {@code clause}, one entry of {@code org.osgi.framework.system.packages.extra}
     * ({@code package;version=...}), exports a package of the Gogo runtime: a framework that
     * installs the runtime as a bundle (pcache.itest) leaves those out.
     */
    public static boolean isGogoRuntimeExport(String clause) {
        return GOGO_RUNTIME_PACKAGES.contains(clause.split(";", 2)[0].trim());
    }

    /**
     * The static properties plus the Gogo shell kept off stdin: the framework as the launcher
     * runs it in {@code -c} and {@code --no-shell} modes, without the per-run storage and log
     * levels. pcache.itest starts its framework with these.
     */
    public static Map<String, String> headless() {
        Map<String, String> p = new TreeMap<>(staticProperties());
        p.put(GOSH_ARGS, "--nointeractive");
        return p;
    }

    /**
     * Every framework property for one run: the static ones, storage under the data directory
     * (cleaned at the first init of every start: the configuration file is authoritative), log
     * levels, and whether the Gogo shell may read stdin.
     */
    public static Map<String, String> forRun(PcacheSettings settings, Level logLevel, boolean interactive) {
        Map<String, String> p = new TreeMap<>(headless());
        p.put(Constants.FRAMEWORK_STORAGE, settings.frameworkStorage().toString());
        p.put(Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT);
        p.put("felix.log.level", Integer.toString(LogSetup.felixLevel(logLevel)));
        p.put("ds.loglevel", LogSetup.scrLevel(logLevel));
        p.put("felix.cm.loglevel", Integer.toString(LogSetup.felixLevel(logLevel)));
        // the OSGi Log Service's root level, and pcache's bundles also print each record at once
        // (OsgiLogBridge prints the other bundles' entries)
        p.put(OsgiLogBridge.ROOT_LEVEL, OsgiLogBridge.osgiLevel(logLevel));
        p.put(OsgiLogBridge.ALSO_TO_SYSTEM_LOGGER, "true");
        // Felix Log keeps the latest entries for LogReaderService.getLog (Gogo's log, the Web
        // Console): its default of 100 is used up by the framework's own bundle and service events
        // while pcache starts, before anything of pcache's could be read back
        p.put("org.apache.felix.log.maxSize", "1000");
        if (interactive) {
            // the Gogo console reads stdin; when it ends (exit, Ctrl-D) it stops the framework
            p.put(GOSH_ARGS, "--quiet");
        }
        p.put("gosh.home", settings.dataDir().toString());
        // Felix HTTP reads its address from these when it starts: it never binds a default port
        settings.http().ifPresent(h -> p.putAll(h.frameworkProperties()));
        return p;
    }
}
