package pcache.shell.internal;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;

import org.apache.felix.service.command.CommandSession;
import org.apache.felix.service.command.Descriptor;
import org.apache.felix.service.command.Function;
import org.apache.felix.service.command.annotations.GogoCommand;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.component.runtime.ServiceComponentRuntime;

import pcache.api.CacheConditions;
import pcache.api.CacheDevice;
import pcache.api.CacheOpenFailure;
import pcache.api.CacheImageTool;
import pcache.api.CacheMode;
import pcache.api.CacheStatistics;
import pcache.api.CacheStatus;
import pcache.api.NbdExports;
import pcache.api.config.BackingLocation;
import pcache.api.config.CacheDefinition;
import pcache.api.config.ConfigValues;
import pcache.api.config.TargetProperties;
import pcache.api.spi.BackingDevice;
import pcache.api.spi.CrcProvider;
import pcache.api.spi.KeyIndexProvider;
import pcache.api.spi.PmemProvider;
import pcache.api.spi.SegmentAllocatorProvider;
import pcache.api.spi.WritebackPolicy;
import pcache.io.scr.BackingFailures;

/**
 * The {@code pcache:} Gogo commands. One public method per command, named as the function in
 * camel case (the hyphenated ones are {@link Function} services), which prints the command's
 * answer; the answer itself comes from a package-private {@code NAMEText} method, which checks the
 * arguments against the command's {@link CommandSpec} and delegates to plain classes
 * ({@link CacheAdministration}, the reports), so the behaviour is unit-tested without a framework.
 * Usage errors are {@link IllegalArgumentException}s that say what was expected, refusals and
 * failures {@link CommandFailedException}s that say why.
 *
 * <p>Every service it uses is an optional, dynamic reference: the shell works with none of them,
 * and a command that needs a missing one says which.
 */
@Component(service = PcacheCommands.class, immediate = true)
@GogoCommand(scope = CommandSpec.SCOPE, function = {"version", "list", "status", "stats", "create", "remove", "flush",
    "drain", "mode", "export", "unexport", "inspect", "fsck"})
public class PcacheCommands {

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile List<CacheDevice> caches;

    /** Why configured caches are not open (their last open failed). */
    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile List<CacheOpenFailure> openFailures;

    /** Declarative Services' runtime: the backing devices whose activation failed, and why. */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile ServiceComponentRuntime runtime;

