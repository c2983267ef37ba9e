package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;


/**
 * Runs real NBD clients (qemu-io, nbdinfo, nbdcopy, fio, nbdsh) for interop tests: every process
 * is bounded by a timeout and {@link #destroyAll() destroyed} after each test. A missing tool
 * skips the test (CI installs them all).
 */
final class ExternalProcesses {
    /** Output of a finished process. */
    record Result(int exitCode, String stdout, String stderr) {
        String all() {
            return stdout + stderr;
        }
    }

    private final List<Process> started = new ArrayList<>();
    private final Path outputDir;

    ExternalProcesses(Path outputDir) {
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

    /** Runs a command to completion; fails the test if it does not finish within the timeout. */
    Result run(Duration timeout, String... command) throws IOException, InterruptedException {
        return run(timeout, Map.of(), command);
    }

    Result run(Duration timeout, Map<String, String> environment, String... command)
            throws IOException, InterruptedException {
        List<String> argv = new ArrayList<>(List.of(command));
        String resolved = which(argv.get(0));
        if (resolved != null) {
            argv.set(0, resolved);
        }
        Path out = Files.createTempFile(outputDir, "stdout", ".txt");
        Path err = Files.createTempFile(outputDir, "stderr", ".txt");
        ProcessBuilder builder = new ProcessBuilder(argv).redirectOutput(out.toFile()).redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .directory(outputDir.toFile()); // files tools leave behind (fio's verify state) stay out of the tree
        // nbdsh is a python script that must run on the system python that has the nbd module
        builder.environment().put("PATH", "/usr/bin:" + System.getenv().getOrDefault("PATH", "/bin"));
        builder.environment().putAll(environment);
        Process process = builder.start();
        synchronized (started) {
            started.add(process);
        }
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            fail(String.join(" ", argv) + " did not finish within " + timeout + "; output so far:\n"
                    + Files.readString(out, StandardCharsets.UTF_8) + Files.readString(err, StandardCharsets.UTF_8));
        }
        return new Result(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }

    /** Kills whatever is still running (call from @AfterEach). */
    void destroyAll() throws InterruptedException {
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
