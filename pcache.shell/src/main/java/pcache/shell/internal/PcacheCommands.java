package pcache.shell.internal;

import java.util.List;
import java.util.Map;

import org.apache.felix.service.command.Descriptor;
import org.apache.felix.service.command.annotations.GogoCommand;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

import pcache.api.CacheDevice;
import pcache.api.spi.BackingDevice;
import pcache.api.spi.CrcProvider;
import pcache.api.spi.PmemProvider;

/**
 * The {@code pcache:} Gogo commands. One public method per command, named as the function; each
 * checks its arguments against its {@link CommandSpec} and delegates to a plain formatter, so
 * the text is unit-tested without a framework. Commands return text; usage errors are
 * {@link IllegalArgumentException}s that say what was expected.
 */
@Component(service = PcacheCommands.class, immediate = true)
@GogoCommand(scope = CommandSpec.SCOPE, function = {"version", "list"})
public class PcacheCommands {

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile List<CacheDevice> caches;

    @Reference(service = BackingDevice.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    private volatile List<Map.Entry<Map<String, Object>, BackingDevice>> backings;

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile List<PmemProvider> pmemProviders;

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile List<CrcProvider> crcProviders;

    private final BundleContext context;

    @Activate
    public PcacheCommands(BundleContext context) {
        this.context = context;
    }

    /** {@code pcache:version}. */
    @Descriptor("show the versions of the pcache shell, Java and the OSGi framework (-h for help)")
    public String version(@Descriptor("-h for help") String... args) {
        if (CommandSpec.VERSION.parse(args).help()) {
            return CommandSpec.VERSION.help();
        }
        Bundle system = context.getBundle(Constants.SYSTEM_BUNDLE_ID);
        return text(VersionReport.format(context.getBundle().getVersion().toString(), system.getSymbolicName(),
                system.getVersion().toString(), System.getProperty("java.version"),
                System.getProperty("java.vm.name") + ", " + System.getProperty("java.vm.vendor")));
    }

    /** {@code pcache:list}. */
    @Descriptor("list caches, backing devices and providers (-h for help)")
    public String list(@Descriptor("-h for help") String... args) {
        if (CommandSpec.LIST.parse(args).help()) {
            return CommandSpec.LIST.help();
        }
        List<ListReport.BackingEntry> entries = orEmpty(backings).stream()
                .map(e -> new ListReport.BackingEntry(e.getKey(), e.getValue())).toList();
        return text(ListReport.format(orEmpty(caches), entries, orEmpty(pmemProviders), orEmpty(crcProviders)));
    }

    /** The shell prints a result and a newline: drop the report's own final newline. */
    private static String text(String report) {
        return report.endsWith("\n") ? report.substring(0, report.length() - 1) : report;
    }

    private static <T> List<T> orEmpty(List<T> list) {
        return list == null ? List.of() : list;
    }
}
