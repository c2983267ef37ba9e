package pcache.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.URI;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import pcache.api.config.BackingLocation;
import pcache.api.config.ConfigPids;

class BackingTargetTest {

    private static final Path CWD = Path.of("/srv/pcache");

    @Test
    void filesAreResolvedAgainstTheCurrentDirectory() {
        assertEquals(new BackingLocation.File(Path.of("/srv/pcache/disk.img")), BackingTarget.parse("file:disk.img", CWD));
        assertEquals(new BackingLocation.File(Path.of("/data/disk.img")), BackingTarget.parse("file:///data/disk.img", CWD));
        assertEquals(new BackingLocation.File(Path.of("/data/disk.img")), BackingTarget.parse("FILE:/data/../data/disk.img", CWD));
        assertEquals(ConfigPids.BACKING_FILE, BackingTarget.parse("file:x", CWD).pid());
    }

    @Test
    void nbdUrisAreKeptAsGiven() {
        BackingLocation t = BackingTarget.parse("nbd://10.0.0.2:10810/disk", CWD);
        assertEquals(new BackingLocation.Nbd(URI.create("nbd://10.0.0.2:10810/disk")), t);
        assertEquals(ConfigPids.BACKING_NBD, t.pid());
        assertEquals("nbd+unix:///disk?socket=/run/d.sock", BackingTarget.parse("nbd+unix:///disk?socket=/run/d.sock", CWD).text());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "disk.img|file:PATH, nbd[s]://HOST[:PORT]/EXPORT or nbd[s]+unix:///EXPORT?socket=PATH",
        "ftp://x/y|(unknown scheme 'ftp')",
        "file:|file:PATH with a non-empty PATH",
        "nbd:///disk|nbd://HOST[:PORT]/EXPORT with a host",
        "nbd://h:70000/disk|a port from 1 to 65535",
        "nbd://h/disk?x=1|without a query",
        "nbd+unix://h/disk?socket=/s|(no host)",
        "nbd+unix:///disk|with a socket path",
        "nbd+unix:///disk?sock=/s|unknown parameter 'sock=/s'"})
    void mistakesSayWhatIsExpected(String value, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BackingTarget.parse(value, CWD));
        assertEquals(true, e.getMessage().startsWith("backing device '" + value + "': expected "), e.getMessage());
        assertEquals(true, e.getMessage().contains(expected), e.getMessage());
    }
}
