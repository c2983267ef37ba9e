package pcache.bench.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Test;

import pcache.testkit.ExternalTools;

class TlsCredentialsTest {

    /** The server certificate chains to the CA and names the address the TLS servers listen on. */
    @Test
    void aServerCertificateForLoopbackSignedByTheCaInAPrivateFolderDeletedAtClose() throws Exception {
        ExternalTools.require("certtool");
        Path dir;
        try (TlsCredentials credentials = TlsCredentials.generate()) {
            dir = credentials.certificates();
            for (String f : List.of("ca-cert.pem", "server-cert.pem", "server-key.pem")) {
                assertTrue(Files.size(dir.resolve(f)) > 0, f);
            }
            assertEquals(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE,
                    PosixFilePermission.OWNER_EXECUTE), Files.getPosixFilePermissions(dir));
            Tools.Result verify = Tools.run(dir, Duration.ofSeconds(60), "certtool", "--verify",
                    "--load-ca-certificate", "ca-cert.pem", "--infile", "server-cert.pem", "--verify-hostname",
                    "localhost");
            assertEquals(0, verify.exitCode(), verify.stdout() + verify.stderr());
            Tools.Result info = Tools.run(dir, Duration.ofSeconds(60), "certtool", "--certificate-info", "--infile",
                    "server-cert.pem");
            assertTrue(info.stdout().contains("IPAddress: 127.0.0.1"), info.stdout());
        }
        assertFalse(Files.exists(dir));
    }
}
