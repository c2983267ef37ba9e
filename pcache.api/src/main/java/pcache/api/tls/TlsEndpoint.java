package pcache.api.tls;

import java.io.IOException;
import java.nio.channels.ByteChannel;

import org.osgi.annotation.versioning.ProviderType;

/**
 * One side's loaded credentials, reusable for any number of connections. Thread-safe.
 */
@ProviderType
public interface TlsEndpoint {

    /**
     * Runs the TLS handshake over {@code transport}, a connected channel in blocking mode on which
     * the NBD STARTTLS exchange has just completed. The caller bounds the time it takes by closing
     * the transport.
     *
     * @param peer names the other side in messages (an address)
     * @return the channel that now carries the connection, encrypted; closing it sends close_notify
     *         and closes {@code transport}
     * @throws TlsHandshakeException when the peer is refused or refuses (unknown PSK identity,
     *         certificate not trusted, no common protocol), naming why
     * @throws IOException when the transport fails
     */
    TlsChannel handshake(ByteChannel transport, String peer) throws IOException;

    /** What this endpoint uses, for logs and status: "X.509 from DIR, client certificates verified". */
    String describe();
}
