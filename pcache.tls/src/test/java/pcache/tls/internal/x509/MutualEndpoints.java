package pcache.tls.internal.x509;

import java.nio.file.Path;

import pcache.api.tls.TlsEndpoint;
import pcache.api.tls.TlsSettings;
import pcache.tls.internal.DefaultTlsProvider;
import pcache.tls.internal.TestPki;
import pcache.tls.internal.TestPki.Ca;

/**
 * A server and a client that verify each other with certificates of one fresh test CA (EC keys,
 * the server's for localhost and 127.0.0.1), the server restricted to one protocol version.
 */
record MutualEndpoints(JsseEndpoint server, TlsEndpoint client) {

    static MutualEndpoints create(Path dir, String protocol) throws Exception {
        Ca ca = TestPki.ca("ca");
        Path serverDir = TestPki.serverDirectory(dir.resolve("s"), ca,
                TestPki.entity(ca, "server", "localhost", "127.0.0.1", TestPki.ecKeys()));
        Path clientDir = TestPki.clientDirectory(dir.resolve("c"), ca,
                TestPki.entity(ca, "client", null, null, TestPki.ecKeys()));
        DefaultTlsProvider provider = new DefaultTlsProvider();
        JsseEndpoint server = ((JsseEndpoint) provider.server(TlsSettings.certificates(serverDir, true, null)))
                .restrictedTo(protocol);
        return new MutualEndpoints(server, provider.client(TlsSettings.certificates(clientDir, true, "localhost")));
    }
}
