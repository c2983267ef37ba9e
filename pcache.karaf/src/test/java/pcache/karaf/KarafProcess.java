package pcache.karaf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import pcache.testkit.LoopbackPorts;

/**
 * A real Apache Karaf distribution, unpacked from its tar.gz into a fresh directory and run as
 * {@code bin/karaf server} (the JVM itself: {@code KARAF_EXEC=exec}), driven through its own SSH
 * console with {@code bin/client}. Its SSH and RMI ports are free loopback ports chosen here, so
 * runs in parallel cannot collide. Its Maven resolver looks first in Karaf's {@code system/}
 * folder and the repositories given (so the build's own bundles come from there, never from an
 * older copy in the local repository), then in the local Maven repository, and fetches only what
 * is in none of them (bundles of Karaf's own features that {@code system/} lacks) from Maven
 * Central into the local repository. {@link #close()} stops it (SIGTERM, then SIGKILL). The
 * ports are checked free, not reserved: when Karaf's log says one was taken before Karaf bound
 * it ({@code Address already in use}), {@link #start()} stops Karaf and starts it again on other
 * ports ({@code LoopbackPorts.startOnFreePort}, as for the other servers the tests start).
 */
final class KarafProcess implements AutoCloseable {

    static final Duration START_TIMEOUT = Duration.ofSeconds(120);
    static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(120);
    static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);
    private static final Pattern ANSI = Pattern.compile("\u001B\\[[;\\d]*m");
    private static final String USER = "karaf";
    /**
     * A password of this run only: whatever may hold the SSH port before this Karaf binds it
     * (another Karaf of another run, with the same user) cannot take this run's commands.
     */
    private final String password = "run-" + Long.toHexString(new java.security.SecureRandom().nextLong());

    /** The output of one console command. */
    record Answer(String command, int status, String output) {
    }

    private final Path home;
    private int sshPort;
    private Process process;
    private int commands;

    private KarafProcess(Path home) {
        this.home = home;
    }

    /**
     * Unpacks the distribution into {@code dir} and configures it: SSH on a free loopback port
     * with the user {@code karaf} (Karaf ships with no user), RMI on free loopback ports, Maven
     * resolution from {@code system/}, each of {@code repositories} (directories in repository
     * layout), {@code localRepository} and then Maven Central only.
     */
    static KarafProcess unpack(Path distribution, String version, Path dir, List<Path> repositories,
            Path localRepository) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        run(dir, Duration.ofSeconds(120), "tar", "-xzf", distribution.toString(), "-C", dir.toString());
        Path home = dir.resolve("apache-karaf-" + version);
        KarafProcess karaf = new KarafProcess(home); // ports: at start()
        Path etc = home.resolve("etc");
        Files.writeString(etc.resolve("users.properties"), USER + " = " + karaf.password + ",_g_:admingroup\n"
                + "_g_\\:admingroup = group,admin,manager,viewer,systembundles,ssh\n");
        StringBuilder defaults = new StringBuilder("${karaf.home.uri}${karaf.default.repository}@id=system.repository@snapshots");
        int i = 0;
        for (Path repository : repositories) {
            defaults.append(", ").append(repository.toUri()).append("@id=given").append(i++).append("@snapshots");
        }
        Files.writeString(etc.resolve("org.ops4j.pax.url.mvn.cfg"), "# written by KarafProcess\n"
                + "org.ops4j.pax.url.mvn.localRepository = " + localRepository + "\n"
                + "org.ops4j.pax.url.mvn.defaultRepositories = " + defaults + "\n"
                + "org.ops4j.pax.url.mvn.repositories = https://repo1.maven.org/maven2@id=central\n"
                + "org.ops4j.pax.url.mvn.useFallbackRepositories = false\n");
        return karaf;
    }

    /** Configures SSH on {@code ssh} and RMI on free loopback ports (checked free, not reserved). */
    private void choosePorts(int ssh) throws IOException {
        int rmiRegistry = otherPort(ssh);
        int rmiServer = otherPort(ssh, rmiRegistry);
        replace(etc().resolve("org.apache.karaf.shell.cfg"), Map.of("sshPort", String.valueOf(ssh), "sshHost", "127.0.0.1"));
        replace(etc().resolve("org.apache.karaf.management.cfg"), Map.of("rmiRegistryPort", String.valueOf(rmiRegistry),
                "rmiServerPort", String.valueOf(rmiServer)));
        sshPort = ssh;
    }

    private static int otherPort(int... taken) throws IOException {
        while (true) {
            int port = LoopbackPorts.free();
            if (java.util.Arrays.stream(taken).noneMatch(p -> p == port)) {
                return port;
            }
        }
    }

    /** Sets {@code key = value} on the lines that set each key (every key must be there). */
    private static void replace(Path file, Map<String, String> values) throws IOException {
        String text = Files.readString(file);
        for (Map.Entry<String, String> e : values.entrySet()) {
            Matcher m = Pattern.compile("(?m)^" + Pattern.quote(e.getKey()) + "\\s*=.*$").matcher(text);
            if (!m.find()) {
                throw new IllegalStateException(file + " has no line setting " + e.getKey());
            }
            text = m.replaceAll(Matcher.quoteReplacement(e.getKey() + " = " + e.getValue()));
        }
        Files.writeString(file, text);
    }

    Path home() {
        return home;
    }

    Path etc() {
        return home.resolve("etc");
    }

    /**
     * Starts {@code bin/karaf server} and waits (bounded) until its console answers over SSH, SSH
     * on a port from {@link LoopbackPorts#startOnFreePort}: when Karaf's log says a port was taken
     * before Karaf bound it, Karaf is stopped, its {@code data/} made fresh (nothing is installed
     * yet: no configuration with the old ports, no bundle cache of a start stopped while booting;
     * the old log is kept aside) and it is started again on other ports.
     */
    void start() throws IOException, InterruptedException {
        LoopbackPorts.startOnFreePort(ssh -> {
            choosePorts(ssh);
            String taken = startOnce();
            if (taken != null) {
                close();
                Path data = home.resolve("data");
                if (Files.isRegularFile(log())) {
                    Files.move(log(), home.resolve("karaf-port-" + ssh + ".log"));
                }
                deleteTree(data);
                Files.createDirectories(data.resolve("tmp")); // as unpacked: Karaf's java.io.tmpdir
                throw new LoopbackPorts.PortTakenException(taken);
            }
            return this;
        });
    }

    /** One start; returns null once the console answers, or the log line saying a port was taken. */
    private String startOnce() throws IOException, InterruptedException {
        ProcessBuilder builder = new ProcessBuilder(home.resolve("bin/karaf").toString(), "server")
                .directory(home.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(home.resolve("karaf.out").toFile())
                .redirectError(home.resolve("karaf.err").toFile());
        environment(builder);
        builder.environment().put("KARAF_EXEC", "exec"); // the process is Karaf's JVM, not a shell loop
        process = builder.start();
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (true) {
            String taken = portTaken();
            if (taken != null) {
                return taken;
            }
            if (!process.isAlive()) {
                fail("Karaf exited with status " + process.exitValue() + " while starting:\n" + diagnostics());
            }
            if (canConnect() && console("shell:echo ready").status() == 0) {
                return null;
            }
            if (System.nanoTime() > deadline) {
                fail("Karaf's console does not answer on port " + sshPort + " after " + START_TIMEOUT.toSeconds()
                        + " s:\n" + diagnostics());
            }
            Thread.sleep(500);
        }
    }

    /** The first line of Karaf's log (or of its error output) saying an address was in use, or null. */
    private String portTaken() {
        String text = logText() + "\n" + tail(home.resolve("karaf.err"), 200);
        return text.lines().filter(l -> l.contains("Address already in use")).findFirst().orElse(null);
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (java.util.stream.Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    /**
     * Whether Karaf's SSH server answers on {@link #sshPort}: it greets with its version line
     * ({@code SSH-2.0-...}). A bare connect is not enough: whatever took the port may accept it
     * and then say nothing, and the console client would wait for it.
     */
    private boolean canConnect() {
        try (java.net.Socket s = new java.net.Socket()) {
            s.connect(new java.net.InetSocketAddress("127.0.0.1", sshPort), 1000);
            s.setSoTimeout(2000);
            return new String(s.getInputStream().readNBytes(4), StandardCharsets.US_ASCII).equals("SSH-");
        } catch (IOException e) {
            return false;
        }
    }

    private static void environment(ProcessBuilder builder) {
        Map<String, String> env = builder.environment();
        env.put("JAVA_HOME", System.getProperty("java.home"));
        env.put("EXTRA_JAVA_OPTS", "-XX:TieredStopAtLevel=1"); // quicker start-up on a loaded 2-core machine
        env.remove("JAVA_OPTS");
        env.remove("KARAF_OPTS");
    }

    /**
     * Runs one command line in Karaf's console over SSH ({@code bin/client -b}, the command on its
     * standard input: the client's batch mode; the command-argument form closes at once when
     * the client's standard input is at its end, as it is here) and returns its output, without
     * colours.
     */
    Answer console(String commandLine) throws IOException, InterruptedException {
        int n = ++commands;
        Path in = Files.writeString(home.resolve("client-" + n + ".in"), commandLine + "\n");
        Path out = home.resolve("client-" + n + ".out");
        ProcessBuilder builder = new ProcessBuilder(home.resolve("bin/client").toString(), "-a",
                String.valueOf(sshPort), "-h", "127.0.0.1", "-u", USER, "-p", password, "-b")
                .directory(home.toFile()).redirectInput(in.toFile()).redirectErrorStream(true)
                .redirectOutput(out.toFile());
        environment(builder);
        Process client = builder.start();
        if (!client.waitFor(COMMAND_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
            client.destroyForcibly();
            client.waitFor(10, TimeUnit.SECONDS);
            fail("Karaf command '" + commandLine + "' did not finish within " + COMMAND_TIMEOUT.toSeconds() + " s:\n"
                    + Files.readString(out) + "\n" + diagnostics());
        }
        String text = ANSI.matcher(Files.readString(out, StandardCharsets.UTF_8)).replaceAll("")
                .replace("client: JAVA_HOME not set; results may vary\n", "");
        return new Answer(commandLine, client.exitValue(), text);
    }

    /** Runs a command line that must succeed; fails with its output and Karaf's log otherwise. */
    String ok(String commandLine) throws IOException, InterruptedException {
        Answer a = console(commandLine);
        if (a.status() != 0) {
            fail("Karaf command '" + commandLine + "' failed (status " + a.status() + "):\n" + a.output() + "\n"
                    + diagnostics());
        }
        return a.output();
    }

    /** The end of Karaf's log ({@code data/log/karaf.log}) and of its console output, for failure messages. */
    String diagnostics() {
        return "--- last lines of " + log() + ":\n" + tail(log(), 60) + "--- karaf.err:\n"
                + tail(home.resolve("karaf.err"), 20);
    }

    Path log() {
        return home.resolve("data/log/karaf.log");
    }

    /** The whole of Karaf's log so far. */
    String logText() {
        try {
            return Files.isRegularFile(log()) ? Files.readString(log(), StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String tail(Path file, int lines) {
        try {
            if (!Files.isRegularFile(file)) {
                return "(none)\n";
            }
            List<String> all = Files.readAllLines(file, StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size())) + "\n";
        } catch (IOException e) {
            return "(unreadable: " + e + ")\n";
        }
    }

    /** Stops Karaf: SIGTERM (Karaf stops its framework), SIGKILL if that takes too long. */
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

    /** Runs a tool to its end (bounded); fails with its output unless it exits 0. */
    static String run(Path dir, Duration timeout, String... command) throws IOException, InterruptedException {
        Path out = Files.createTempFile(dir, "tool-", ".out");
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).redirectOutput(out.toFile()).start();
        if (!p.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
            fail(String.join(" ", command) + " did not finish within " + timeout.toSeconds() + " s:\n"
                    + Files.readString(out));
        }
        String text = Files.readString(out);
        Files.delete(out);
        assertEquals(0, p.exitValue(), String.join(" ", command) + " failed:\n" + text);
        return text;
    }
}