    @Reference(service = BackingDevice.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    volatile List<Map.Entry<Map<String, Object>, BackingDevice>> backings;

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile List<PmemProvider> pmemProviders;

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile List<CrcProvider> crcProviders;

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile List<WritebackPolicy> writebackPolicies;

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile List<KeyIndexProvider> keyIndexProviders;

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile List<SegmentAllocatorProvider> allocatorProviders;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile ConfigurationAdmin configurationAdmin;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile NbdExports nbdExports;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile CacheImageTool imageTool;

    private final CacheAdministration administration;
    private BundleContext context;
    private final List<ServiceRegistration<Function>> functions = new ArrayList<>();

    public PcacheCommands() {
        this(CacheAdministration.Timeouts.DEFAULT);
    }

    /** With other timeouts, for tests. */
    PcacheCommands(CacheAdministration.Timeouts timeouts) {
        this.administration = new CacheAdministration(new CacheAdministration.Services() {
            @Override
            public ConfigurationAdmin configurationAdmin() {
                return configurationAdmin;
            }

            @Override
            public List<CacheDevice> caches() {
                return orEmpty(caches);
            }

            @Override
            public List<CacheOpenFailure> openFailures() {
                return orEmpty(openFailures);
            }

            @Override
            public List<ListReport.BackingEntry> backings() {
                return backingEntries();
            }

            @Override
            public CacheImageTool imageTool() {
                return imageTool;
            }
        }, timeouts);
    }

    /** Registers the hyphenated commands, which Gogo reaches through {@link Function} services. */
    @Activate
    void activate(BundleContext bundleContext) {
        this.context = bundleContext;
        for (CommandSpec spec : CommandSpec.values()) {
            if (spec.viaFunctionService()) {
                Hashtable<String, Object> p = new Hashtable<>();
                p.put("osgi.command.scope", CommandSpec.SCOPE);
                p.put("osgi.command.function", spec.function());
                functions.add(bundleContext.registerService(Function.class, function(spec), p));
            }
        }
    }

    @Deactivate
    void deactivate() {
        for (ServiceRegistration<Function> r : functions) {
            try {
                r.unregister();
            } catch (IllegalStateException e) {
                // gone with the bundle
            }
        }
        functions.clear();
    }

    /** The Gogo function of a hyphenated command: prints its answer, as the other commands do. */
    Function function(CommandSpec spec) {
        return (session, arguments) -> {
            print(functionText(spec, session, arguments));
            return null;
        };
    }

    /** The answer of a hyphenated command. */
    String functionText(CommandSpec spec, CommandSession session, List<Object> arguments) throws IOException {
        String[] args = arguments.stream().map(String::valueOf).toArray(String[]::new);
        switch (spec) {
            case GC_PERCENT:
                return gcPercentText(session, args);
            case SWAP_BACKING:
                return swapBackingText(session, args);
            default:
                throw new IllegalStateException("no function for " + spec);
        }
    }

    // ---------------------------------------------------------------- the commands as Gogo calls them

    // Each prints its answer (one line per line of text) on System.out, which Gogo's ThreadIO
    // routes to the running command's output (the session, or the next command of a pipe), and
    // returns nothing. Gogo shells print what a command returns, but Apache Karaf prints it only
    // in its interactive console, not for a command sent over SSH (bin/client, ssh karaf@host
    // "pcache:status"), where an answer returned would be lost. Karaf's own commands print too.

    /** {@code pcache:version}. */
    @Descriptor("show the versions of the pcache shell, Java and the OSGi framework (-h for help)")
    public void version(@Descriptor("-h for help") String... args) {
        print(versionText(args));
    }

    /** {@code pcache:list}. */
    @Descriptor("list caches, backing devices and providers (-h for help)")
    public void list(@Descriptor("-h for help") String... args) {
        print(listText(args));
    }

    /** {@code pcache:status [--raw] [NAME]}. */
    @Descriptor("show dm-pcache's status fields and pcache's state of caches (-h for help)")
    public void status(CommandSession session, @Descriptor("[--raw] [NAME]") String... args) {
        print(statusText(session, args));
    }

    /** {@code pcache:stats [NAME]}. */
    @Descriptor("show the statistics of caches (-h for help)")
    public void stats(CommandSession session, @Descriptor("[NAME]") String... args) {
        print(statsText(session, args));
    }

    /** {@code pcache:create NAME key=value...}. */
    @Descriptor("create a cache through ConfigAdmin (-h for help)")
    public void create(CommandSession session, @Descriptor("NAME cache_dev=PATH backing=... [key=value...]")
            String... args) throws IOException {
        print(createText(session, args));
    }

    /** {@code pcache:remove [--drain | --keep-dirty] NAME}. */
    @Descriptor("remove a cache created through ConfigAdmin, never losing dirty data (-h for help)")
    public void remove(CommandSession session, @Descriptor("[--drain | --keep-dirty] NAME") String... args)
            throws IOException {
        print(removeText(session, args));
    }

    /** {@code pcache:flush NAME}. */
    @Descriptor("persist every open key set of a cache (-h for help)")
    public void flush(CommandSession session, @Descriptor("NAME") String... args) throws IOException {
        print(flushText(session, args));
    }

    /** {@code pcache:drain [--passthrough] NAME}. */
    @Descriptor("write back everything dirty, with a progress bar (-h for help)")
    public void drain(CommandSession session, @Descriptor("[--passthrough] NAME") String... args) throws IOException {
        print(drainText(session, args));
    }

    /** {@code pcache:mode NAME MODE}. */
    @Descriptor("switch the mode of a cache (-h for help)")
    public void mode(CommandSession session, @Descriptor("NAME writeback|writethrough|passthrough") String... args)
            throws IOException {
        print(modeText(session, args));
    }

    /** {@code pcache:export NAME}. */
    @Descriptor("export a cache over NBD again (-h for help)")
    public void export(CommandSession session, @Descriptor("NAME") String... args) {
        print(exportText(session, args));
    }

    /** {@code pcache:unexport NAME}. */
    @Descriptor("withdraw a cache's NBD export (-h for help)")
    public void unexport(CommandSession session, @Descriptor("NAME") String... args) {
        print(unexportText(session, args));
    }

    /** {@code pcache:inspect [--keys] FILE}. */
    @Descriptor("print a cache device image read offline (-h for help)")
    public void inspect(CommandSession session, @Descriptor("[--keys] FILE") String... args) {
        print(inspectText(session, args));
    }

    /** {@code pcache:fsck FILE}: fails when the image has errors, after printing the report. */
    @Descriptor("check a cache device image offline; fails on errors (-h for help)")
    public void fsck(CommandSession session, @Descriptor("FILE") String... args) {
        print(fsckText(session, args));
    }

    /** Prints a command's answer where Gogo routes this thread's output. */
    private static void print(String answer) {
        System.out.println(answer);
        System.out.flush();
    }

    // ---------------------------------------------------------------- information

    /** {@code pcache:version}. */
    String versionText(String... args) {
        if (CommandSpec.VERSION.parse(args).help()) {
            return CommandSpec.VERSION.help();
        }
        Bundle system = context.getBundle(Constants.SYSTEM_BUNDLE_ID);
        return text(VersionReport.format(context.getBundle().getVersion().toString(), system.getSymbolicName(),
                system.getVersion().toString(), System.getProperty("java.version"),
                System.getProperty("java.vm.name") + ", " + System.getProperty("java.vm.vendor")));
    }

    /** {@code pcache:list}. */
    String listText(String... args) {
        if (CommandSpec.LIST.parse(args).help()) {
            return CommandSpec.LIST.help();
        }
        return text(ListReport.format(orEmpty(caches), orEmpty(openFailures), backingEntries(),
                BackingFailures.of(runtime), installedParts()));
    }

    /** {@code pcache:status [--raw] [NAME]}. */
    String statusText(CommandSession session, String... args) {
        CommandSpec.Parsed p = CommandSpec.STATUS.parse(args);
        if (p.help()) {
            return CommandSpec.STATUS.help();
        }
        String name = p.argument(0);
        List<CacheDevice> selected = name == null ? sortedCaches() : List.of(administration.requireCache(name));
        // every cache: the configured ones that are not open too, with why (not in --raw's lines,
        // which scripts read as dm-pcache's fields)
        List<String> notOpen = new ArrayList<>();
        if (name == null && !p.has("--raw")) {
            for (CacheOpenFailure f : orEmpty(openFailures)) {
                notOpen.add(CacheAdministration.notOpen(f));
            }
            notOpen.sort(null);
        }
        if (selected.isEmpty() && notOpen.isEmpty()) {
            return "caches: none";
        }
        StringBuilder out = new StringBuilder();
        for (CacheDevice cache : selected) {
            CacheStatus s = cache.status();
            if (p.has("--raw")) {
                out.append(name == null ? s.name() + ": " : "").append(s.dmStatusLine()).append('\n');
            } else {
                out.append(out.length() == 0 ? "" : "\n").append(StatusReport.format(s, statisticsOf(cache),
                        conditionsOf(cache), exportOf(s.name())));
            }
        }
        for (String line : notOpen) {
            out.append(out.length() == 0 ? "" : "\n").append(line).append('\n');
        }
        return text(out.toString());
    }

    /** {@code pcache:stats [NAME]}. */
    String statsText(CommandSession session, String... args) {
        CommandSpec.Parsed p = CommandSpec.STATS.parse(args);
        if (p.help()) {
            return CommandSpec.STATS.help();
        }
        String name = p.argument(0);
        List<CacheDevice> selected = name == null ? sortedCaches() : List.of(administration.requireCache(name));
        if (selected.isEmpty()) {
            return "caches: none";
        }
        StringBuilder out = new StringBuilder();
        for (CacheDevice cache : selected) {
            out.append(out.length() == 0 ? "" : "\n").append(StatsReport.format(cache.name(), cache.statistics(),
                    conditionsOf(cache)));
        }
        return text(out.toString());
    }

    // ---------------------------------------------------------------- life cycle

    /** {@code pcache:create NAME key=value...}. */
    String createText(CommandSession session, String... args) throws IOException {
        CommandSpec.Parsed p = CommandSpec.CREATE.parse(args);
        if (p.help()) {
            return CommandSpec.CREATE.help();
        }
        CacheDefinition d = CacheCreation.parse(p.argument(0), p.arguments().subList(1, p.arguments().size()),
                currentDirectory(session), installedParts());
        return administration.create(d);
    }

    /** {@code pcache:remove [--drain | --keep-dirty] NAME}. */
    String removeText(CommandSession session, String... args) throws IOException {
        CommandSpec.Parsed p = CommandSpec.REMOVE.parse(args);
        if (p.help()) {
            return CommandSpec.REMOVE.help();
        }
        if (p.has("--drain") && p.has("--keep-dirty")) {
            throw new IllegalArgumentException("pcache:remove takes --drain or --keep-dirty, not both; "
                    + "usage: " + CommandSpec.REMOVE.synopsis());
        }
        return administration.remove(p.argument(0), p.has("--drain"), p.has("--keep-dirty"), console(session));
    }

    /** {@code pcache:swap-backing NAME TARGET [identity=LABEL]} (a Gogo {@link Function} service). */
    String swapBackingText(CommandSession session, String... args) throws IOException {
        CommandSpec.Parsed p = CommandSpec.SWAP_BACKING.parse(args);
        if (p.help()) {
            return CommandSpec.SWAP_BACKING.help();
        }
        String identity = null;
        if (p.argument(2) != null) {
            if (!p.argument(2).startsWith("identity=") || p.argument(2).length() == "identity=".length()) {
                throw new IllegalArgumentException("'" + p.argument(2) + "': expected identity=LABEL; usage: "
                        + CommandSpec.SWAP_BACKING.synopsis());
            }
            identity = p.argument(2).substring("identity=".length());
        }
        BackingLocation to = BackingTarget.parse(p.argument(1), currentDirectory(session));
        return administration.swapBacking(p.argument(0), to, identity);
    }

    // ---------------------------------------------------------------- running caches

    /** {@code pcache:gc-percent NAME N} (a Gogo {@link Function} service). */
    String gcPercentText(CommandSession session, String... args) throws IOException {
        CommandSpec.Parsed p = CommandSpec.GC_PERCENT.parse(args);
        if (p.help()) {
            return CommandSpec.GC_PERCENT.help();
        }
        CacheDevice cache = administration.requireCache(p.argument(0));
        int percent;
        try {
            percent = ConfigValues.gcPercent(p.argument(1));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(TargetProperties.GC_PERCENT + "=" + p.argument(1) + ": expected "
                    + e.getMessage() + "; usage: " + CommandSpec.GC_PERCENT.synopsis());
        }
        int old = cache.gcPercent();
        cache.setGcPercent(percent);
        boolean persisted = administration.persist(cache.name(), TargetProperties.GC_PERCENT, percent);
        return "cache " + cache.name() + ": gc_percent " + old + " -> " + percent
                + (persisted ? "" : " (no configuration to keep it in)");
    }

    /** {@code pcache:flush NAME}. */
    String flushText(CommandSession session, String... args) throws IOException {
        CommandSpec.Parsed p = CommandSpec.FLUSH.parse(args);
        if (p.help()) {
            return CommandSpec.FLUSH.help();
        }
        CacheDevice cache = administration.requireCache(p.argument(0));
        cache.flush();
        return "cache " + cache.name() + " flushed: every write acknowledged before is durable in the cache device";
    }

    /** {@code pcache:drain [--passthrough] NAME}. */
    String drainText(CommandSession session, String... args) throws IOException {
        CommandSpec.Parsed p = CommandSpec.DRAIN.parse(args);
        if (p.help()) {
            return CommandSpec.DRAIN.help();
        }
        CacheDevice cache = administration.requireCache(p.argument(0));
        long start = System.nanoTime();
        long dirty = CacheAdministration.drain(cache, console(session));
        String result = String.format(java.util.Locale.ROOT, "cache %s drained in %.1f s (%s were dirty)", cache.name(),
                (System.nanoTime() - start) / 1e9, Sizes.human(dirty));
        if (p.has("--passthrough")) {
            CacheMode old = cache.mode();
            cache.setMode(CacheMode.PASSTHROUGH);
            administration.persist(cache.name(), TargetProperties.CACHE_MODE, CacheMode.PASSTHROUGH.configName());
            return result + "; mode " + old.configName() + " -> passthrough: requests now go straight to the"
                    + " backing device and the cache can be removed";
        }
        return result + (cache.status().clean() ? "; clean" : "; new writes arrived meanwhile");
    }

    /** {@code pcache:mode NAME MODE}. */
    String modeText(CommandSession session, String... args) throws IOException {
        CommandSpec.Parsed p = CommandSpec.MODE.parse(args);
        if (p.help()) {
            return CommandSpec.MODE.help();
        }
        CacheDevice cache = administration.requireCache(p.argument(0));
        CacheMode mode;
        try {
            mode = CacheMode.parse(p.argument(1));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage() + "; usage: " + CommandSpec.MODE.synopsis());
        }
        CacheMode old = cache.mode();
        if (mode == CacheMode.PASSTHROUGH && old != mode) {
            console(session).println("cache " + cache.name() + ": writing back and emptying the cache first...");
        }
        cache.setMode(mode);
        administration.persist(cache.name(), TargetProperties.CACHE_MODE, mode.configName());
        return "cache " + cache.name() + ": mode " + old.configName() + " -> " + mode.configName();
    }

