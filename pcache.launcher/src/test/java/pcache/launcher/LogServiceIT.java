package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The distribution's runtime has the OSGi Log Service (Felix Log): pcache's records are entries of
 * the bundles that wrote them, which any LogReaderService sees (here the Gogo {@code log} command
 * over the control socket), while stderr keeps one line per record: pcache's printed once, at
 * once, and other bundles' entries (SCR's) printed by the launcher. Every wait is bounded.
 */
@Timeout(120)
class LogServiceIT {

    @TempDir
    Path dir;

    @Test
    void pcachesRecordsAreLogServiceEntriesAndStderrHasEachOnce() throws Exception {
        PcacheProcess pcache = PcacheProcess.configure(dir, Optional.empty(), """
                log.level = INFO
                cache.logs.cache_dev = logs.cache
                cache.logs.cache_dev_size = 512M
                cache.logs.backing_dev = file:logs.backing
                cache.logs.backing_dev_size = 16M
                """);
        try {
            pcache.startServing("logs");
            // the cache logs that it is open after registering its service, which the export may
            // serve first: asked again, bounded, until the entry is there
            long deadline = System.nanoTime() + 30_000_000_000L;
            PcacheProcess.CtlResult entries = pcache.ctl("log 200 info");
            while (entries.out().lines().noneMatch(l -> l.contains("Bundle: pcache.engine")
                    && l.contains("cache logs open: "))) {
                if (System.nanoTime() > deadline) {
                    fail("no entry of pcache.engine saying the cache is open:\n" + entries.out() + entries.err());
                }
                Thread.sleep(100);
                entries = pcache.ctl("log 200 info");
            }
            String out = entries.out();
            assertTrue(out.lines().anyMatch(l -> l.contains("Bundle: pcache.backing.file")
                    && l.contains("backing device 'logs.backing'")), out);

            while (!pcache.log().contains("[org.apache.felix.scr] ")) {
                if (System.nanoTime() > deadline) {
                    fail("no entry of SCR printed on stderr:\n" + pcache.log());
                }
                Thread.sleep(100);
            }
            assertEquals(1, pcache.log().lines().filter(l -> l.contains("cache logs open: ")).count(), pcache.log());
            assertTrue(pcache.log().lines().noneMatch(l -> l.contains("BundleEvent") || l.contains("ServiceEvent")),
                    pcache.log());
        } finally {
            if (pcache.isAlive()) {
                assertEquals(0, pcache.stop(), pcache.log());
            }
        }
    }
}
