package pcache.tls.internal.credentials;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.util.List;

import pcache.api.tls.TlsConfigurationException;

/**
 * A certificate directory in the layout qemu, nbdkit and libnbd use. Only the files a side needs
 * are read, when it asks for them.
 */
public final class CertificateDirectory {

    /** The certificate authority that signs the peers' certificates. */
    public static final String CA_CERT = "ca-cert.pem";
    public static final String SERVER_CERT = "server-cert.pem";
    public static final String SERVER_KEY = "server-key.pem";
    public static final String CLIENT_CERT = "client-cert.pem";
    public static final String CLIENT_KEY = "client-key.pem";

    private final Path directory;

    public CertificateDirectory(Path directory) throws TlsConfigurationException {
        if (!Files.isDirectory(directory)) {
            throw new TlsConfigurationException("TLS certificate directory " + directory + " does not exist"
                    + " or is not a directory");
        }
        this.directory = directory;
    }

    /** The directory, for messages. */
    public Path directory() {
        return directory;
    }

    /** The path of {@code name} in this directory. */
    public Path file(String name) {
        return directory.resolve(name);
    }

    /** Whether {@code name} exists here. */
    public boolean has(String name) {
        return Files.exists(file(name));
    }

    /** The CA certificates in {@code ca-cert.pem}. */
    public List<X509Certificate> caCertificates() throws TlsConfigurationException {
        return PemFiles.certificates(file(CA_CERT));
    }

    /** The server's chain and key ({@code server-cert.pem}, {@code server-key.pem}). */
    public X509Credentials serverCredentials() throws TlsConfigurationException {
        return credentials(SERVER_CERT, SERVER_KEY);
    }

    /** The client's chain and key, or null when {@code client-cert.pem} is absent. */
    public X509Credentials clientCredentials() throws TlsConfigurationException {
        if (!has(CLIENT_CERT)) {
            if (has(CLIENT_KEY)) {
                throw new TlsConfigurationException(file(CLIENT_KEY) + " exists but " + file(CLIENT_CERT)
                        + " does not: add the client's certificate or remove the key");
            }
            return null;
        }
        return credentials(CLIENT_CERT, CLIENT_KEY);
    }

    private X509Credentials credentials(String certName, String keyName) throws TlsConfigurationException {
        List<X509Certificate> chain = PemFiles.certificates(file(certName));
        PrivateKey key = PemFiles.privateKey(file(keyName));
        checkPair(chain.get(0).getPublicKey(), key, file(certName), file(keyName));
        return new X509Credentials(chain, key);
    }

    /** Signs and verifies a sample: a key that does not belong to its certificate fails every handshake. */
    private static void checkPair(PublicKey publicKey, PrivateKey key, Path certFile, Path keyFile)
            throws TlsConfigurationException {
        String algorithm = switch (key.getAlgorithm()) {
            case "RSA" -> "SHA256withRSA";
            case "RSASSA-PSS" -> null;
            case "EC" -> "SHA256withECDSA";
            case "DSA" -> "SHA256withDSA";
            default -> key.getAlgorithm(); // Ed25519, Ed448: the algorithm signs as it is named
        };
        if (algorithm == null) {
            return;
        }
        boolean matches;
        try {
            byte[] sample = new byte[32];
            new SecureRandom().nextBytes(sample);
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(key);
            signer.update(sample);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(publicKey);
            verifier.update(sample);
            matches = verifier.verify(signature);
        } catch (GeneralSecurityException e) {
            matches = false;
        }
        if (!matches) {
            throw new TlsConfigurationException("the private key in " + keyFile + " does not belong to the"
                    + " certificate in " + certFile + ": install the key the certificate was made for");
        }
    }

    /**
     * A certificate chain (leaf first) and the leaf's private key.
     *
     * @param chain the certificates, leaf first
     * @param key the leaf's private key
     */
    public record X509Credentials(List<X509Certificate> chain, PrivateKey key) {
        public X509Credentials {
            chain = List.copyOf(chain);
        }
    }
}