    // ---------------------------------------------------------------- NBD

    /** {@code pcache:export NAME}. */
    String exportText(CommandSession session, String... args) {
        CommandSpec.Parsed p = CommandSpec.EXPORT.parse(args);
        if (p.help()) {
            return CommandSpec.EXPORT.help();
        }
        NbdExports exports = requireExports();
        String name = p.argument(0);
        try {
            exports.export(name);
        } catch (IOException e) {
            throw new CommandFailedException(e.getMessage(), e);
        }
        List<String> uris = new ArrayList<>();
        String scheme = exports.tls().mode().equals("off") ? "nbd" : "nbds"; // libnbd's and qemu's spelling
        for (String address : exports.listenAddresses()) {
            uris.add(address.startsWith("unix:") ? scheme + "+unix:///" + name + "?socket=" + address.substring(5)
                    : scheme + "://" + address + "/" + name);
        }
        return "cache " + name + " exported over NBD" + (uris.isEmpty() ? "" : ": " + String.join(", ", uris));
    }

    /** {@code pcache:unexport NAME}. */
    String unexportText(CommandSession session, String... args) {
        CommandSpec.Parsed p = CommandSpec.UNEXPORT.parse(args);
        if (p.help()) {
            return CommandSpec.UNEXPORT.help();
        }
        String name = p.argument(0);
        try {
            requireExports().unexport(name);
        } catch (IOException e) {
            throw new CommandFailedException(e.getMessage(), e);
        }
        return "cache " + name + " withdrawn from NBD (its clients were disconnected); pcache:export " + name
                + " exports it again";
    }

