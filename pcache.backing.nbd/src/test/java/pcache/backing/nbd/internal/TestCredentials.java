package pcache.backing.nbd.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

import pcache.testkit.ExternalTools;

/**
 * TLS credentials for tests, made at run time in a temporary directory, never committed: X.509
 * with certtool the way the qemu and nbdkit manuals do it (a CA, a server certificate for
 * localhost, 127.0.0.1 and ::1, a client certificate), in their directory layout; PSK files of
 * {@code identity:hexkey} lines with random keys.
 */
final class TestCredentials {

    private TestCredentials() {
    }

    /**
     * A CA and what it signed, as directories in qemu's and nbdkit's layout.
     *
     * @param server {@code ca-cert.pem}, {@code server-cert.pem}, {@code server-key.pem}
     * @param client {@code ca-cert.pem}, {@code client-cert.pem}, {@code client-key.pem}
     * @param caOnly {@code ca-cert.pem} alone: a client that verifies but presents no certificate
     */
    record X509(Path server, Path client, Path caOnly) {
    }

    /** Makes a CA named {@code name} in {@code dir/name} with a server and a client certificate. */
    static X509 x509(Path dir, String name) throws IOException {
        ExternalTools.require("certtool");
        Path work = Files.createDirectories(dir.resolve(name));
        Path caKey = privateKey(work, "ca-key.pem");
        Path caCert = work.resolve("ca-cert.pem");
        certtool(work, template(work, "ca.info", "cn = pcache test CA " + name, "ca",
                "cert_signing_key", "expiration_days = 2"),
                "--generate-self-signed", "--load-privkey", caKey.toString(),
                "--outfile", caCert.toString());

        Path server = Files.createDirectories(work.resolve("server"));
        Path serverKey = privateKey(server, "server-key.pem");
        certtool(work, template(work, "server.info", "organization = pcache test",
                "cn = localhost", "dns_name = localhost", "ip_address = 127.0.0.1",
                "ip_address = ::1", "tls_www_server", "encryption_key", "signing_key",
                "expiration_days = 2"), "--generate-certificate", "--load-ca-certificate",
                caCert.toString(), "--load-ca-privkey", caKey.toString(), "--load-privkey",
                serverKey.toString(), "--outfile", server.resolve("server-cert.pem").toString());
        Files.copy(caCert, server.resolve("ca-cert.pem"));

        Path client = Files.createDirectories(work.resolve("client"));
        Path clientKey = privateKey(client, "client-key.pem");
        certtool(work, template(work, "client.info", "organization = pcache test",
                "cn = pcache-backing-client", "tls_www_client", "encryption_key", "signing_key",
                "expiration_days = 2"), "--generate-certificate", "--load-ca-certificate",
                caCert.toString(), "--load-ca-privkey", caKey.toString(), "--load-privkey",
                clientKey.toString(), "--outfile", client.resolve("client-cert.pem").toString());
        Files.copy(caCert, client.resolve("ca-cert.pem"));

        Path caOnly = Files.createDirectories(work.resolve("ca-only"));
        Files.copy(caCert, caOnly.resolve("ca-cert.pem"), StandardCopyOption.REPLACE_EXISTING);
        return new X509(server, client, caOnly);
    }

    /** Writes a PSK file with a random 256-bit key per identity, readable by its owner only. */
    static Path psk(Path file, String... identities) throws IOException {
        SecureRandom random = new SecureRandom();
        StringBuilder lines = new StringBuilder();
        for (String identity : identities) {
            byte[] key = new byte[32];
            random.nextBytes(key);
            lines.append(identity).append(':').append(HexFormat.of().formatHex(key)).append('\n');
        }
        return writePrivate(file, lines.toString());
    }

    /** Writes {@code text} to {@code file}, readable by its owner only (nbdkit insists). */
    static Path writePrivate(Path file, String text) throws IOException {
        Files.deleteIfExists(file);
        Files.createFile(file, PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rw-------")));
        Files.writeString(file, text);
        return file;
    }

    private static Path privateKey(Path dir, String name) throws IOException {
        Path key = dir.resolve(name);
        // 2048 bits: as good as the default for a test and several times faster to make
        certtool(dir, null, "--generate-privkey", "--bits=2048", "--outfile", key.toString());
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
        return key;
    }

    private static Path template(Path dir, String name, String... lines) throws IOException {
        return Files.writeString(dir.resolve(name), String.join("\n", lines) + "\n");
    }

    private static void certtool(Path dir, Path template, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(ExternalTools.which("certtool")));
        command.addAll(List.of(args));
        if (template != null) {
            command.addAll(List.of("--template", template.toString()));
        }
        Path log = dir.resolve("certtool.log");
        Process process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new IOException("certtool did not finish: " + command);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        if (process.exitValue() != 0) {
            throw new IOException("certtool failed (" + process.exitValue() + "): " + command
                    + "\n" + Files.readString(log));
        }
    }
}
