package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.logging.Level;
import java.util.logging.LogRecord;

import org.junit.jupiter.api.Test;

class LogSetupTest {

    @Test
    void levelNames() {
        assertEquals(Level.SEVERE, LogSetup.parseLevel("error"));
        assertEquals(Level.WARNING, LogSetup.parseLevel("WARN"));
        assertEquals(Level.FINE, LogSetup.parseLevel(" Debug "));
        assertEquals(Level.FINEST, LogSetup.parseLevel("trace"));
        assertEquals(Level.CONFIG, LogSetup.parseLevel("config"));
        assertThrows(IllegalArgumentException.class, () -> LogSetup.parseLevel("verbose"));
    }

    @Test
    void verbosityOnlyMakesLouder() {
        assertEquals(Level.WARNING, LogSetup.effectiveLevel(Level.WARNING, 0));
        assertEquals(Level.INFO, LogSetup.effectiveLevel(Level.WARNING, 1));
        assertEquals(Level.FINE, LogSetup.effectiveLevel(Level.WARNING, 2));
        assertEquals(Level.FINEST, LogSetup.effectiveLevel(Level.WARNING, 7));
        assertEquals(Level.FINE, LogSetup.effectiveLevel(Level.FINE, 1));
    }

    @Test
    void frameworkLevels() {
        assertEquals(2, LogSetup.felixLevel(Level.WARNING));
        assertEquals(1, LogSetup.felixLevel(Level.OFF));
        assertEquals("warn", LogSetup.scrLevel(Level.WARNING));
        assertEquals("info", LogSetup.scrLevel(Level.INFO));
        assertEquals("debug", LogSetup.scrLevel(Level.FINEST));
    }

    @Test
    void oneLinePerRecord() {
        LogRecord r = new LogRecord(Level.WARNING, "backing {0} failed\nretrying");
        r.setParameters(new Object[] {"b0"});
        r.setLoggerName("pcache.engine.X");
        r.setInstant(Instant.parse("2026-01-01T00:00:00Z"));
        r.setThrown(new java.io.IOException("read failed", new IllegalStateException("gone")));
        String line = new OneLineFormatter().format(r);
        assertTrue(line.matches("\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} WARNING pcache\\.engine\\.X: "
                + "backing b0 failed retrying \\[java\\.io\\.IOException: read failed; caused by "
                + "java\\.lang\\.IllegalStateException: gone\\]" + System.lineSeparator()), line);
    }

    @Test
    void levelWords() {
        assertEquals("ERROR", OneLineFormatter.levelName(Level.SEVERE));
        assertEquals("INFO", OneLineFormatter.levelName(Level.INFO));
        assertEquals("DEBUG", OneLineFormatter.levelName(Level.CONFIG));
        assertEquals("DEBUG", OneLineFormatter.levelName(Level.FINE));
        assertEquals("TRACE", OneLineFormatter.levelName(Level.FINEST));
    }
}