    private NbdExports requireExports() {
        NbdExports exports = nbdExports;
        if (exports == null) {
            throw new CommandFailedException("no NbdExports service: is the NBD export (bundle pcache.export.nbd)"
                    + " running?");
        }
        return exports;
    }

    // ---------------------------------------------------------------- offline images

    /** {@code pcache:inspect [--keys] FILE}. */
    String inspectText(CommandSession session, String... args) {
        CommandSpec.Parsed p = CommandSpec.INSPECT.parse(args);
        if (p.help()) {
            return CommandSpec.INSPECT.help();
        }
        Path file = currentDirectory(session).resolve(p.argument(0));
        try {
            return text(requireImageTool().inspect(file, p.has("--keys")));
        } catch (IOException e) {
            throw new CommandFailedException("cannot inspect " + file + ": " + e.getMessage(), e);
        }
    }

    /** {@code pcache:fsck FILE}: fails when the image has errors, after printing the report. */
    String fsckText(CommandSession session, String... args) {
        CommandSpec.Parsed p = CommandSpec.FSCK.parse(args);
        if (p.help()) {
            return CommandSpec.FSCK.help();
        }
        Path file = currentDirectory(session).resolve(p.argument(0));
        CacheImageTool.FsckReport report;
        try {
            report = requireImageTool().fsck(file);
        } catch (IOException e) {
            throw new CommandFailedException("cannot check " + file + ": " + e.getMessage(), e);
        }
        if (report.ok()) {
            return text(report.report());
        }
        PrintStream out = console(session);
        out.print(report.report());
        out.flush();
        throw new CommandFailedException("fsck found " + report.errors().size() + " error(s) in " + file);
    }

