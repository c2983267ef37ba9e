package pcache.health.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;

import org.apache.felix.hc.api.Result;
import org.junit.jupiter.api.Test;

import pcache.api.NbdExports;

/** Do clients reach the caches: the export runs, and each cache is exported. */
class NbdExportCheckTest {

    private static NbdExports exports(NbdExports.ExportInfo... known) {
        return new NbdExports() {
            @Override
            public List<String> listenAddresses() {
                return List.of("127.0.0.1:10809");
            }

            @Override
            public List<ExportInfo> exports() {
                return List.of(known);
            }

            @Override
            public void export(String name) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void unexport(String name) {
                throw new UnsupportedOperationException();
            }
        };
    }

    private static NbdExports.ExportInfo info(String name, boolean exported) {
        return new NbdExports.ExportInfo(name, 1L << 30, exported, 2, 0, 0, 0, 0);
    }

    private static String text(Result r) {
        StringBuilder all = new StringBuilder();
        r.forEach(entry -> all.append(entry.getMessage()).append('\n'));
        return all.toString();
    }

    /**
     * The export's bundle runs but its component does not (its port taken): critical. Before, no
     * check looked at the export, and the health endpoint said OK while no client reached a cache.
     */
    @Test
    void anExportThatDoesNotRunIsCritical() {
        Result r = NbdExportCheck.assess(List.of(Views.healthy("c0")), Optional.empty(), true);
        assertEquals(Result.Status.CRITICAL, r.getStatus());
        assertTrue(text(r).contains("the NBD export is not running, so no client reaches any cache"), text(r));
        Result embedded = NbdExportCheck.assess(List.of(Views.healthy("c0")), Optional.empty(), false);
        assertEquals(Result.Status.OK, embedded.getStatus(), "no export installed: nothing to check");
    }

    @Test
    void aWithdrawnCacheWarnsAndAnExportedOnePasses() {
        Result r = NbdExportCheck.assess(List.of(Views.healthy("c0"), Views.healthy("c1")),
                Optional.of(exports(info("c0", true), info("c1", false))), true);
        assertEquals(Result.Status.WARN, r.getStatus());
        assertTrue(text(r).contains("cache c0: exported on 127.0.0.1:10809, 2 connections"), text(r));
        assertTrue(text(r).contains("cache c1: not exported: clients cannot reach it (withdrawn by"
                + " pcache:unexport, which pcache:export c1 undoes;"), text(r));
        assertEquals(Result.Status.OK, NbdExportCheck.assess(List.of(Views.healthy("c0")),
                Optional.of(exports(info("c0", true))), true).getStatus());
    }
}
