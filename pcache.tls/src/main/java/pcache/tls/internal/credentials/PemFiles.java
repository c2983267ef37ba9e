package pcache.tls.internal.credentials;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

import pcache.api.tls.TlsConfigurationException;
import pcache.io.log.Log;

/**
 * Reads certificates and private keys from PEM files in the forms certtool and openssl write:
 * certificates (one or a chain), keys as PKCS#1 ({@code RSA PRIVATE KEY}), SEC 1
 * ({@code EC PRIVATE KEY}, possibly after {@code EC PARAMETERS}) or PKCS#8 ({@code PRIVATE KEY}).
 * Keys are converted by the JDK's providers, so no security provider is installed.
 */
public final class PemFiles {

    private static final System.Logger LOG = Log.of(PemFiles.class);

    private PemFiles() {
    }

    /** The certificates in {@code file}, in file order (leaf first for a chain); at least one. */
    public static List<X509Certificate> certificates(Path file) throws TlsConfigurationException {
        List<X509Certificate> certificates = new ArrayList<>();
        JcaX509CertificateConverter converter = new JcaX509CertificateConverter();
        try (PEMParser parser = open(file)) {
            for (Object item = parser.readObject(); item != null; item = parser.readObject()) {
                if (item instanceof X509CertificateHolder holder) {
                    certificates.add(converter.getCertificate(holder));
                }
            }
        } catch (CertificateException | IOException e) {
            throw malformed(file, "a PEM certificate", e);
        }
        if (certificates.isEmpty()) {
            throw new TlsConfigurationException(file + " holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        }
        return certificates;
    }

    /** The one private key in {@code file}; warns when others may read the file. */
    public static PrivateKey privateKey(Path file) throws TlsConfigurationException {
        PrivateKeyInfo keyInfo = null;
        try (PEMParser parser = open(file)) {
            for (Object item = parser.readObject(); item != null; item = parser.readObject()) {
                if (item instanceof PEMKeyPair pair) {
                    keyInfo = pair.getPrivateKeyInfo();
                } else if (item instanceof PrivateKeyInfo info) {
                    keyInfo = info;
                } else if (item instanceof PEMEncryptedKeyPair || item instanceof PKCS8EncryptedPrivateKeyInfo) {
                    throw new TlsConfigurationException(file + " holds an encrypted private key; pcache cannot"
                            + " ask for a passphrase: write it unencrypted (certtool --load-privkey KEY"
                            + " --to-p8 --password '' --null-password, or openssl pkey -in KEY -out KEY.new)"
                            + " and protect the file with chmod 600");
                } else if (!(item instanceof ASN1ObjectIdentifier)) { // EC PARAMETERS precede an EC key
                    continue;
                }
                if (keyInfo != null) {
                    break;
                }
            }
            if (keyInfo == null) {
                throw new TlsConfigurationException(file + " holds no PEM private key (-----BEGIN PRIVATE KEY-----,"
                        + " RSA PRIVATE KEY or EC PRIVATE KEY)");
            }
            PrivateKey key = new JcaPEMKeyConverter().getPrivateKey(keyInfo);
            warnIfReadableByOthers(file);
            return key;
        } catch (IOException e) {
            throw malformed(file, "a PEM private key", e);
        }
    }

    private static PEMParser open(Path file) throws TlsConfigurationException {
        try {
            Reader reader = Files.newBufferedReader(file, StandardCharsets.US_ASCII);
            return new PEMParser(reader);
        } catch (NoSuchFileException e) {
            throw new TlsConfigurationException(file + " does not exist");
        } catch (IOException e) {
            throw new TlsConfigurationException("cannot read " + file + ": " + e, e);
        }
    }

    private static TlsConfigurationException malformed(Path file, String what, Exception e) {
        return new TlsConfigurationException(file + " is not " + what + " pcache can read: " + e.getMessage()
                + " (expected PEM as certtool or openssl write it)", e);
    }

    /** Logs a warning when every user of the machine may read {@code file}, which holds a secret. */
    static void warnIfReadableByOthers(Path file) {
        try {
            Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(file);
            if (permissions.contains(PosixFilePermission.OTHERS_READ)) {
                LOG.log(System.Logger.Level.WARNING, "{0} holds a secret key and is readable by every user of this"
                        + " machine; chmod 600 it", file);
            }
        } catch (IOException | UnsupportedOperationException e) {
            // permissions unknown (not POSIX): nothing to warn about
        }
    }
}
