package pcache.tls.internal.psk;

import java.io.EOFException;
import java.io.IOException;
import java.nio.channels.ByteChannel;
import java.security.SecureRandom;

import org.bouncycastle.tls.ProtocolVersion;
import org.bouncycastle.tls.TlsClientProtocol;
import org.bouncycastle.tls.TlsException;
import org.bouncycastle.tls.TlsServerProtocol;
import org.bouncycastle.tls.crypto.TlsCrypto;
import org.bouncycastle.tls.crypto.impl.jcajce.JcaTlsCryptoProvider;

import pcache.api.tls.TlsChannel;
import pcache.api.tls.TlsConfigurationException;
import pcache.api.tls.TlsEndpoint;
import pcache.api.tls.TlsSettings;
import pcache.tls.internal.credentials.PskFile;

/**
 * Pre-shared keys through Bouncy Castle's TLS API, which JSSE lacks. The cryptography is the
 * JDK's (Bouncy Castle's JCA-backed {@code JcaTlsCrypto} over the default providers: AES-GCM with
 * the JDK's intrinsics), so no security provider is installed.
 */
public final class PskEndpoint implements TlsEndpoint {

    private final TlsCrypto crypto;
    private final PskFile keys;
    private final boolean server;
    private final String clientIdentity;
    private final ProtocolVersion[] versions;

    private PskEndpoint(TlsCrypto crypto, PskFile keys, boolean server, String clientIdentity,
                        ProtocolVersion[] versions) {
        this.crypto = crypto;
        this.keys = keys;
        this.server = server;
        this.clientIdentity = clientIdentity;
        this.versions = versions;
    }

    /** A server that accepts every identity in the settings' PSK file. */
    public static PskEndpoint server(TlsSettings settings) throws TlsConfigurationException {
        return new PskEndpoint(crypto(), PskFile.read(settings.pskFile()), true, null, PskSuites.VERSIONS);
    }

    /** A client that presents the settings' identity (null: the file's first). */
    public static PskEndpoint client(TlsSettings settings) throws TlsConfigurationException {
        PskFile keys = PskFile.read(settings.pskFile());
        String identity = settings.pskIdentity() != null ? settings.pskIdentity() : keys.firstIdentity();
        if (keys.key(identity) == null) {
            throw new TlsConfigurationException("PSK identity '" + identity + "' is not in " + settings.pskFile()
                    + ": add a line " + identity + ":HEXKEY (psktool -u " + identity + " -p " + settings.pskFile()
                    + ") or choose an identity it has");
        }
        return new PskEndpoint(crypto(), keys, false, identity, PskSuites.VERSIONS);
    }

    private static TlsCrypto crypto() {
        return new JcaTlsCryptoProvider().create(new SecureRandom());
    }

    /** This endpoint limited to some TLS versions (tests pin TLS 1.2 with it). */
    PskEndpoint restrictedTo(ProtocolVersion... only) {
        return new PskEndpoint(crypto, keys, server, clientIdentity, only.clone());
    }

    @Override
    public TlsChannel handshake(ByteChannel transport, String peer) throws IOException {
        PskServerPeer serverPeer = null;
        BcTlsChannel channel;
        if (server) {
            serverPeer = new PskServerPeer(crypto, keys);
            serverPeer.versions = versions;
            TlsServerProtocol protocol = Protocols.server();
            PskServerPeer finalPeer = serverPeer;
            channel = new BcTlsChannel(transport, protocol, finalPeer::context, e -> describe(e, peer, finalPeer));
            try {
                protocol.accept(serverPeer);
            } catch (IOException e) {
                transport.close();
                throw describe(e, peer, serverPeer);
            }
        } else {
            PskClientPeer clientPeer = new PskClientPeer(crypto, clientIdentity, keys.key(clientIdentity));
            clientPeer.versions = versions;
            TlsClientProtocol protocol = Protocols.client();
            channel = new BcTlsChannel(transport, protocol, clientPeer::context, e -> describe(e, peer, null));
            try {
                protocol.connect(clientPeer);
            } catch (IOException e) {
                transport.close();
                throw describe(e, peer, null);
            }
        }
        try {
            channel.handshake();
        } catch (TlsException e) {
            channel.sendAlert();
            transport.close();
            throw describe(e, peer, serverPeer);
        } catch (EOFException e) {
            transport.close();
            throw describe(e, peer, serverPeer);
        } catch (IOException | RuntimeException e) {
            transport.close();
            throw e;
        }
        channel.peerIdentity(server ? serverPeer.identity : clientIdentity);
        return channel;
    }

    private IOException describe(IOException e, String peer, PskServerPeer serverPeer) {
        return PskFailures.describe(e, server, peer, keys.file(),
                server ? serverPeer.identity : clientIdentity, server && serverPeer.known);
    }

    @Override
    public String describe() {
        return server ? "PSK from " + keys.file() + " (" + keys.keys().size() + " identities)"
                : "PSK identity '" + clientIdentity + "' from " + keys.file();
    }
}
