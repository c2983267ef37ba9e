package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;


/**
 * Runs the real NBD tools (qemu-io, nbdinfo, nbdcopy, nbdsh, fio) against a running pcache: every
 * run is bounded by a timeout, its output goes to files in the test's directory, and whatever is
 * still running is killed by {@link #close()}. A missing tool skips the test (CI installs them).
 */
final class ExternalTools implements AutoCloseable {

    /** The output of a finished tool. */
    record Result(List<String> command, int exitCode, String stdout, String stderr) {
        String all() {
            return stdout + stderr;
        }

        /** Fails the test unless the tool exited 0; the message shows the command and its output. */
        Result assertSucceeded() {
            assertEquals(0, exitCode, String.join(" ", command) + " failed:\n" + all());
            return this;
        }
    }

    private final Path outputDir;
    private final List<Process> started = new ArrayList<>();
    private int runs;

    ExternalTools(Path outputDir) {
        this.outputDir = outputDir;
    }

    /** Returns when every tool is installed; otherwise fails the test in CI and skips it elsewhere. */
    static void assumeInstalled(String... tools) {
        pcache.testkit.ExternalTools.require(tools);
    }

    /** The absolute path of a tool, preferring /usr/bin (nbdsh needs the system python); null if missing. */
    static String which(String tool) {
        return pcache.testkit.ExternalTools.which(tool);
    }

    /** Starts a tool in the background; {@link #close()} kills it if it is still running. */
    Process start(String... command) throws IOException {
        return start(new File("/dev/null"), command);
    }

    /** Starts a tool in the background reading {@code input}; {@link #close()} kills it if it still runs. */
    private Process start(File input, String... command) throws IOException {
        List<String> argv = new ArrayList<>(List.of(command));
        String resolved = which(argv.get(0));
        if (resolved != null) {
            argv.set(0, resolved);
        }
        int run = ++runs;
        // in the test's directory: fio leaves its verify state files in the working directory
        ProcessBuilder builder = new ProcessBuilder(argv).directory(outputDir.toFile())
                .redirectOutput(outputDir.resolve("tool-" + run + ".out").toFile())
                .redirectError(outputDir.resolve("tool-" + run + ".err").toFile())
                .redirectInput(ProcessBuilder.Redirect.from(input));
        // nbdsh is a python script that needs the system python with the nbd module
        builder.environment().put("PATH", "/usr/bin:" + System.getenv().getOrDefault("PATH", "/bin"));
        Process process = builder.start();
        synchronized (started) {
            started.add(process);
        }
        return process;
    }

    /** Runs a tool to completion; fails the test if it does not finish within {@code timeout}. */
    Result run(Duration timeout, String... command) throws IOException, InterruptedException {
        Process process = start(command);
        int run = runs;
        return await(process, run, timeout, List.of(command));
    }

    /** Runs a tool to completion with {@code input} as its standard input (bounded like {@link #run}). */
    Result runWithInput(Duration timeout, Path input, String... command) throws IOException, InterruptedException {
        Process process = start(input.toFile(), command);
        int run = runs;
        return await(process, run, timeout, List.of(command));
    }

    private Result await(Process process, int run, Duration timeout, List<String> command)
            throws IOException, InterruptedException {
        Path out = outputDir.resolve("tool-" + run + ".out");
        Path err = outputDir.resolve("tool-" + run + ".err");
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            fail(String.join(" ", command) + " did not finish within " + timeout + "; output so far:\n"
                    + Files.readString(out, StandardCharsets.UTF_8) + Files.readString(err, StandardCharsets.UTF_8));
        }
        return new Result(command, process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }

    /**
     * Runs qemu-io on a raw NBD image with {@code commands} ({@code -c} each) and fails the test
     * unless every command succeeded (a pattern mismatch prints "Pattern verification failed").
     * Without {@code writeback}, qemu's default cache mode is writethrough: FUA on every write.
     */
    Result qemuIo(Duration timeout, String uri, boolean writeback, List<String> commands)
            throws IOException, InterruptedException {
        Result r = run(timeout, qemuIoCommand(uri, writeback, commands));
        r.assertSucceeded();
        if (r.all().contains("failed")) {
            fail("qemu-io reported a failure:\n" + r.all());
        }
        return r;
    }

    /** The qemu-io command line for {@link #qemuIo}. */
    static String[] qemuIoCommand(String uri, boolean writeback, List<String> commands) {
        List<String> argv = new ArrayList<>(List.of("qemu-io", "-f", "raw"));
        if (writeback) {
            argv.addAll(List.of("-t", "writeback"));
        }
        for (String c : commands) {
            argv.add("-c");
            argv.add(c);
        }
        argv.add(uri);
        return argv.toArray(String[]::new);
    }

    /** Runs a Python snippet in nbdsh (libnbd's shell), where {@code h} is a fresh handle. */
    Result nbdsh(Duration timeout, String... scriptLines) throws IOException, InterruptedException {
        return run(timeout, "nbdsh", "-c", String.join("\n", scriptLines));
    }

    /** Kills whatever is still running. */
    @Override
    public void close() throws InterruptedException {
        List<Process> all;
        synchronized (started) {
            all = new ArrayList<>(started);
            started.clear();
        }
        for (Process p : all) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
        }
    }
}
