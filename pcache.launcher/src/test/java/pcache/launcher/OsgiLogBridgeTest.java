package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.logging.Level;

import org.junit.jupiter.api.Test;

/** Which Log Service entries the launcher prints, and the Log Service level of a run. */
class OsgiLogBridgeTest {

    @Test
    void theRunsLevelBecomesTheRootContextsLevel() {
        assertEquals("ERROR", OsgiLogBridge.osgiLevel(Level.SEVERE));
        assertEquals("WARN", OsgiLogBridge.osgiLevel(Level.WARNING));
        assertEquals("INFO", OsgiLogBridge.osgiLevel(Level.INFO));
        assertEquals("DEBUG", OsgiLogBridge.osgiLevel(Level.FINE));
        assertEquals("TRACE", OsgiLogBridge.osgiLevel(Level.FINEST));
        assertEquals("TRACE", OsgiLogBridge.osgiLevel(Level.ALL));
        assertEquals("AUDIT", OsgiLogBridge.osgiLevel(Level.OFF));
    }

    @Test
    void otherBundlesEntriesArePrintedPcachesAndFrameworkEventsAreNot() {
        assertTrue(OsgiLogBridge.prints("org.apache.felix.scr", "ROOT"));
        assertTrue(OsgiLogBridge.prints(null, null));
        assertFalse(OsgiLogBridge.prints("pcache.engine", "pcache.engine.internal.PcacheTargetComponent"));
        assertFalse(OsgiLogBridge.prints("org.apache.felix.gogo.shell", "Events.Service"));
    }

    @Test
    void theBundlesReadTheSamePropertyNameTheLauncherSets() throws Exception {
        assertEquals(OsgiLogBridge.ALSO_TO_SYSTEM_LOGGER,
                Class.forName("pcache.io.log.Log").getField("ALSO_TO_SYSTEM_LOGGER").get(null));
    }
}
