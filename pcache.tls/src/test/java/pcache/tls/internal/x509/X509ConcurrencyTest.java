package pcache.tls.internal.x509;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Path;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import pcache.tls.internal.ConcurrentTraffic;
import pcache.tls.internal.LoopbackPair;

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
        MutualEndpoints endpoints = MutualEndpoints.create(temp, protocol);
        try (LoopbackPair pair = LoopbackPair.handshake(endpoints.server(), endpoints.client())) {
            assertNull(pair.serverFailure);
            assertNull(pair.clientFailure);
            assertEquals(protocol, pair.client.protocol());
            ConcurrentTraffic.run(pair.client, pair.server, 32L << 20, ConcurrentTraffic.seed());
        }
    }
}
