package pcache.launcher;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import pcache.testkit.LoopbackPorts;

/**
 * The packaged pcache distribution ({@code target/pcache}) running as a real process, as a user
 * runs it: {@code java -jar pcache.launcher.jar --config FILE --no-shell} in its own directory,
 * exporting over NBD on a unix socket in that directory (and, if asked, on a free loopback TCP
 * port). It can be started again on the same files, killed like a crash (SIGKILL) or stopped
 * (SIGTERM); {@link #close()} makes sure nothing is left running.
 */
final class PcacheProcess implements AutoCloseable {

    /** The distribution folder, set by the failsafe configuration of this module. */
    static final Path DISTRIBUTION =
            Path.of(System.getProperty("pcache.distribution", "target/pcache")).toAbsolutePath();
    static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);

    /** An answer of the control socket ({@code pcache ctl}). */
    record CtlResult(int status, String out, String err) {
    }

    private final Path dir;
    private final Path configFile;
    private final Path nbdSocket;
    private final Optional<Integer> tcpPort;
    private final List<String> jvmOptions;
    private Path distribution = DISTRIBUTION;
    private Process process;
    private Path stderr;
    private int starts;
    private int listenPort;

    private PcacheProcess(Path dir, Path configFile, Path nbdSocket, Optional<Integer> tcpPort,
            List<String> jvmOptions) {
        this.dir = dir;
        this.configFile = configFile;
        this.nbdSocket = nbdSocket;
        this.tcpPort = tcpPort;
        this.jvmOptions = jvmOptions;
    }

    /**
     * Writes the configuration file {@code dir/pcache.properties}: {@code pcache.data = dir/data},
     * {@code nbd.listen} on {@code dir/nbd.sock} (and 127.0.0.1:{@code tcpPort} if given), then
     * {@code caches} (properties lines, e.g. {@code cache.a.cache_dev = a.cache}).
     */
    static PcacheProcess configure(Path dir, Optional<Integer> tcpPort, String caches, String... jvmOptions)
            throws IOException {
        Path socket = dir.resolve("nbd.sock");
        String listen = "unix:" + socket + tcpPort.map(p -> ",127.0.0.1:" + p).orElse("");
        Path config = Files.writeString(dir.resolve("pcache.properties"), "pcache.data = " + dir.resolve("data")
                + "\nnbd.listen = " + listen + "\n" + caches + "\n");
        return new PcacheProcess(dir, config, socket, tcpPort, List.of(jvmOptions));
    }

    /** Configures pcache for a loopback TCP port it is to bind (for NBD or HTTP). */
    @FunctionalInterface
    interface PortConfiguration {
        PcacheProcess configure(int port) throws IOException;
    }

    /**
     * Starts pcache configured for a loopback TCP port that is free at the check, and waits until
     * it listens there and serves {@code exports}. When its log says the port was taken before it
     * bound it, it is stopped and configured again for another port
     * ({@link LoopbackPorts#startOnFreePort}).
     */
    static PcacheProcess startOnFreePort(PortConfiguration configuration, String... exports)
            throws IOException, InterruptedException {
        return LoopbackPorts.startOnFreePort(port -> {
            PcacheProcess pcache = configuration.configure(port);
            pcache.listenPort = port;
            pcache.start();
            pcache.awaitListening(port);
            pcache.awaitExports(exports);
            return pcache;
        });
    }

    /** The port {@link #startOnFreePort} chose. */
    int port() {
        return listenPort;
    }

    /** Waits (bounded) until the process listens on 127.0.0.1:{@code port}. */
    private void awaitListening(int port) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        String address = "127.0.0.1:" + port;
        while (true) {
            if (log().contains("Address already in use")) {
                close();
                throw new LoopbackPorts.PortTakenException(address + " was taken: " + log());
            }
            if (!process.isAlive()) {
                fail("pcache exited with " + process.exitValue() + " before listening on " + address + ":\n" + log());
            }
            try {
                if (ListeningSockets.of(process.pid()).contains(address)) {
                    return;
                }
            } catch (IOException exitedMeanwhile) {
                // its /proc entries went away: the next round reports the exit
            }
            if (System.nanoTime() > deadline) {
                fail("pcache does not listen on " + address + " after " + START_TIMEOUT.toSeconds() + " s:\n" + log());
            }
            Thread.sleep(50);
        }
    }

    /** A process on the embedded defaults (no --config), in {@code cwd}, as the README runs it. */
    static PcacheProcess embeddedDefaults(Path cwd) {
        return new PcacheProcess(cwd, null, null, Optional.of(10809), List.of());
    }

    /** Runs the launcher of another distribution folder (a copy of {@link #DISTRIBUTION}, changed). */
    PcacheProcess withDistribution(Path folder) {
        this.distribution = folder.toAbsolutePath();
        return this;
    }

    /** Waits (bounded) for the process to exit on its own and returns its exit status. */
    int awaitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            fail("pcache still runs after " + timeout.toSeconds() + " s:\n" + log());
        }
        return process.exitValue();
    }

    /** Starts the process (again, on the same files); returns at once. */
    PcacheProcess start() throws IOException {
        if (process != null && process.isAlive()) {
            throw new IllegalStateException("pcache is already running");
        }
        starts++;
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-XX:TieredStopAtLevel=1"); // quicker start-up on a loaded 2-core machine
        command.addAll(jvmOptions);
        command.add("-jar");
        command.add(distribution.resolve("pcache.launcher.jar").toString());
        if (configFile != null) {
            command.add("--config");
            command.add(configFile.toString());
        }
        command.add("--no-shell");
        stderr = dir.resolve("pcache-" + starts + ".err");
        ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(dir.resolve("pcache-" + starts + ".out").toFile())
                .redirectError(stderr.toFile());
        builder.environment().keySet().removeIf(k -> k.startsWith(EnvironmentKeys.PREFIX));
        process = builder.start();
        return this;
    }

    /** Starts the process and waits until every one of {@code exports} is served. */
    PcacheProcess startServing(String... exports) throws IOException, InterruptedException {
        start();
        awaitExports(exports);
        return this;
    }

    /** Waits (bounded) until every export answers an NBD_OPT_INFO on the NBD address. */
    void awaitExports(String... exports) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        for (String export : exports) {
            while (!NbdProbe.serves(nbdAddress(), export)) {
                if (!process.isAlive()) {
                    fail("pcache exited with " + process.exitValue() + " before serving " + export + ":\n" + log());
                }
                if (System.nanoTime() > deadline) {
                    fail("pcache does not serve " + export + " after " + START_TIMEOUT.toSeconds() + " s:\n" + log());
                }
                Thread.sleep(100);
            }
        }
    }

    /** Where NBD clients connect: the unix socket, or the TCP port on the embedded defaults. */
    SocketAddress nbdAddress() {
        return nbdSocket != null ? NbdProbe.unix(nbdSocket) : NbdProbe.tcp(tcpPort.orElseThrow());
    }

    /** The libnbd/qemu URI of {@code export} over the unix socket. */
    String unixUri(String export) {
        return "nbd+unix:///" + export + "?socket=" + nbdSocket;
    }

    /** The URI of {@code export} over TCP (only when a TCP port was configured). */
    String tcpUri(String export) {
        return "nbd://127.0.0.1:" + tcpPort.orElseThrow() + "/" + export;
    }

    /** The data directory (pcache.data). */
    Path dataDir() {
        return dir.resolve("data"); // both the generated configuration and the defaults say so
    }

    /** Sends one command line to the running instance, as {@code pcache ctl "COMMAND"} does. */
    CtlResult ctl(String command) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status;
        try (PrintStream errStream = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            status = ControlClient.send(dataDir().resolve("pcache.ctl"), command, out, errStream);
        }
        return new CtlResult(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /**
     * Whether {@code pcache:list} shows the cache as clean (everything written back to the
     * backing device and flushed there).
     */
    boolean isClean(String cache) {
        CtlResult list = ctl("pcache:list");
        return list.status() == 0 && list.out().lines().map(String::trim)
                .anyMatch(l -> l.startsWith(cache + " ") && l.matches(".*\\sclean\\s.*"));
    }

    /** Waits (bounded) until the cache is clean; fails with the last listing otherwise. */
    void awaitClean(String cache, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!isClean(cache)) {
            if (System.nanoTime() > deadline) {
                fail("cache " + cache + " is not clean after " + timeout.toSeconds() + " s:\n"
                        + ctl("pcache:list").out() + "\n" + log());
            }
            Thread.sleep(200);
        }
    }

    boolean isAlive() {
        return process != null && process.isAlive();
    }

    /** The process id of the running (or last) launcher JVM. */
    long pid() {
        return process.pid();
    }

    /** Kills the process like a crash or a power cut of the JVM (SIGKILL, no shutdown hooks). */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            fail("pcache did not die on SIGKILL");
        }
    }

    /** Stops the process cleanly (SIGTERM); returns its exit status; fails if it takes too long. */
    int stop() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(STOP_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
            process.destroyForcibly();
            fail("pcache did not stop within " + STOP_TIMEOUT.toSeconds() + " s of SIGTERM:\n" + log());
        }
        return process.exitValue();
    }

    /** The stderr of the current (or last) run: its log. */
    String log() {
        try {
            return stderr == null ? "" : Files.readString(stderr, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Stops the process if it still runs (SIGTERM, then SIGKILL after a while). */
    @Override
    public void close() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroy();
            if (!process.waitFor(STOP_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
