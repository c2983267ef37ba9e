package pcache.backing.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.StringLength;

class NbdUriTest {

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "nbd://example.com/disk|example.com|10809|disk|nbd://example.com:10809/disk",
            "nbd://Example.COM:1234/|example.com|1234|''|nbd://example.com:1234/",
            "nbd://localhost|localhost|10809|''|nbd://localhost:10809/",
            "NBD://127.0.0.1:10809/a%20b|127.0.0.1|10809|a b|nbd://127.0.0.1:10809/a%20b",
            "nbd://[::1]:7000/x/y|[::1]|7000|x/y|nbd://[::1]:7000/x/y",
            "nbd://h//abs|h|10809|/abs|nbd://h:10809//abs",
            "nbd://h/caf%C3%A9+1|h|10809|café+1|nbd://h:10809/caf%C3%A9%2B1"})
    void tcpForms(String text, String host, int port, String export, String normalised) {
        NbdUri uri = NbdUri.parse(text);
        assertEquals(NbdUri.Transport.TCP, uri.transport());
        assertEquals(host, uri.host());
        assertEquals(port, uri.port());
        assertEquals(export, uri.exportName());
        assertNull(uri.socketPath());
        assertEquals(normalised, uri.toString());
        assertEquals(uri, NbdUri.parse(uri.toString()));
    }

    @Test
    void unixForms() {
        NbdUri uri = NbdUri.parse("nbd+unix:///disk?socket=/run/nbd/../nbd.sock");
        assertEquals(NbdUri.Transport.UNIX, uri.transport());
        assertEquals(Path.of("/run/nbd.sock"), uri.socketPath());
        assertEquals("disk", uri.exportName());
        assertEquals("nbd+unix:///disk?socket=/run/nbd.sock", uri.toString());

        NbdUri defaultExport = NbdUri.parse("nbd+unix://?socket=/tmp/a%20b.sock");
        assertEquals("", defaultExport.exportName());
        assertEquals(Path.of("/tmp/a b.sock"), defaultExport.socketPath());
        assertEquals(defaultExport, NbdUri.parse(defaultExport.toString()));

        NbdUri relative = NbdUri.parse("nbd+unix:///?socket=rel.sock");
        assertTrue(relative.socketPath().isAbsolute());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "   ", "disk.img", "/dev/nbd0", "http://host/x", "nbd:disk",
            "nbds://host/x", "nbds+unix:///?socket=/s", "nbd://", "nbd:///x", "nbd://host:/x",
            "nbd://host:0/x", "nbd://host:70000/x", "nbd://host:abc/x", "nbd://user@host/x",
            "nbd://host/x?tls=on", "nbd://host/x#frag", "nbd://host/%zz", "nbd://host/%C3",
            "nbd://host/a%00b", "nbd+unix:///x", "nbd+unix:///x?socket=", "nbd+unix://host/x?socket=/s",
            "nbd+unix:///x?socket=/s&socket=/t", "nbd+unix:///x?sock=/s", "nbd://host/a b"})
    void badUrisNameTheUriAndTheExpectedForms(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> NbdUri.parse(text));
        assertTrue(e.getMessage().contains("'" + text + "'"), e.getMessage());
        assertTrue(e.getMessage().contains(NbdUri.EXPECTED_FORMS), e.getMessage());
    }

    @Test
    void tlsIsRejectedWithAReason() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> NbdUri.parse("nbds://host/x"));
        assertTrue(e.getMessage().contains("TLS"), e.getMessage());
    }

    @Property(tries = 300)
    void anyExportNameSurvivesNormalisation(@ForAll @StringLength(max = 40) String export) {
        if (export.indexOf('\0') >= 0 || !isWellFormed(export)) {
            return;
        }
        NbdUri uri = new NbdUri(NbdUri.Transport.TCP, "h", 1, null, export);
        assertEquals(uri, NbdUri.parse(uri.toString()));
        NbdUri unix = new NbdUri(NbdUri.Transport.UNIX, null, -1, Path.of("/s"), export);
        assertEquals(unix, NbdUri.parse(unix.toString()));
    }

    private static boolean isWellFormed(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c)) {
                if (i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1))) {
                    return false;
                }
                i++;
            } else if (Character.isLowSurrogate(c)) {
                return false;
            }
        }
        return true;
    }
}
