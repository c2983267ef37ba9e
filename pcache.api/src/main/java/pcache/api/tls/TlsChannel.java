package pcache.api.tls;

import java.nio.channels.ByteChannel;
import java.nio.channels.GatheringByteChannel;

import org.osgi.annotation.versioning.ProviderType;

/**
 * A connection after its TLS handshake: reads return decrypted application data, writes encrypt.
 * Blocking. One thread may read while another writes; concurrent writers are serialized, as are
 * concurrent readers.
 */
@ProviderType
public interface TlsChannel extends ByteChannel, GatheringByteChannel {

    /** The negotiated protocol, e.g. "TLSv1.3". */
    String protocol();

    /** The negotiated cipher suite. */
    String cipherSuite();

    /** Who the peer proved to be: its certificate's subject or its PSK identity; null if it proved nothing. */
    String peerIdentity();

    /**
     * Receives from the peer, waiting for it as a read does, until the next {@code bytes} bytes
     * of plaintext have arrived, so that reading them will not wait for the peer. A caller that
     * must not wait for the peer while it reads a large message (because it holds something others
     * need meanwhile) lets it arrive first, holding nothing.
     *
     * <p>A channel that decrypts as it reads judges by the sizes of the records it holds, never
     * counting less than they carry (so it never waits for bytes beyond the message); a peer whose
     * records carry less than their sizes allow (padding) can still make the read of the message's
     * last bytes wait for them. The default promises nothing.
     *
     * @param bytes plaintext bytes the caller is about to read
     * @return true when they can be read without waiting for the peer; false when the channel
     *         cannot tell, will not hold that many, or the peer ended the stream first (reads still
     *         work as always, and may wait)
     * @throws IOException when reading from the peer failed, as a read would have
     * @since 1.1
     */
    default boolean receiveAhead(long bytes) throws java.io.IOException {
        return false;
    }
}
