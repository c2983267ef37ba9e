package pcache.tls.internal.x509;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Path;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import pcache.api.tls.TlsSettings;
import pcache.tls.internal.ConcurrentTraffic;
import pcache.tls.internal.DefaultTlsProvider;
import pcache.tls.internal.LoopbackPair;
import pcache.tls.internal.TestPki;
import pcache.tls.internal.TestPki.Ca;

/**
 * Large transfers both ways at once on one X.509 channel. With the module's test security
 * properties TLS 1.3 updates its keys every MiB, so readers answer KeyUpdate messages while
 * writers write.
 */
class X509ConcurrencyTest {

    @TempDir
    Path temp;

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void bothDirectionsAtOnce(String protocol) throws Exception {
        Ca ca = TestPki.ca("ca");
        Path serverDir = TestPki.serverDirectory(temp.resolve("s"), ca,
                TestPki.entity(ca, "server", "localhost", "127.0.0.1", TestPki.ecKeys()));
        Path clientDir = TestPki.clientDirectory(temp.resolve("c"), ca,
                TestPki.entity(ca, "client", null, null, TestPki.ecKeys()));
        DefaultTlsProvider provider = new DefaultTlsProvider();
        JsseEndpoint server = ((JsseEndpoint) provider.server(TlsSettings.certificates(serverDir, true, null)))
                .restrictedTo(protocol);
        try (LoopbackPair pair = LoopbackPair.handshake(server,
                provider.client(TlsSettings.certificates(clientDir, true, "localhost")))) {
            assertNull(pair.serverFailure);
            assertNull(pair.clientFailure);
            assertEquals(protocol, pair.client.protocol());
            ConcurrentTraffic.run(pair.client, pair.server, 48L << 20, ConcurrentTraffic.seed());
        }
    }
}
