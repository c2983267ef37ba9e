package pcache.tls.internal.x509;

import java.io.EOFException;
import java.io.IOException;
import java.nio.channels.ByteChannel;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;

import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManager;

import pcache.api.tls.TlsChannel;
import pcache.api.tls.TlsConfigurationException;
import pcache.api.tls.TlsEndpoint;
import pcache.api.tls.TlsHandshakeException;
import pcache.api.tls.TlsSettings;
import pcache.tls.internal.credentials.CertificateDirectory;
import pcache.tls.internal.credentials.CertificateDirectory.X509Credentials;

/**
 * X.509 through the JDK's JSSE: one {@link SSLContext} per endpoint made from a certificate
 * directory, one {@link SSLEngine} per connection. TLS 1.3 and 1.2 only, AES-128-GCM preferred
 * ({@link SuiteOrder}).
 */
public final class JsseEndpoint implements TlsEndpoint {

    static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};

    private final SSLContext context;
    private final boolean server;
    private final boolean verifyPeer;
    private final String serverName;
    private final Path caFile;
    private final Path directory;
    private final String description;
    private final String[] protocols;
    private boolean hasOwnCertificate;

    private JsseEndpoint(SSLContext context, boolean server, boolean verifyPeer, String serverName,
                         CertificateDirectory directory, String description) {
        this(context, server, verifyPeer, serverName, directory.file(CertificateDirectory.CA_CERT),
                directory.directory(), description, PROTOCOLS);
    }

    private JsseEndpoint(SSLContext context, boolean server, boolean verifyPeer, String serverName, Path caFile,
                         Path directory, String description, String[] protocols) {
        this.context = context;
        this.server = server;
        this.verifyPeer = verifyPeer;
        this.serverName = serverName;
        this.caFile = caFile;
        this.directory = directory;
        this.description = description;
        this.protocols = protocols;
    }

    /** This endpoint limited to some of {@link #PROTOCOLS} (tests pin TLS 1.2 with it). */
    JsseEndpoint restrictedTo(String... only) {
        JsseEndpoint copy = new JsseEndpoint(context, server, verifyPeer, serverName, caFile, directory, description,
                only.clone());
        copy.hasOwnCertificate = hasOwnCertificate;
        return copy;
    }

    /** A server's endpoint: its certificate and key, and the CA that signs clients when it verifies them. */
    public static JsseEndpoint server(TlsSettings settings) throws TlsConfigurationException {
        CertificateDirectory directory = new CertificateDirectory(settings.certificateDirectory());
        X509Credentials credentials = directory.serverCredentials();
        PeerVerifier verifier = null;
        if (settings.verifyPeer()) {
            if (!directory.has(CertificateDirectory.CA_CERT)) {
                throw new TlsConfigurationException("nbd.tls_verify_peer=true needs "
                        + directory.file(CertificateDirectory.CA_CERT) + " (the CA that signs client certificates),"
                        + " which does not exist: add it, or set nbd.tls_verify_peer=false");
            }
            verifier = verifier(directory);
        }
        SSLContext context = context(credentials, verifier == null ? PeerVerifier.acceptingAll() : verifier);
        String description = "X.509 from " + directory.directory() + (settings.verifyPeer()
                ? ", client certificates verified against " + directory.file(CertificateDirectory.CA_CERT)
                : ", client certificates not requested");
        JsseEndpoint endpoint = new JsseEndpoint(context, true, settings.verifyPeer(), null, directory, description);
        endpoint.hasOwnCertificate = true;
        return endpoint;
    }

    /** A client's endpoint: the CA that signs the server, and a client certificate when the directory has one. */
    public static JsseEndpoint client(TlsSettings settings) throws TlsConfigurationException {
        CertificateDirectory directory = new CertificateDirectory(settings.certificateDirectory());
        PeerVerifier verifier = PeerVerifier.acceptingAll();
        if (settings.verifyPeer()) {
            if (!directory.has(CertificateDirectory.CA_CERT)) {
                throw new TlsConfigurationException("verifying the server needs "
                        + directory.file(CertificateDirectory.CA_CERT) + " (the CA that signs the server's"
                        + " certificate), which does not exist: add it, or turn verification off");
            }
            verifier = verifier(directory);
        }
        X509Credentials credentials = directory.clientCredentials();
        SSLContext context = context(credentials, verifier);
        String description = "X.509 from " + directory.directory()
                + (settings.verifyPeer() ? ", server verified against " + directory.file(CertificateDirectory.CA_CERT)
                        + (settings.serverName() != null ? " as '" + settings.serverName() + "'" : "")
                        : ", server NOT verified")
                + (credentials != null ? ", client certificate " + directory.file(CertificateDirectory.CLIENT_CERT)
                        : ", no client certificate");
        JsseEndpoint endpoint = new JsseEndpoint(context, false, settings.verifyPeer(), settings.serverName(), directory,
                description);
        endpoint.hasOwnCertificate = credentials != null;
        return endpoint;
    }

    private static PeerVerifier verifier(CertificateDirectory directory) throws TlsConfigurationException {
        var ca = directory.caCertificates();
        try {
            return PeerVerifier.trusting(ca, directory.file(CertificateDirectory.CA_CERT));
        } catch (GeneralSecurityException e) {
            throw new TlsConfigurationException("cannot use the CA certificates in "
                    + directory.file(CertificateDirectory.CA_CERT) + ": " + e.getMessage(), e);
        }
    }

    private static SSLContext context(X509Credentials credentials, PeerVerifier verifier)
            throws TlsConfigurationException {
        try {
            KeyManager[] keyManagers = null;
            if (credentials != null) {
                KeyStore store = KeyStore.getInstance("PKCS12");
                store.load(null, null);
                char[] password = new char[0];
                store.setKeyEntry("key", credentials.key(), password,
                        credentials.chain().toArray(new X509Certificate[0]));
                KeyManagerFactory factory = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                factory.init(store, password);
                keyManagers = factory.getKeyManagers();
            }
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(keyManagers, new TrustManager[] {verifier}, new SecureRandom());
            return context;
        } catch (GeneralSecurityException | IOException e) {
            throw new TlsConfigurationException("the JDK cannot use these credentials: " + e, e);
        }
    }

    @Override
    public TlsChannel handshake(ByteChannel transport, String peer) throws IOException {
        SSLEngine engine = serverName != null ? context.createSSLEngine(serverName, -1) : context.createSSLEngine();
        engine.setUseClientMode(!server);
        SSLParameters parameters = engine.getSSLParameters();
        parameters.setProtocols(protocols);
        if (!SuiteOrder.operatorOrdered(server)) {
            parameters.setCipherSuites(SuiteOrder.preferAes128(parameters.getCipherSuites()));
        }
        if (server) {
            parameters.setUseCipherSuitesOrder(true);
            parameters.setNeedClientAuth(verifyPeer);
        } else if (verifyPeer && serverName != null) {
            parameters.setEndpointIdentificationAlgorithm("HTTPS");
        }
        engine.setSSLParameters(parameters);
        SslEngineChannel channel = new SslEngineChannel(transport, engine, e -> HandshakeFailures.describe(e, server,
                peer, verifyPeer, hasOwnCertificate, caFile, directory));
        try {
            channel.handshake(verifyPeer);
            return channel;
        } catch (SSLException e) {
            channel.sendAlert();
            transport.close();
            throw HandshakeFailures.describe(e, server, peer, verifyPeer, hasOwnCertificate, caFile, directory);
        } catch (EOFException e) {
            transport.close();
            throw new TlsHandshakeException((server ? "client " : "server ") + peer
                    + " closed the connection during the TLS handshake"
                    + (server ? "" : " (it may require a client certificate, or not accept ours)"), e);
        } catch (IOException | RuntimeException e) {
            transport.close();
            throw e;
        }
    }

    @Override
    public String describe() {
        return description;
    }
}
