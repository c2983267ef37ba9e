package pcache.tls.internal.psk;

import java.nio.file.Files;
import java.nio.file.Path;

import org.bouncycastle.tls.ProtocolVersion;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import pcache.api.tls.TlsSettings;
import pcache.tls.internal.DefaultTlsProvider;
import pcache.tls.internal.ReceiveAheadChecks;
import pcache.tls.internal.TestPki;

/** Bouncy Castle's channel knows exactly what has arrived: the protocol decrypts as records are offered. */
@Timeout(60)
class PskReceiveAheadTest {

    @TempDir
    Path temp;

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void receivesAhead(String protocol) throws Exception {
        Path keys = temp.resolve("keys.psk");
        Files.writeString(keys, "alice:" + PskHandshakeTest.randomKey() + "\n");
        TestPki.ownerOnly(keys);
        DefaultTlsProvider provider = new DefaultTlsProvider();
        PskEndpoint server = ((PskEndpoint) provider.server(TlsSettings.psk(keys, null)))
                .restrictedTo(protocol.equals("TLSv1.3") ? ProtocolVersion.TLSv13 : ProtocolVersion.TLSv12);
        ReceiveAheadChecks.check(server, provider.client(TlsSettings.psk(keys, null)), true,
                BcTlsChannel.MAX_AHEAD_BYTES);
    }
}
