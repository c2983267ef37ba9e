package pcache.testkit;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.opentest4j.TestAbortedException;

/**
 * The rule for tests that drive real tools (nbdkit, qemu-io, nbdinfo, nbdcopy, nbdsh, fio, certtool, promtool,
 * losetup): where a tool is missing, a test run with {@code CI=true} (as {@code .ci/run} runs)
 * fails, naming the tool, so that a missing install step cannot hide behind a skip; elsewhere the
 * test is skipped with the same message.
 */
public final class ExternalTools {

    private ExternalTools() {
    }

    /** True when the tests run in CI ({@code CI=true} in the environment, or {@code -Dpcache.test.ci=true}). */
    public static boolean inCi() {
        return "true".equalsIgnoreCase(System.getenv("CI")) || Boolean.getBoolean("pcache.test.ci");
    }

    /** The absolute path of a tool, preferring /usr/bin (nbdsh must run on the system python); null if missing. */
    public static String which(String tool) {
        List<String> dirs = new ArrayList<>(List.of("/usr/bin", "/usr/sbin", "/bin", "/sbin"));
        String path = System.getenv("PATH");
        if (path != null) {
            dirs.addAll(List.of(path.split(File.pathSeparator)));
        }
        for (String dir : dirs) {
            if (dir.isEmpty()) {
                continue;
            }
            Path candidate = Path.of(dir, tool);
            if (Files.isExecutable(candidate)) {
                return candidate.toString();
            }
        }
        return null;
    }

    /** The tools among {@code tools} that are not installed. */
    public static List<String> missing(String... tools) {
        List<String> missing = new ArrayList<>();
        for (String tool : tools) {
            if (which(tool) == null) {
                missing.add(tool);
            }
        }
        return missing;
    }

    /**
     * Returns when every tool is installed. Otherwise fails the calling test in CI
     * ({@link AssertionError}) and skips it elsewhere (JUnit 5: {@link TestAbortedException}).
     */
    public static void require(String... tools) {
        String message = message(missing(tools));
        if (message == null) {
            return;
        }
        if (inCi()) {
            throw new AssertionError(message);
        }
        throw new TestAbortedException(message);
    }

    private static String message(List<String> missing) {
        if (missing.isEmpty()) {
            return null;
        }
        return "not installed: " + String.join(", ", missing) + " (Debian packages: nbdkit qemu-utils libnbd-bin fio"
                + " python3-libnbd gnutls-bin prometheus chromium chromium-driver e2fsprogs; .ci/run installs them)" + (inCi() ? "; CI=true: a missing tool fails the test" : "");
    }
}
