package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.logging.Level;
import java.util.logging.LogRecord;

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
    void frameworkEventsAreNotPrinted() {
        assertTrue(OsgiLogBridge.prints("ROOT"));
        assertTrue(OsgiLogBridge.prints("pcache.engine.internal.PcacheTargetComponent"));
        assertTrue(OsgiLogBridge.prints(null));
        assertFalse(OsgiLogBridge.prints("Events.Service"));
    }

    @Test
    void anEntryRepeatingARecordPcachePrintedIsSkippedOnceOthersArePrinted() {
        OsgiLogBridge bridge = new OsgiLogBridge();
        bridge.setLevel(Level.ALL);
        String logger = "pcache.engine.internal.PcacheTargetComponent";
        LogRecord open = new LogRecord(Level.INFO, "cache {0} open: {1}");
        open.setLoggerName(logger);
        open.setParameters(new Object[] {"a", "0 31"});
        bridge.publish(open);
        bridge.publish(open);
        // what SCR says about the same component is another text: printed
        assertFalse(bridge.printedAlready(logger, "The activate method has thrown an exception"));
        assertTrue(bridge.printedAlready(logger, "cache a open: 0 31"));
        assertTrue(bridge.printedAlready(logger, "cache a open: 0 31"));
        assertFalse(bridge.printedAlready(logger, "cache a open: 0 31"));
        assertFalse(bridge.printedAlready("pcache.other", "cache a open: 0 31"));
    }

    @Test
    void onlyTheLatestRecordsAreRemembered() {
        OsgiLogBridge bridge = new OsgiLogBridge();
        bridge.setLevel(Level.ALL);
        for (int i = 0; i < OsgiLogBridge.REMEMBERED + 10; i++) {
            LogRecord r = new LogRecord(Level.INFO, "record " + i);
            r.setLoggerName("pcache.x");
            bridge.publish(r);
        }
        assertFalse(bridge.printedAlready("pcache.x", "record 9"));
        assertTrue(bridge.printedAlready("pcache.x", "record 10"));
        assertTrue(bridge.printedAlready("pcache.x", "record " + (OsgiLogBridge.REMEMBERED + 9)));
    }

    @Test
    void theBundlesReadTheSamePropertyNameTheLauncherSets() throws Exception {
        assertEquals(OsgiLogBridge.ALSO_TO_SYSTEM_LOGGER,
                Class.forName("pcache.io.log.Log").getField("ALSO_TO_SYSTEM_LOGGER").get(null));
    }
}
