package pcache.backing.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.StringLength;

import pcache.backing.nbd.internal.NbdTlsOptions.Key;

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
            "nbds:///x", "nbds+unix://host/x?socket=/s", "nbd://", "nbd:///x", "nbd://host:/x",
            "nbd://host:0/x", "nbd://host:70000/x", "nbd://host:abc/x", "nbd://user@host/x",
            "nbd://host/x?tls=on", "nbd://host/x#frag", "nbd://host/%zz", "nbd://host/%C3",
            "nbd://host/a%00b", "nbd+unix:///x", "nbd+unix:///x?socket=", "nbd+unix://host/x?socket=/s",
            "nbd+unix:///x?socket=/s&socket=/t", "nbd+unix:///x?sock=/s", "nbd://host/a b",
            "nbd://host/x?tls-certificates=/c", "nbd+unix:///x?socket=/s&tls-psk-file=/k",
            "nbd+unix://alice@/x?socket=/s", "nbds://host/x?tls-cert=/c", "nbds://host/x?socket=/s",
            "nbds://host/x?tls-certificates=/a&tls-certificates=/b", "nbds://@host/x",
            "nbds://alice@host/x?tls-username=bob", "nbds://host/x?tls-psk-file=",
            "nbds+unix:///x?tls-psk-file=/k", "nbds+vsock:///x", "nbd+vsock:///x"})
    void badUrisNameTheUriAndTheExpectedForms(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> NbdUri.parse(text));
        assertTrue(e.getMessage().contains("'" + text + "'"), e.getMessage());
        assertTrue(e.getMessage().contains(NbdUri.EXPECTED_FORMS), e.getMessage());
    }

    @Test
    void tlsForms() {
        NbdUri tcp = NbdUri.parse("NBDS://alice@Host:1234/disk?tls-psk-file=/etc/k%20s.psk");
        assertTrue(tcp.tls());
        assertEquals(NbdUri.Transport.TCP, tcp.transport());
        assertEquals("host", tcp.host());
        assertEquals(1234, tcp.port());
        assertEquals("disk", tcp.exportName());
        assertEquals(Map.of(Key.USERNAME, "alice", Key.PSK_FILE, "/etc/k s.psk"),
                tcp.tlsParameters());
        assertEquals("nbds://host:1234/disk?tls-psk-file=/etc/k%20s.psk&tls-username=alice",
                tcp.toString());
        assertEquals(tcp, NbdUri.parse(tcp.toString()));
        assertEquals("nbds://host:1234/disk", tcp.location());
        assertEquals("nbd://host:1234/disk", tcp.identityText());

        NbdUri unix = NbdUri.parse("nbds+unix://bob@/disk?socket=/run/s.sock"
                + "&tls-certificates=/etc/pki/nbd&tls-verify-peer=false&tls-username=bob");
        assertTrue(unix.tls());
        assertEquals(Path.of("/run/s.sock"), unix.socketPath());
        assertEquals(Map.of(Key.USERNAME, "bob", Key.CERTIFICATES, "/etc/pki/nbd",
                Key.VERIFY_PEER, "false"), unix.tlsParameters());
        assertEquals(unix, NbdUri.parse(unix.toString()));
        assertEquals("nbds+unix:///disk?socket=/run/s.sock", unix.location());
        assertEquals("nbd+unix:///disk?socket=/run/s.sock", unix.identityText());

        NbdUri bare = NbdUri.parse("nbds://h");
        assertTrue(bare.tls());
        assertEquals(Map.of(), bare.tlsParameters());
        assertEquals("nbds://h:10809/", bare.toString());

        NbdUri clear = NbdUri.parse("nbd://h/x");
        assertFalse(clear.tls());
        assertEquals(clear.toString(), clear.location());
        assertEquals(clear.toString(), clear.identityText());
    }

    @Test
    void tlsParametersOnAClearTextUriSayToUseNbds() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> NbdUri.parse("nbd://host/x?tls-certificates=/c"));
        assertTrue(e.getMessage().contains("nbds://"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> NbdUri.parse("nbd+unix:///x?socket=/s&tls-psk-file=/k"));
        assertTrue(e.getMessage().contains("tls-psk-file needs TLS: write nbds+unix://"),
                e.getMessage());
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
