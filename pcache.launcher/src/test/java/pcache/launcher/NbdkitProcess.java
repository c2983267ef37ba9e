package pcache.launcher;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real nbdkit in the foreground on a unix socket, as a backing server for pcache: ready when
 * its pid file appears (nbdkit writes it once it accepts connections). It can be killed like a
 * crash and started again on the same socket, with other plugin arguments (e.g. without the
 * fault-injecting filters).
 */
final class NbdkitProcess implements AutoCloseable {

    private static final Duration START_TIMEOUT = Duration.ofSeconds(20);

    private final Path dir;
    private final Path socket;
    private Process process;
    private Path log;
    private int starts;

    /**
     * Starts nbdkit on {@code dir/<name>.sock}; {@code args} are filters, the plugin and its
     * parameters as on nbdkit's command line.
     */
    static NbdkitProcess start(Path dir, String name, String... args) throws IOException, InterruptedException {
        ExternalTools.assumeInstalled("nbdkit");
        NbdkitProcess server = new NbdkitProcess(dir, dir.resolve(name + ".sock"));
        server.restart(args);
        return server;
    }

    private NbdkitProcess(Path dir, Path socket) {
        this.dir = dir;
        this.socket = socket;
    }

    /** The URI of its (default) export, for {@code cache.X.backing_dev} or a client. */
    String uri() {
        return "nbd+unix:///?socket=" + socket;
    }

    /** Stops it if it runs (SIGKILL: a crash) and starts it again with {@code args}. */
    void restart(String... args) throws IOException, InterruptedException {
        if (process != null && process.isAlive()) {
            kill();
        }
        starts++;
        Path pidFile = dir.resolve(socket.getFileName() + "-" + starts + ".pid");
        log = dir.resolve(socket.getFileName() + "-" + starts + ".log");
        Files.deleteIfExists(socket); // a killed nbdkit leaves its socket behind, a new one refuses to start then
        List<String> command = new ArrayList<>(List.of(ExternalTools.which("nbdkit"), "-f", "-P", pidFile.toString(),
                "-U", socket.toString()));
        command.addAll(List.of(args));
        process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (!(Files.exists(pidFile) && Files.size(pidFile) > 0)) {
            if (!process.isAlive()) {
                throw new IOException("nbdkit " + command + " exited with " + process.exitValue() + ": " + log());
            }
            if (System.nanoTime() > deadline) {
                process.destroyForcibly();
                throw new IOException("nbdkit did not start within " + START_TIMEOUT + ": " + log());
            }
            Thread.sleep(10);
        }
    }

    /** Kills it like a crash (SIGKILL). */
    void kill() throws IOException, InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            throw new IOException("nbdkit did not die on SIGKILL");
        }
    }

    /** The log (stderr) of its current run. */
    String log() {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return e.toString();
        }
    }

    @Override
    public void close() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
