package pcache.tls.internal.psk;

import java.io.IOException;
import java.nio.channels.ByteChannel;

import pcache.api.tls.TlsChannel;
import pcache.api.tls.TlsConfigurationException;
import pcache.api.tls.TlsEndpoint;
import pcache.api.tls.TlsSettings;

/** Pre-shared keys through Bouncy Castle's TLS API (in progress). */
public final class PskEndpoint implements TlsEndpoint {

    private PskEndpoint() {
    }

    public static PskEndpoint server(TlsSettings settings) throws TlsConfigurationException {
        throw new TlsConfigurationException("TLS with pre-shared keys is not implemented yet");
    }

    public static PskEndpoint client(TlsSettings settings) throws TlsConfigurationException {
        throw new TlsConfigurationException("TLS with pre-shared keys is not implemented yet");
    }

    @Override
    public TlsChannel handshake(ByteChannel transport, String peer) throws IOException {
        throw new UnsupportedOperationException();
    }

    @Override
    public String describe() {
        return "PSK";
    }
}
