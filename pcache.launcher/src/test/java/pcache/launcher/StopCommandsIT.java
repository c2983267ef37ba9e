package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Stops that do not come from a signal, end to end: a restart of the framework (the Web
 * Console's Restart button, {@code update 0}) stops pcache with exit status 1 and says why,
 * after closing its caches; {@code stop 0} through the control socket stops it with 0. Every
 * wait is bounded.
 */
@Timeout(300)
class StopCommandsIT {

    @TempDir
    Path dir;

    /** On a unix socket only: the second start of a test needs no port that another process may take meanwhile. */
    private PcacheProcess configured() throws Exception {
        return PcacheProcess.configure(dir, Optional.empty(), """
                cache.s.cache_dev = s.cache
                cache.s.cache_dev_size = 512M
                cache.s.backing_dev = file:s.backing
                cache.s.backing_dev_size = 64M
                log.level = INFO
                """);
    }

    private PcacheProcess started() throws Exception {
        return configured().startServing("s");
    }

    /** The lock was held to the end, and the cache device is whole: cache s opens again. */
    private static void opensAgain(PcacheProcess pcache) throws Exception {
        pcache.startServing("s");
        PcacheProcess.CtlResult list = pcache.ctl("pcache:list");
        assertEquals(0, list.status(), list.err());
        assertTrue(list.out().contains("s"), list.out());
    }

    /**
     * Felix restarts by itself after {@code update 0}; pcache stops instead, closes its cache,
     * and exits 1 with the reason on standard error. Before, it exited 0 in the middle of the
     * restart, with the instance lock released and the caches being opened again.
     */
    @Test
    void aRestartRequestStopsPcacheWithStatusOneAndSaysWhy() throws Exception {
        try (PcacheProcess pcache = started()) {
            PcacheProcess.CtlResult update = pcache.ctl("update 0");
            assertEquals(0, update.status(), update.err());
            assertEquals(1, pcache.awaitExit(Duration.ofSeconds(150)), pcache.log());
            String log = pcache.log();
            assertTrue(log.contains("pcache does not restart in place: it stops, with exit status 1"), log);
            int restart = log.indexOf("pcache does not restart in place");
            assertTrue(!log.contains("Error during dispatch"), "no error from the restart's events:\n" + log);
            assertTrue(log.lastIndexOf("cache s closed") > log.indexOf("cache s open:"), "the cache closed:\n" + log);
            // Felix's restart may be stopped before the cache opens again, or while it opens: what
            // it opened again is closed before the exit
            int reopened = Math.max(log.indexOf("cache s: replayed", restart), log.indexOf("cache s open:", restart));
            assertTrue(reopened < 0 || log.lastIndexOf("cache s closed") > reopened,
                    "the cache the restart opened again closed:\n" + log);
            opensAgain(pcache);
        }
    }

    /**
     * A SIGTERM while the framework starts (its caches opening) is kept, and pcache stops as soon
     * as it has started, closing its caches: exit status 0. Before, the launcher's handlers were
     * installed only after the start, and the JVM's own handling ended the process (status 143)
     * with the caches open.
     */
    @Test
    void aSignalWhileStartingStopsPcacheOnceStarted() throws Exception {
        try (PcacheProcess pcache = configured()) {
            pcache.start();
            long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            while (!pcache.log().contains("starting the framework")) {
                assertTrue(System.nanoTime() < deadline, "no start within 120 s:\n" + pcache.log());
                Thread.sleep(5);
            }
            assertEquals(0, pcache.stop(), "a clean stop:\n" + pcache.log());
            String log = pcache.log();
            assertTrue(log.contains("SIGTERM while starting") || log.contains("SIGTERM: stopping"), log);
            opensAgain(pcache);
        }
    }

    /** {@code stop 0} returns at once; the stop goes on in the instance and ends with status 0. */
    @Test
    void aStopCommandStopsPcacheWithStatusZero() throws Exception {
        try (PcacheProcess pcache = started()) {
            PcacheProcess.CtlResult stop = pcache.ctl("stop 0");
            assertEquals(0, stop.status(), stop.err());
            assertEquals(0, pcache.awaitExit(Duration.ofSeconds(90)), pcache.log());
            assertTrue(pcache.log().contains("cache s closed"), pcache.log());
            assertTrue(Files.notExists(pcache.dataDir().resolve("pcache.ctl")), "the control socket is removed");
        }
    }
}
