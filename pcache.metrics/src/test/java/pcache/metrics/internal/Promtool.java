package pcache.metrics.internal;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import pcache.testkit.ExternalTools;

/** {@code promtool check metrics} (Debian package prometheus) on a metrics text, bounded in time. */
final class Promtool {

    private Promtool() {
    }

    /** The exit status and output of promtool reading {@code text}; fails or skips (CI rule) without promtool. */
    static String check(String text, Path dir) throws IOException, InterruptedException {
        ExternalTools.require("promtool");
        Path input = Files.writeString(dir.resolve("metrics.txt"), text, StandardCharsets.UTF_8);
        Path output = dir.resolve("promtool.out");
        Process p = new ProcessBuilder(ExternalTools.which("promtool"), "check", "metrics")
                .redirectInput(input.toFile()).redirectErrorStream(true).redirectOutput(output.toFile()).start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("promtool check metrics did not finish within 60 s");
        }
        return "exit " + p.exitValue() + "\n" + Files.readString(output, StandardCharsets.UTF_8);
    }
}
