package pcache.bench.nbd;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs an external tool to completion, bounded in time, its output in files of a folder. */
final class Tools {

    /** A finished tool. */
    record Result(int exitCode, String stdout, String stderr) {
    }

    private Tools() {
    }

    static Result run(Path dir, Duration timeout, String... command) throws IOException, InterruptedException {
        return run(dir, timeout, List.of(command));
    }

    static Result run(Path dir, Duration timeout, List<String> command) throws IOException, InterruptedException {
        return run(dir, timeout, Map.of(), command);
    }

    /** Runs {@code command} with {@code environment} added to this process's. */
    static Result run(Path dir, Duration timeout, Map<String, String> environment, List<String> command)
            throws IOException, InterruptedException {
        Path out = Files.createTempFile(dir, "tool", ".out");
        Path err = Files.createTempFile(dir, "tool", ".err");
        try {
            ProcessBuilder builder = new ProcessBuilder(command);
            // pcache's own commands (ctl) read PCACHE_* variables as configuration and refuse
            // unknown ones, such as the scripts' PCACHE_BENCH_DIR: no tool here needs them (as for
            // the servers, PeerServer). Before, a run under scripts/bench-compare waited for a cache
            // to be clean until its timeout, every pcache:list refused.
            builder.environment().keySet().removeIf(k -> k.startsWith("PCACHE_"));
            builder.environment().putAll(environment);
            Process p = builder.directory(dir.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
                throw new IOException(String.join(" ", command) + " did not finish within " + timeout);
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    /** The load averages (/proc/loadavg's first three fields), for the record. */
    static String loadAverage() {
        try {
            String[] fields = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return fields[0] + " " + fields[1] + " " + fields[2];
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }
}
