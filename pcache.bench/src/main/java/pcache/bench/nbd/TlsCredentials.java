package pcache.bench.nbd;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * The credentials of the TLS servers of one run, made at run time with {@code certtool} (gnutls-bin)
 * in a fresh private folder and deleted on {@link #close()}: a CA and a server certificate for
 * {@code localhost} and {@code 127.0.0.1} signed by it, in the layout qemu, nbdkit, libnbd and
 * pcache's {@code nbd.tls_certificates} read ({@code ca-cert.pem}, {@code server-cert.pem},
 * {@code server-key.pem}). No client certificate: no server verifies its clients here, as in the
 * clear-text runs.
 */
final class TlsCredentials implements AutoCloseable {

    private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(60);

    private final Path dir;

    private TlsCredentials(Path dir) {
        this.dir = dir;
    }

    /** Makes the CA and the server certificate in a new temporary folder. */
    static TlsCredentials generate() throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("nbdbench-tls"); // owner-only permissions
        TlsCredentials credentials = new TlsCredentials(dir);
        try {
            Files.writeString(dir.resolve("ca.info"), String.join("\n", "cn = nbd-bench CA", "ca",
                    "cert_signing_key", "expiration_days = 2", ""));
            Files.writeString(dir.resolve("server.info"), String.join("\n", "organization = nbd-bench",
                    "cn = localhost", "dns_name = localhost", "ip_address = 127.0.0.1", "tls_www_server",
                    "encryption_key", "signing_key", "expiration_days = 2", ""));
            credentials.certtool("--generate-privkey", "--outfile", "ca-key.pem");
            credentials.certtool("--generate-self-signed", "--load-privkey", "ca-key.pem", "--template", "ca.info",
                    "--outfile", "ca-cert.pem");
            credentials.certtool("--generate-privkey", "--outfile", "server-key.pem");
            credentials.certtool("--generate-certificate", "--load-ca-certificate", "ca-cert.pem",
                    "--load-ca-privkey", "ca-key.pem", "--load-privkey", "server-key.pem", "--template",
                    "server.info", "--outfile", "server-cert.pem");
            return credentials;
        } catch (IOException | InterruptedException | RuntimeException e) {
            credentials.close();
            throw e;
        }
    }

    /** The folder with {@code ca-cert.pem}, {@code server-cert.pem} and {@code server-key.pem}. */
    Path certificates() {
        return dir;
    }

    private void certtool(String... args) throws IOException, InterruptedException {
        List<String> command = Stream.concat(Stream.of("certtool"), Stream.of(args)).toList();
        Tools.Result r;
        try {
            r = Tools.run(dir, TOOL_TIMEOUT, command);
        } catch (IOException e) {
            throw new IOException("cannot run certtool (Debian package gnutls-bin) to make the TLS certificates: "
                    + e.getMessage(), e);
        }
        if (r.exitCode() != 0) {
            throw new IOException(String.join(" ", command) + " failed (" + r.exitCode() + "): " + r.stderr().trim());
        }
    }

    /** Deletes the folder and every key in it. */
    @Override
    public void close() throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(f);
            }
        }
    }
}
