package pcache.tls.internal;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import pcache.testkit.ExternalTools;
import pcache.testkit.LoopbackPorts;

/**
 * GnuTLS's tools, the TLS stack of qemu, nbdkit and libnbd, as test peers: {@code certtool} makes a
 * certificate directory, {@code gnutls-serv --echo} serves, {@code gnutls-cli} connects. They
 * follow the project's external-tool rule (Debian package gnutls-bin). gnutls-serv has no option
 * to bind one address: it listens on every interface, on a port outside the ephemeral range, for
 * the few seconds a test runs.
 */
public final class Gnutls {

    private static final long TIMEOUT_SECONDS = 15;

    private Gnutls() {
    }

    /** Returns when the tools are installed; otherwise fails in CI and skips elsewhere. */
    public static void require() {
        ExternalTools.require("certtool", "gnutls-cli", "gnutls-serv");
    }

    /**
     * Makes a certificate directory with certtool: a CA (ECDSA), a server certificate for
     * {@code localhost} and 127.0.0.1 with an RSA key (certtool writes PKCS#1), a client certificate
     * with an ECDSA key (SEC 1), as qemu's documentation makes them.
     */
    public static Path certificates(Path dir, String clientName) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("ca.info"), "cn = \"gnutls test CA\"\nca\ncert_signing_key\nexpiration_days = 2\n");
        Files.writeString(dir.resolve("server.info"), "cn = \"localhost\"\ndns_name = \"localhost\"\n"
                + "ip_address = \"127.0.0.1\"\ntls_www_server\nencryption_key\nsigning_key\nexpiration_days = 2\n");
        Files.writeString(dir.resolve("client.info"), "cn = \"" + clientName + "\"\ntls_www_client\nsigning_key\n"
                + "expiration_days = 2\n");
        certtool(dir, "--generate-privkey", "--key-type=ecdsa", "--outfile", "ca-key.pem");
        certtool(dir, "--generate-self-signed", "--load-privkey", "ca-key.pem", "--template", "ca.info",
                "--outfile", "ca-cert.pem");
        certtool(dir, "--generate-privkey", "--bits", "2048", "--outfile", "server-key.pem");
        certtool(dir, "--generate-certificate", "--load-privkey", "server-key.pem", "--load-ca-certificate",
                "ca-cert.pem", "--load-ca-privkey", "ca-key.pem", "--template", "server.info", "--outfile",
                "server-cert.pem");
        certtool(dir, "--generate-privkey", "--key-type=ecdsa", "--outfile", "client-key.pem");
        certtool(dir, "--generate-certificate", "--load-privkey", "client-key.pem", "--load-ca-certificate",
                "ca-cert.pem", "--load-ca-privkey", "ca-key.pem", "--template", "client.info", "--outfile",
                "client-cert.pem");
        for (String key : List.of("ca-key.pem", "server-key.pem", "client-key.pem")) {
            TestPki.ownerOnly(dir.resolve(key));
        }
        return dir;
    }

    private static void certtool(Path dir, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(ExternalTools.which("certtool"));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("certtool.log").toFile()).start();
        if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS) || process.exitValue() != 0) {
            process.destroyForcibly();
            throw new IOException("certtool " + String.join(" ", args) + " failed: "
                    + Files.readString(dir.resolve("certtool.log")));
        }
    }

    /** A running {@code gnutls-serv --echo}. */
    public static final class Server implements AutoCloseable {
        public final int port;
        private final Process process;
        private final Path log;

        private Server(int port, Process process, Path log) {
            this.port = port;
            this.process = process;
            this.log = log;
        }

        /** Starts gnutls-serv --echo with {@code args}; returns once it listens. */
        public static Server echo(Path dir, String... args) throws IOException, InterruptedException {
            return LoopbackPorts.startOnFreePort(port -> echo(dir, port, args));
        }

        private static Server echo(Path dir, int port, String... args) throws IOException, InterruptedException {
            List<String> command = new ArrayList<>(List.of(ExternalTools.which("gnutls-serv"), "--echo", "-p",
                    Integer.toString(port)));
            command.addAll(List.of(args));
            Path log = dir.resolve("gnutls-serv-" + port + ".log");
            Process process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                    .redirectOutput(log.toFile()).start();
            Server server = new Server(port, process, log);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
            // "Echo Server listening on IPv4 0.0.0.0 port N...done", or "...bind() failed: Address
            // already in use" (it then goes on, on IPv6 only: the port counts as taken)
            java.util.regex.Pattern listening = java.util.regex.Pattern.compile("listening on IPv4 [^\n]*\\.\\.\\.done");
            while (true) {
                String text = Files.readString(log);
                if (text.contains("Address already in use")) {
                    server.close();
                    throw new LoopbackPorts.PortTakenException("gnutls-serv: " + text);
                }
                if (listening.matcher(text).find()) {
                    break;
                }
                if (!process.isAlive() || System.nanoTime() > deadline) {
                    server.close();
                    throw new IOException("gnutls-serv did not start: " + String.join(" ", command) + "\n"
                            + Files.readString(log));
                }
                Thread.sleep(20);
            }
            return server;
        }

        public String log() throws IOException {
            return Files.readString(log);
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }

    /**
     * Runs gnutls-cli against 127.0.0.1:{@code port}, sends {@code line} and waits for it to end
     * (the pcache server closes after its answer); returns its exit code and output.
     */
    public static Result client(Path dir, int port, String line, String... args)
            throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(ExternalTools.which("gnutls-cli"), "-p",
                Integer.toString(port)));
        command.addAll(List.of(args));
        command.add("127.0.0.1");
        Path log = dir.resolve("gnutls-cli-" + port + ".log");
        Process process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        try (OutputStream stdin = process.getOutputStream()) {
            stdin.write((line + "\n").getBytes(StandardCharsets.US_ASCII));
            stdin.flush();
            if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new IOException("gnutls-cli did not end: " + Files.readString(log));
            }
        } catch (IOException closedEarly) {
            process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS); // it ended before reading stdin
        }
        return new Result(process.exitValue(), Files.readString(log));
    }

    /** What a gnutls-cli run ended with. */
    public record Result(int exitCode, String output) {
    }
}
