package pcache.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class VersionReportTest {

    @Test
    void threeLines() {
        assertEquals("""
                pcache.shell 0.1.0.SNAPSHOT
                Java 17.0.15 (OpenJDK 64-Bit Server VM, Debian)
                OSGi framework org.apache.felix.framework 7.0.5
                """, VersionReport.format("0.1.0.SNAPSHOT", "org.apache.felix.framework", "7.0.5", "17.0.15",
                "OpenJDK 64-Bit Server VM, Debian"));
    }
}
