package pcache.health.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import org.apache.felix.hc.api.HealthCheck;
import org.apache.felix.hc.api.Result;
import org.osgi.framework.Bundle;
import org.osgi.framework.FrameworkUtil;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

import pcache.api.CacheDevice;
import pcache.api.NbdExports;

/**
 * Do clients reach the caches? The NBD export's bundle is installed but its component does not
 * run (the bundle is stopped, its listen address is taken, a TLS credential is missing: the log
 * says which): critical, since no client reaches any cache while every other check passes. A cache withdrawn from the export
 * ({@code pcache:unexport}) warns. Without the export's bundle (an embedder serving the caches in
 * its own process) there is nothing to check.
 */
@Component(service = HealthCheck.class, property = {HealthCheck.NAME + "=" + NbdExportCheck.NAME,
        HealthCheck.TAGS + "=" + HealthTags.PCACHE})
public final class NbdExportCheck implements HealthCheck {

    static final String NAME = "pcache NBD export";
    /** The symbolic name of the NBD export's bundle. */
    static final String EXPORT_BUNDLE = "pcache.export.nbd";

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile List<CacheDevice> caches;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile NbdExports exports;

    @Override
    public Result execute() {
        return assess(CacheView.of(caches), Optional.ofNullable(exports), exportBundleInstalled());
    }

    /**
     * @param exports the export's service, when its component runs
     * @param bundleInstalled whether the export's bundle is installed (running or not)
     */
    static Result assess(List<CacheView> caches, Optional<NbdExports> exports, boolean bundleInstalled) {
        if (exports.isEmpty()) {
            if (!bundleInstalled) {
                return new Result(Result.Status.OK, "no NBD export is installed: the caches serve this process only");
            }
            return new Result(Result.Status.CRITICAL, "the NBD export is not running, so no client reaches any"
                    + " cache: its bundle is stopped or its component failed to start (the log says why: nbd.listen's"
                    + " address in use, a TLS credential missing or unreadable, ...); fix that and restart pcache or"
                    + " start the export's bundle");
        }
        List<NbdExports.ExportInfo> known = exports.get().exports();
        String where = String.join(", ", exports.get().listenAddresses());
        List<Finding> findings = new ArrayList<>();
        for (CacheView c : caches) {
            Optional<NbdExports.ExportInfo> export = known.stream().filter(e -> e.name().equals(c.name())).findFirst();
            if (export.isEmpty()) {
                findings.add(Finding.warn(c.name(), "not known to the NBD export yet: clients cannot reach it (it"
                        + " appears once the export sees the cache; if it stays, the export's log says why)"));
            } else if (!export.get().exported()) {
                findings.add(Finding.warn(c.name(), "not exported: clients cannot reach it (withdrawn by"
                        + " pcache:unexport, which pcache:export " + c.name() + " undoes; or refused by the export:"
                        + " its log says why)"));
            } else {
                findings.add(Finding.ok(c.name(), "exported on " + where + ", " + export.get().connections()
                        + " connections"));
            }
        }
        return Finding.result(findings);
    }

    private static boolean exportBundleInstalled() {
        Bundle own = FrameworkUtil.getBundle(NbdExportCheck.class);
        if (own == null || own.getBundleContext() == null) {
            return false;
        }
        for (Bundle b : own.getBundleContext().getBundles()) {
            if (EXPORT_BUNDLE.equals(b.getSymbolicName()) && b.getState() != Bundle.UNINSTALLED) {
                return true;
            }
        }
        return false;
    }
}
