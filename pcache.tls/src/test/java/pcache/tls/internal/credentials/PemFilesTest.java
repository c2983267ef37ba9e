package pcache.tls.internal.credentials;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import pcache.api.tls.TlsConfigurationException;
import pcache.testkit.ExternalTools;

/**
 * Keys and certificates in the forms openssl writes (certtool's forms are read by the GnuTLS
 * interop tests): PKCS#8, PKCS#1 ("traditional"), SEC 1 after EC PARAMETERS; encrypted keys
 * are refused with what to do.
 */
class PemFilesTest {

    @TempDir
    static Path temp;

    @BeforeAll
    static void requireOpenssl() {
        ExternalTools.require("openssl");
    }

    static void openssl(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(ExternalTools.which("openssl")));
        command.addAll(List.of(args));
        Path log = temp.resolve("openssl.log");
        Process process = new ProcessBuilder(command).directory(temp.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        assertTrue(process.waitFor(30, TimeUnit.SECONDS), "openssl hangs");
        assertEquals(0, process.exitValue(), () -> String.join(" ", args) + ": " + readQuietly(log));
    }

    private static String readQuietly(Path file) {
        try {
            return Files.readString(file);
        } catch (Exception e) {
            return e.toString();
        }
    }

    @ParameterizedTest
    @CsvSource({
        "rsa-pkcs8, genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa-pkcs8, PRIVATE KEY",
        "rsa-pkcs1, genrsa -traditional -out rsa-pkcs1 2048, RSA PRIVATE KEY",
        "ec-sec1, ecparam -name prime256v1 -genkey -out ec-sec1, EC PRIVATE KEY",
        "ed25519, genpkey -algorithm ED25519 -out ed25519, PRIVATE KEY"})
    void opensslKeysWithTheirCertificates(String name, String generate, String header) throws Exception {
        openssl(generate.split(" "));
        Path key = temp.resolve(name);
        assertTrue(Files.readString(key).contains("-----BEGIN " + header + "-----"), Files.readString(key));
        openssl("req", "-x509", "-key", name, "-subj", "/CN=" + name, "-days", "1", "-out", name + ".crt");
        Path dir = Files.createDirectories(temp.resolve("dir-" + name));
        Files.copy(key, dir.resolve("server-key.pem"));
        Files.copy(temp.resolve(name + ".crt"), dir.resolve("server-cert.pem"));
        CertificateDirectory.X509Credentials credentials = new CertificateDirectory(dir).serverCredentials();
        assertEquals("CN=" + name, credentials.chain().get(0).getSubjectX500Principal().getName());
    }

    @Test
    void encryptedKeyIsRefusedWithWhatToDo() throws Exception {
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-aes-128-cbc", "-pass",
                "pass:secret", "-out", "encrypted.pem");
        TlsConfigurationException refused = assertThrows(TlsConfigurationException.class,
                () -> PemFiles.privateKey(temp.resolve("encrypted.pem")));
        assertTrue(refused.getMessage().startsWith(temp.resolve("encrypted.pem") + " holds an encrypted private key"),
                refused.getMessage());
    }
}