    private CacheImageTool requireImageTool() {
        CacheImageTool tool = imageTool;
        if (tool == null) {
            throw new CommandFailedException("no CacheImageTool service: is the cache target (bundle pcache.engine)"
                    + " running?");
        }
        return tool;
    }

    // ---------------------------------------------------------------- helpers

    private List<CacheDevice> sortedCaches() {
        List<CacheDevice> sorted = new ArrayList<>(orEmpty(caches));
        sorted.sort(Comparator.comparing(CacheDevice::name));
        return sorted;
    }

    private static CacheStatistics statisticsOf(CacheDevice cache) {
        try {
            return cache.statistics();
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static CacheConditions conditionsOf(CacheDevice cache) {
        try {
            return cache.conditions();
        } catch (RuntimeException e) {
            return null;
        }
    }

    private StatusReport.Export exportOf(String name) {
        NbdExports exports = nbdExports;
        if (exports == null) {
            return new StatusReport.Export.Absent();
        }
        for (NbdExports.ExportInfo info : exports.exports()) {
            if (info.name().equals(name)) {
                return new StatusReport.Export.Known(info, exports.tls());
            }
        }
        return new StatusReport.Export.Unknown();
    }

    /** The parts registered now, by the names their services give. */
    InstalledParts installedParts() {
        return new InstalledParts(names(pmemProviders, PmemProvider::type), names(writebackPolicies, WritebackPolicy::name),
                names(crcProviders, CrcProvider::algorithm), names(keyIndexProviders, KeyIndexProvider::name),
                names(allocatorProviders, SegmentAllocatorProvider::name));
    }

    private static <T> List<String> names(List<T> services, java.util.function.Function<T, String> name) {
        List<String> names = new ArrayList<>();
        for (T service : orEmpty(services)) {
            try {
                names.add(name.apply(service));
            } catch (RuntimeException e) {
                // a provider that cannot say its name cannot be selected by it
            }
        }
        return names;
    }

    private List<ListReport.BackingEntry> backingEntries() {
        return orEmpty(backings).stream().map(e -> new ListReport.BackingEntry(e.getKey(), e.getValue())).toList();
    }

    private static Path currentDirectory(CommandSession session) {
        Path dir = session == null ? null : session.currentDir();
        return dir != null ? dir : Path.of("").toAbsolutePath();
    }

    private static PrintStream console(CommandSession session) {
        PrintStream out = session == null ? null : session.getConsole();
        return out != null ? out : System.out;
    }

    /** The shell prints a result and a newline: drop the report's own final newline. */
    private static String text(String report) {
        return report.endsWith("\n") ? report.substring(0, report.length() - 1) : report;
    }

    private static <T> List<T> orEmpty(List<T> list) {
        return list == null ? List.of() : list;
    }
}
