package pcache.launcher;

import java.time.Duration;
import java.util.List;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.wiring.BundleCapability;
import org.osgi.framework.wiring.BundleRevision;

import pcache.api.config.ExportDefinition;
import pcache.api.config.ExportTlsMode;

/**
 * With TLS on the export, checks once the bundles run that a TlsProvider service comes: the
 * export component waits for one (its configuration sets the reference's minimum cardinality),
 * so without this check a distribution lacking the TLS bundle would start and silently export
 * nothing. Which bundles provide TlsProvider is read from their declared capabilities; when one
 * does, its service is awaited (Declarative Services registers it asynchronously), at most
 * {@link ProviderCheck#WAIT}.
 */
final class TlsProviderCheck {

    /** Only the name: the launcher's own copy of pcache.api is not the bundles' one. */
    static final String TLS_PROVIDER = "pcache.api.tls.TlsProvider";

    private TlsProviderCheck() {
    }

    /** The problem, if TLS is on and no TlsProvider is or will be registered; empty otherwise. */
    static List<String> verify(BundleContext context, ExportDefinition export) {
        if (export.tls() == ExportTlsMode.OFF) {
            return List.of();
        }
        String key = ConfigKeys.NBD_TLS + "=" + export.tls().configName();
        if (!declared(context)) {
            return List.of(key + " needs a TlsProvider service and no bundle provides one: expected pcache.tls "
                    + "(with Bouncy Castle's bcprov, bcutil, bcpkix and bctls) in the distribution's bundles/ folder");
        }
        long deadline = System.nanoTime() + ProviderCheck.WAIT.toNanos();
        while (!registered(context)) {
            if (System.nanoTime() > deadline) {
                return List.of(key + " needs a TlsProvider service: a bundle declares one but it was not registered "
                        + "within " + ProviderCheck.WAIT.toSeconds() + " s (see the log above)");
            }
            try {
                Thread.sleep(Duration.ofMillis(50).toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return List.of();
            }
        }
        return List.of();
    }

    private static boolean registered(BundleContext context) {
        try {
            return context.getAllServiceReferences(TLS_PROVIDER, null) != null;
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException("a null filter is always valid", e);
        }
    }

    /** Whether a started bundle declares that it provides TlsProvider services. */
    private static boolean declared(BundleContext context) {
        for (Bundle b : context.getBundles()) {
            BundleRevision revision = b.adapt(BundleRevision.class);
            if (revision == null || (b.getState() & (Bundle.STARTING | Bundle.ACTIVE)) == 0) {
                continue;
            }
            for (BundleCapability c : revision.getDeclaredCapabilities("osgi.service")) {
                Object classes = c.getAttributes().get("objectClass");
                if (classes instanceof List<?> list && list.contains(TLS_PROVIDER)) {
                    return true;
                }
            }
        }
        return false;
    }
}
