package pcache.backing.nbd.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import pcache.testkit.ExternalTools;
import pcache.testkit.LoopbackPorts;

/**
 * A real nbdkit server for tests, run in the foreground (-f) on a unix socket or a loopback TCP
 * port; ready when its pid file appears (nbdkit writes it once it accepts connections).
 * Closing it terminates the process; {@link #kill()} and {@link #restart()} simulate a crash.
 */
final class Nbdkit implements AutoCloseable {

    private static final Path NBDKIT = Path.of("/usr/bin/nbdkit");
    private static final Duration START_TIMEOUT = Duration.ofSeconds(10);

    private final Path dir;
    private final Path socket;
    private final int port;
    private final List<String> args;
    private Process process;
    private int starts;

    private Nbdkit(Path dir, Path socket, int port, List<String> args) {
        this.dir = dir;
        this.socket = socket;
        this.port = port;
        this.args = args;
    }

    /** Returns when nbdkit is installed; otherwise fails the test in CI and skips it elsewhere. */
    static void assumeInstalled() {
        ExternalTools.require("nbdkit");
    }

    /** Starts nbdkit on a unix socket in {@code dir}; {@code args} are plugin, filters, params. */
    static Nbdkit unix(Path dir, String... args) throws IOException {
        assumeInstalled();
        Nbdkit server = new Nbdkit(dir, dir.resolve("nbd.sock"), -1, List.of(args));
        server.start();
        return server;
    }

    /** Starts nbdkit on a free loopback TCP port. */
    static Nbdkit tcp(Path dir, String... args) throws IOException {
        assumeInstalled();
        try {
            return LoopbackPorts.startOnFreePort(port -> {
                Nbdkit server = new Nbdkit(dir, null, port, List.of(args));
                server.start();
                return server;
            });
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while starting nbdkit", e);
        }
    }

    static int freePort() throws IOException {
        return LoopbackPorts.free();
    }

    /** The URI of {@code export} on this server. */
    String uri(String export) {
        return socket != null ? "nbd+unix:///" + export + "?socket=" + socket
                : "nbd://127.0.0.1:" + port + "/" + export;
    }

    String uri() {
        return uri("");
    }

    void start() throws IOException {
        starts++;
        Path pidFile = dir.resolve("nbdkit-" + starts + ".pid");
        Files.deleteIfExists(pidFile);
        if (socket != null) {
            Files.deleteIfExists(socket); // left behind by a killed server
        }
        List<String> command = new ArrayList<>(List.of(NBDKIT.toString(), "-f", "-P",
                pidFile.toString()));
        if (socket != null) {
            command.addAll(List.of("-U", socket.toString()));
        } else {
            command.addAll(List.of("-i", "127.0.0.1", "-p", Integer.toString(port)));
        }
        command.addAll(args);
        process = new ProcessBuilder(command)
                .redirectOutput(dir.resolve("nbdkit-" + starts + ".log").toFile())
                .redirectErrorStream(true)
                .start();
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (!(Files.exists(pidFile) && Files.size(pidFile) > 0)) {
            if (!process.isAlive()) {
                if (socket == null && log().contains("Address already in use")) {
                    throw new LoopbackPorts.PortTakenException("nbdkit: " + log());
                }
                throw new IOException("nbdkit " + command + " exited with " + process.exitValue()
                        + ": " + Files.readString(dir.resolve("nbdkit-" + starts + ".log")));
            }
            if (System.nanoTime() > deadline) {
                process.destroyForcibly();
                throw new IOException("nbdkit did not start within " + START_TIMEOUT);
            }
            sleep(10);
        }
    }

    /** Kills the server like a crash (SIGKILL). */
    void kill() throws IOException {
        process.destroyForcibly();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                throw new IOException("nbdkit did not die");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    /** Starts the server again with the same arguments, socket or port. */
    void restart() throws IOException {
        if (process.isAlive()) {
            kill();
        }
        start();
    }

    boolean isAlive() {
        return process.isAlive();
    }

    /** The server's log so far (for assertion messages). */
    String log() {
        try {
            return Files.readString(dir.resolve("nbdkit-" + starts + ".log"));
        } catch (IOException e) {
            return e.toString();
        }
    }

    @Override
    public void close() {
        if (process == null) {
            return;
        }
        process.destroy();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
