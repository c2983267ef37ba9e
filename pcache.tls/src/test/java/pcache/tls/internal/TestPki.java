package pcache.tls.internal;

import java.io.IOException;
import java.io.Writer;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Date;
import java.util.concurrent.atomic.AtomicLong;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Test certificates made in process (Bouncy Castle's certificate builder, the JDK's keys), written
 * as PEM into a certificate directory in qemu's layout. Nothing is committed; every run makes its own.
 */
public final class TestPki {

    private static final AtomicLong SERIAL = new AtomicLong(1);

    /** A certificate authority: its key pair and self-signed certificate. */
    public record Ca(KeyPair keys, X509Certificate certificate) {
    }

    /** An end entity: key pair and certificate. */
    public record Entity(KeyPair keys, X509Certificate certificate) {
    }

    private TestPki() {
    }

    public static KeyPair ecKeys() {
        return keys("EC", 256);
    }

    public static KeyPair keys(String algorithm, int bits) {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance(algorithm);
            generator.initialize(bits);
            return generator.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    public static Ca ca(String commonName) {
        KeyPair keys = ecKeys();
        X500Name name = new X500Name("CN=" + commonName);
        try {
            X509v3CertificateBuilder builder = builder(name, name, keys);
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
            builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            return new Ca(keys, sign(builder, keys));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A certificate signed by {@code ca} for {@code dnsName} and the loopback address {@code ip} (either may be null). */
    public static Entity entity(Ca ca, String commonName, String dnsName, String ip, KeyPair keys) {
        Instant now = Instant.now();
        return entity(ca, commonName, dnsName, ip, keys, now.minus(1, ChronoUnit.HOURS), now.plus(1, ChronoUnit.DAYS));
    }

    /** As {@link #entity(Ca, String, String, String, KeyPair)}, valid from {@code notBefore} to {@code notAfter}. */
    public static Entity entity(Ca ca, String commonName, String dnsName, String ip, KeyPair keys, Instant notBefore,
            Instant notAfter) {
        try {
            X509v3CertificateBuilder builder = builder(
                    new X500Name(ca.certificate().getSubjectX500Principal().getName()),
                    new X500Name("CN=" + commonName), keys, notBefore, notAfter);
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            builder.addExtension(Extension.keyUsage, true,
                    new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
            if (dnsName != null || ip != null) {
                GeneralName[] names = dnsName != null && ip != null
                        ? new GeneralName[] {new GeneralName(GeneralName.dNSName, dnsName),
                                new GeneralName(GeneralName.iPAddress, ip)}
                        : new GeneralName[] {dnsName != null ? new GeneralName(GeneralName.dNSName, dnsName)
                                : new GeneralName(GeneralName.iPAddress, ip)};
                builder.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names));
            }
            return new Entity(keys, sign(builder, ca.keys()));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static X509v3CertificateBuilder builder(X500Name issuer, X500Name subject, KeyPair keys) {
        Instant now = Instant.now();
        return builder(issuer, subject, keys, now.minus(1, ChronoUnit.HOURS), now.plus(1, ChronoUnit.DAYS));
    }

    private static X509v3CertificateBuilder builder(X500Name issuer, X500Name subject, KeyPair keys, Instant notBefore,
            Instant notAfter) {
        return new JcaX509v3CertificateBuilder(issuer, BigInteger.valueOf(SERIAL.getAndIncrement()),
                Date.from(notBefore), Date.from(notAfter), subject, keys.getPublic());
    }

    private static X509Certificate sign(X509v3CertificateBuilder builder, KeyPair signer) {
        try {
            String algorithm = signer.getPrivate().getAlgorithm().equals("RSA") ? "SHA256withRSA" : "SHA256withECDSA";
            return new JcaX509CertificateConverter().getCertificate(
                    builder.build(new JcaContentSignerBuilder(algorithm).build(signer.getPrivate())));
        } catch (OperatorCreationException | GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Writes objects (certificates, keys in their traditional PEM form) to {@code file}. */
    public static void writePem(Path file, Object... objects) throws IOException {
        Files.createDirectories(file.getParent());
        try (Writer out = Files.newBufferedWriter(file); JcaPEMWriter pem = new JcaPEMWriter(out)) {
            for (Object object : objects) {
                pem.writeObject(object);
            }
        }
    }

    /** Writes a private key as PKCS#8 ({@code -----BEGIN PRIVATE KEY-----}). */
    public static void writePkcs8(Path file, KeyPair keys) throws IOException {
        Files.createDirectories(file.getParent());
        try (Writer out = Files.newBufferedWriter(file); JcaPEMWriter pem = new JcaPEMWriter(out)) {
            pem.writeObject(new JcaPKCS8Generator(keys.getPrivate(), null));
        }
        ownerOnly(file);
    }

    /** chmod 600, as a key file should be. */
    public static void ownerOnly(Path file) throws IOException {
        Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    }

    /** A server directory: ca-cert.pem, server-cert.pem, server-key.pem (for "localhost" and 127.0.0.1). */
    public static Path serverDirectory(Path dir, Ca ca, Entity server) throws IOException {
        writePem(dir.resolve("ca-cert.pem"), ca.certificate());
        writePem(dir.resolve("server-cert.pem"), server.certificate());
        writePkcs8(dir.resolve("server-key.pem"), server.keys());
        return dir;
    }

    /** A client directory: ca-cert.pem and, when {@code client} is not null, client-cert.pem and client-key.pem. */
    public static Path clientDirectory(Path dir, Ca ca, Entity client) throws IOException {
        writePem(dir.resolve("ca-cert.pem"), ca.certificate());
        if (client != null) {
            writePem(dir.resolve("client-cert.pem"), client.certificate());
            writePkcs8(dir.resolve("client-key.pem"), client.keys());
        }
        return dir;
    }
}
