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

import pcache.api.tls.TlsSettings;
import pcache.backing.nbd.internal.NbdTlsOptions.Key;

/** The TLS settings of a backing device: one set of rules for the URI and the keys. */
class NbdTlsOptionsTest {

    private static NbdSettings settings(String uri, Map<Key, String> keys) {
        return NbdSettings.of("remote", uri, "", 1000, 1000, 10, 100, keys);
    }

    private static String refused(String uri, Map<Key, String> keys) {
        return assertThrows(IllegalArgumentException.class, () -> settings(uri, keys)).getMessage();
    }

    @Test
    void certificatesFromTheUriVerifyTheHostByDefault() {
        NbdSettings s = settings("nbds://Server.example:10810/disk?tls-certificates=/etc/pki/nbd",
                Map.of());
        assertEquals(new NbdTlsOptions(Path.of("/etc/pki/nbd"), null, null, true, null), s.tls());
        assertEquals(TlsSettings.certificates(Path.of("/etc/pki/nbd"), true, "server.example"),
                s.tls().settings(s.uri()));
    }

    @Test
    void ipv6HostsAreCheckedWithoutBracketsAndTlsHostnameOverridesTheHost() {
        NbdSettings s = settings("nbds://[::1]/d?tls-certificates=/c", Map.of());
        assertEquals("::1", s.tls().settings(s.uri()).serverName());
        s = settings("nbds+unix:///d?socket=/run/s&tls-certificates=/c&tls-hostname=nbd.example",
                Map.of());
        assertEquals("nbd.example", s.tls().settings(s.uri()).serverName());
        s = settings("nbds+unix:///d?socket=/run/s&tls-certificates=/c", Map.of());
        assertNull(s.tls().settings(s.uri()).serverName(), "a unix socket has no host: chain only");
        s = settings("nbds://h/d?tls-certificates=/c&tls-verify-peer=off", Map.of());
        assertEquals(TlsSettings.certificates(Path.of("/c"), false, null),
                s.tls().settings(s.uri()));
    }

    @Test
    void pskWithTheUserFromTheUriOrTheKey() {
        NbdSettings s = settings("nbds://alice@h/d?tls-psk-file=/k/keys.psk", Map.of());
        assertEquals(TlsSettings.psk(Path.of("/k/keys.psk"), "alice"), s.tls().settings(s.uri()));
        s = settings("nbds://h/d", Map.of(Key.PSK_FILE, "/k/keys.psk", Key.USERNAME, "bob"));
        assertEquals(TlsSettings.psk(Path.of("/k/keys.psk"), "bob"), s.tls().settings(s.uri()));
        s = settings("nbds://h/d", Map.of(Key.PSK_FILE, "/k/keys.psk"));
        assertEquals(TlsSettings.psk(Path.of("/k/keys.psk"), null), s.tls().settings(s.uri()),
                "no user: the file's first identity");
    }

    @Test
    void aValueGivenTwiceMustAgree() {
        NbdSettings same = settings("nbds://h/d?tls-psk-file=/k", Map.of(Key.PSK_FILE, "/k"));
        assertEquals(Path.of("/k"), same.tls().pskFile());
        String message = refused("nbds://h/d?tls-psk-file=/k", Map.of(Key.PSK_FILE, "/other"));
        assertTrue(message.startsWith("remote: nbds://h:10809/d: ")
                && message.contains("tls-psk-file is given twice, as '/k' in the URI and as "
                        + "'/other' in the key tls_psk_file"), message);
        // the URI says nothing about verification: the key counts
        assertFalse(settings("nbds://h/d?tls-certificates=/c", Map.of(Key.VERIFY_PEER, "false"))
                .tls().verifyPeer());
        message = refused("nbds://h/d?tls-certificates=/c&tls-verify-peer=true",
                Map.of(Key.VERIFY_PEER, "false"));
        assertTrue(message.contains("tls-verify-peer is given twice"), message);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "nbds://h/d|nbds:// needs credentials: tls-certificates=DIR",
            "nbds://h/d?tls-certificates=/c&tls-psk-file=/k|either tls-certificates or "
                    + "tls-psk-file",
            "nbds://h/d?tls-certificates=certs|tls-certificates (tls_certificates) must be an "
                    + "absolute path, got 'certs'",
            "nbds://h/d?tls-psk-file=/k&tls-verify-peer=false|tls-verify-peer=false does not apply",
            "nbds://h/d?tls-certificates=/c&tls-verify-peer=maybe|tls-verify-peer (tls_verify_peer)"
                    + " must be true or false, got 'maybe'",
            "nbds://alice@h/d?tls-certificates=/c|applies to tls-psk-file only",
            "nbds://h/d?tls-psk-file=/k&tls-hostname=x|tls-hostname applies to tls-certificates"})
    void badUriSettingsSayWhatIsWrong(String uri, String expected) {
        String message = refused(uri, Map.of());
        assertTrue(message.startsWith("remote: ") && message.contains(expected), message);
    }

    @Test
    void keysAreCheckedLikeUriParameters() {
        String message = refused("nbds://h/d", Map.of(Key.CERTIFICATES, "certs"));
        assertTrue(message.contains("tls-certificates (tls_certificates) must be an absolute "
                + "path, got 'certs'"), message);
        message = refused("nbds://h/d", Map.of(Key.PSK_FILE, "/k", Key.VERIFY_PEER, "false"));
        assertTrue(message.contains("tls-verify-peer=false does not apply"), message);
    }

    @Test
    void tlsKeysOnAClearTextUriAreRefused() {
        String message = refused("nbd://h/d", Map.of(Key.PSK_FILE, "/k"));
        assertTrue(message.contains("tls-psk-file (tls_psk_file) is set, but the URI is clear "
                + "text: write nbds://"), message);
        NbdSettings clear = settings("nbd://h/d", Map.of(Key.CERTIFICATES, " "));
        assertNull(clear.tls(), "blank values are not given");
    }

    @Test
    void tlsKeepsTheBackingIdentity() {
        NbdSettings clear = NbdSettings.of("r", "nbd://h:10809/disk");
        NbdSettings tls = NbdSettings.of("r", "nbds://alice@h/disk?tls-psk-file=/k");
        assertEquals("nbd:nbd://h:10809/disk", clear.identityId());
        assertEquals(clear.identityId(), tls.identityId());
        assertFalse(clear.uri().tls());
        assertNull(clear.tls());
    }
}
