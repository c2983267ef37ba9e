package pcache.api.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import pcache.api.tls.TlsSettings;

/** The NBD export's configuration rules and their messages, as every front end sees them. */
class ExportDefinitionTest {
    @TempDir
    Path base;

    private static Map<String, Object> values(Object... keyValues) {
        Map<String, Object> m = new HashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            m.put((String) keyValues[i], keyValues[i + 1]);
        }
        return m;
    }

    private List<String> problems(Object... keyValues) {
        ExportDefinition.Parsed p = ExportDefinition.parse(values(keyValues), base, "nbd.");
        assertTrue(p.definition().isEmpty(), "expected problems");
        return p.problems();
    }

    private ExportDefinition definition(Object... keyValues) {
        ExportDefinition.Parsed p = ExportDefinition.parse(values(keyValues), base, "nbd.");
        assertEquals(List.of(), p.problems());
        return p.definition().orElseThrow();
    }

    @Test
    void theDefaultsAreLoopbackWithoutTls() {
        ExportDefinition d = definition();
        assertEquals(List.of("127.0.0.1:10809"), d.listen());
        assertEquals(ExportTlsMode.OFF, d.tls());
        assertEquals(Optional.empty(), d.tlsSettings());
        assertFalse(d.insecureAllowCleartextNetwork());
    }

    @Test
    void readViewsAreOnByDefaultAndTakeThreeValues() {
        assertEquals("on", definition().readViews());
        assertEquals("on", definition().properties().get("read_views"));
        assertEquals("auto", definition("read_views", " auto ").readViews());
        assertEquals("off", definition("read_views", "off").properties().get("read_views"));
        assertEquals(List.of("nbd.read_views=sometimes: expected auto, on or off"), problems("read_views", "sometimes"));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> new ExportDefinition(
                List.of("127.0.0.1:1"), ExportTlsMode.OFF, Optional.empty(), Optional.empty(), Optional.empty(), false,
                "TCP"));
        assertEquals("on", new ExportDefinition(List.of("127.0.0.1:1"), ExportTlsMode.OFF, Optional.empty(),
                Optional.empty(), Optional.empty(), false).readViews(), "the 1.3 constructor takes the default");
    }

    @Test
    void tlsModesAndTheirMistakes() {
        assertEquals(List.of("nbd.tls=maybe: expected off, on or require"), problems("tls", "maybe"));
        assertEquals(List.of("nbd.tls=require needs credentials: set nbd.tls_certificates=DIR (server-cert.pem, "
                + "server-key.pem, ca-cert.pem to verify clients) or nbd.tls_psk_file=FILE (identity:hexkey lines)"),
                problems("tls", "require"));
        assertEquals(List.of("nbd.tls_certificates and nbd.tls_psk_file are both set: expected one of them "
                + "(X.509 certificates or pre-shared keys)"),
                problems("tls", "on", "tls_certificates", "tls", "tls_psk_file", "keys.psk"));
        assertEquals(List.of("nbd.tls_psk_file=keys.psk is set but nbd.tls=off: set nbd.tls=on or require to use it, "
                + "or remove it"), problems("tls_psk_file", "keys.psk"));
        assertEquals(List.of("nbd.tls_verify_peer=yes: expected true or false"),
                problems("tls", "on", "tls_certificates", "tls", "tls_verify_peer", "yes"));
        assertEquals(List.of("nbd.tls_verify_peer=false applies to nbd.tls_certificates: with nbd.tls_psk_file every "
                + "client proves its identity by its key; remove it"),
                problems("tls", "on", "tls_psk_file", "keys.psk", "tls_verify_peer", "false"));
    }

    @Test
    void theSameRulesSpeakConfigAdminNamesThere() {
        ExportDefinition.Parsed p = ExportDefinition.parse(values("tls", "require"), base, "");
        assertTrue(p.problems().get(0).startsWith("tls=require needs credentials: set tls_certificates=DIR"),
                p.problems().toString());
    }

    @Test
    void certificatesAreVerifiedWhenTheDirectoryHoldsACaCertificateUnlessSaidOtherwise() throws IOException {
        Path dir = Files.createDirectory(base.resolve("tls"));
        assertEquals(TlsSettings.certificates(dir, false, null),
                definition("tls", "require", "tls_certificates", "tls").tlsSettings().orElseThrow());
        Files.writeString(dir.resolve("ca-cert.pem"), "");
        assertEquals(TlsSettings.certificates(dir, true, null),
                definition("tls", "require", "tls_certificates", "tls").tlsSettings().orElseThrow());
        assertEquals(TlsSettings.certificates(dir, false, null),
                definition("tls", "ON", "tls_certificates", dir.toString(), "tls_verify_peer", Boolean.FALSE)
                        .tlsSettings().orElseThrow());
        assertEquals(TlsSettings.psk(base.resolve("keys.psk"), null),
                definition("tls", "on", "tls_psk_file", "keys.psk").tlsSettings().orElseThrow());
    }

    @Test
    void aListenAddressOtherMachinesReachNeedsTlsOrTheInsecureKey() {
        List<String> refused = problems("listen", "127.0.0.1:10809,0.0.0.0:10809");
        assertEquals(1, refused.size(), refused.toString());
        assertEquals("nbd.listen=0.0.0.0:10809 is reachable from other machines but nbd.tls=off: anyone on the network "
                + "could read and overwrite the caches. Set nbd.tls=require with nbd.tls_certificates or "
                + "nbd.tls_psk_file, listen on a loopback address or a unix socket, or set "
                + "nbd.insecure_allow_cleartext_network=true to accept clear text on the network", refused.get(0));
        assertTrue(definition("listen", "0.0.0.0:10809", "insecure_allow_cleartext_network", "true")
                .insecureAllowCleartextNetwork());
        assertEquals(ExportTlsMode.REQUIRE,
                definition("listen", "[::]:10809", "tls", "require", "tls_psk_file", "k").tls());
        definition("listen", "localhost:10809,[::1]:0,unix:nbd.sock");

        // tls=on serves a client that skips STARTTLS in clear text: on the network it needs the key
        // too (before, it was accepted, and such clients were served in clear text without a word)
        assertEquals(List.of("nbd.listen=0.0.0.0:10809 is reachable from other machines but nbd.tls=on, which serves a"
                + " client that does not ask for TLS in clear text: anyone on the network could read and overwrite the"
                + " caches without TLS. Set nbd.tls=require with nbd.tls_certificates or nbd.tls_psk_file, listen on a"
                + " loopback address or a unix socket, or set nbd.insecure_allow_cleartext_network=true to accept"
                + " clear text on the network"),
                problems("listen", "0.0.0.0:10809", "tls", "on", "tls_psk_file", "k"));
        assertEquals(ExportTlsMode.ON, definition("listen", "0.0.0.0:10809", "tls", "on", "tls_psk_file", "k",
                "insecure_allow_cleartext_network", "true").tls());
        definition("listen", "127.0.0.1:10809", "tls", "on", "tls_psk_file", "k");
        assertFalse(ExportDefinition.exposesNetwork("unix:/run/nbd.sock"));
        assertTrue(ExportDefinition.exposesNetwork("192.0.2.1:10809"));
        assertTrue(ExportDefinition.exposesNetwork("no-such-host.invalid:10809"), "unresolvable: assume the worst");
    }

    @Test
    void listenSyntaxAndPaths() {
        assertEquals(List.of("nbd.listen=10809: expected " + ExportDefinition.LISTEN_EXPECTED), problems("listen", "10809"));
        assertEquals(List.of("nbd.listen=localhost:http: expected " + ExportDefinition.LISTEN_EXPECTED
                + " with a port from 0 to 65535"), problems("listen", "localhost:http"));
        assertEquals(List.of("unix:" + base.resolve("nbd.sock")), definition("listen", "unix:nbd.sock").listen());
    }

    @Test
    void propertiesRoundTrip() throws IOException {
        Path dir = Files.createDirectory(base.resolve("tls"));
        ExportDefinition d = definition("listen", "127.0.0.1:0, unix:s", "tls", "require", "tls_certificates", "tls",
                "tls_verify_peer", "true");
        Map<String, Object> p = d.properties();
        assertEquals("127.0.0.1:0,unix:" + base.resolve("s"), p.get("listen"));
        assertEquals("require", p.get("tls"));
        assertEquals(dir.toString(), p.get("tls_certificates"));
        assertEquals(Boolean.TRUE, p.get("tls_verify_peer"));
        assertEquals(Boolean.FALSE, p.get("insecure_allow_cleartext_network"));
        assertEquals(1, p.get("tlsProvider.cardinality.minimum"), "the component waits for a TLS provider");
        assertEquals(null, definition().properties().get("tlsProvider.cardinality.minimum"));
        assertEquals(d, ExportDefinition.parse(p, Path.of("/elsewhere"), "").definition().orElseThrow());
    }
}
