package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;

/**
 * TLS credentials made at run time with certtool (never committed), in the layouts qemu, nbdkit
 * and libnbd use: a CA, a server certificate for IP 127.0.0.1 and DNS localhost, a client
 * certificate from the same CA, a client certificate from another CA, and pre-shared keys.
 */
final class TestCredentials {
    private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(30);

    /** The server's directory: ca-cert.pem, server-cert.pem, server-key.pem. */
    final Path serverDir;
    /** A client's directory: ca-cert.pem, client-cert.pem, client-key.pem, all from the server's CA. */
    final Path clientDir;
    /** A client whose certificate another CA signed (it still trusts the server's CA). */
    final Path strangerDir;
    /** The server's PSK file: {@code alice:<hex>}. */
    final Path pskFile;
    /** The same key in qemu's layout: a directory holding keys.psk. */
    final Path pskDir;
    /** A PSK file for an identity the server does not know: {@code mallory:<hex>}. */
    final Path unknownPskFile;

    private final ExternalProcesses processes;
    private final Path dir;

    private TestCredentials(Path dir, ExternalProcesses processes) {
        this.dir = dir;
        this.processes = processes;
        this.serverDir = dir.resolve("server");
        this.clientDir = dir.resolve("client");
        this.strangerDir = dir.resolve("stranger");
        this.pskDir = dir.resolve("psk");
        this.pskFile = pskDir.resolve("keys.psk");
        this.unknownPskFile = dir.resolve("mallory.psk");
    }

    /** Makes every file under {@code dir} (about 2 s: certtool makes five RSA keys). */
    static TestCredentials generate(Path dir, ExternalProcesses processes) throws IOException, InterruptedException {
        ExternalProcesses.assumeInstalled("certtool");
        TestCredentials c = new TestCredentials(dir, processes);
        c.make();
        return c;
    }

    private void make() throws IOException, InterruptedException {
        for (Path d : new Path[] {serverDir, clientDir, strangerDir, pskDir, dir.resolve("ca"), dir.resolve("other-ca")}) {
            Files.createDirectories(d);
        }
        Path ca = authority(dir.resolve("ca"), "pcache test CA");
        Path otherCa = authority(dir.resolve("other-ca"), "some other CA");
        certificate(ca, serverDir, "server", "cn = localhost\nip_address = 127.0.0.1\ndns_name = localhost\n"
                + "tls_www_server\n");
        certificate(ca, clientDir, "client", "cn = pcache test client\ntls_www_client\n");
        certificate(otherCa, strangerDir, "client", "cn = a stranger\ntls_www_client\n");
        for (Path d : new Path[] {serverDir, clientDir, strangerDir}) {
            Files.copy(ca.resolve("ca-cert.pem"), d.resolve("ca-cert.pem"));
        }
        Files.writeString(pskFile, "alice:" + randomKey() + "\n");
        Files.writeString(unknownPskFile, "mallory:" + randomKey() + "\n");
    }

    /** A self-signed CA in {@code d}: ca-key.pem, ca-cert.pem. */
    private Path authority(Path d, String name) throws IOException, InterruptedException {
        certtool("--generate-privkey", "--outfile", d.resolve("ca-key.pem").toString());
        Path template = Files.writeString(d.resolve("ca.info"), "cn = " + name + "\nca\ncert_signing_key\n"
                + "expiration_days = 2\n");
        certtool("--generate-self-signed", "--load-privkey", d.resolve("ca-key.pem").toString(), "--template",
                template.toString(), "--outfile", d.resolve("ca-cert.pem").toString());
        return d;
    }

    /** {@code role}-key.pem and {@code role}-cert.pem in {@code d}, signed by the CA in {@code ca}. */
    private void certificate(Path ca, Path d, String role, String fields) throws IOException, InterruptedException {
        Path key = d.resolve(role + "-key.pem");
        certtool("--generate-privkey", "--outfile", key.toString());
        Path template = Files.writeString(d.resolve(role + ".info"), "organization = pcache tests\n" + fields
                + "encryption_key\nsigning_key\nexpiration_days = 2\n");
        certtool("--generate-certificate", "--load-privkey", key.toString(), "--load-ca-certificate",
                ca.resolve("ca-cert.pem").toString(), "--load-ca-privkey", ca.resolve("ca-key.pem").toString(),
                "--template", template.toString(), "--outfile", d.resolve(role + "-cert.pem").toString());
        Files.delete(template);
    }

    private void certtool(String... args) throws IOException, InterruptedException {
        String[] command = new String[args.length + 1];
        command[0] = "certtool";
        System.arraycopy(args, 0, command, 1, args.length);
        ExternalProcesses.Result r = processes.run(TOOL_TIMEOUT, command);
        assertEquals(0, r.exitCode(), r.all());
    }

    /** 32 random bytes in hex, as psktool makes them. */
    private static String randomKey() {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        return HexFormat.of().formatHex(key);
    }
}
