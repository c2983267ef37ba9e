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
}
