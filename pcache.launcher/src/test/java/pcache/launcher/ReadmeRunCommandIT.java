package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's run command on the embedded defaults, exactly as a user tries it: the distribution
 * started with no configuration in an empty working directory serves {@code pcache0} on
 * 127.0.0.1:10809 (skipped when another process holds that port).
 */
@Timeout(120)
class ReadmeRunCommandIT {

    private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(60);
    private static final String URI = "nbd://127.0.0.1:10809/pcache0";

    @TempDir
    Path cwd;

    @Test
    void embeddedDefaultsServePcache0ToNbdinfoAndQemuIo() throws Exception {
        ExternalTools.assumeInstalled("nbdinfo", "qemu-io");
        Assumptions.assumeTrue(portIsFree(10809), "127.0.0.1:10809 is in use by another process");
        try (PcacheProcess pcache = PcacheProcess.embeddedDefaults(cwd); ExternalTools tools = new ExternalTools(cwd)) {
            pcache.startServing("pcache0");
            ExternalTools.Result info = tools.run(TOOL_TIMEOUT, "nbdinfo", URI).assertSucceeded();
            assertTrue(info.stdout().contains("export=\"pcache0\""), info.stdout());
            assertTrue(info.stdout().contains("export-size: 4294967296"), info.stdout());
            ExternalTools.Result io = tools.qemuIo(TOOL_TIMEOUT, URI, false,
                    List.of("write -P 0xab 0 1M", "read -P 0xab 0 1M"));
            assertTrue(io.stdout().contains("wrote 1048576/1048576 bytes at offset 0")
                    && io.stdout().contains("read 1048576/1048576 bytes at offset 0"), io.stdout());
            assertTrue(Files.size(cwd.resolve("data/pcache0.cache")) == 1L << 30, "1 GiB cache device under ./data");
            assertEquals(0, pcache.stop(), pcache.log());
        }
    }

    private static boolean portIsFree(int port) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.bind(new InetSocketAddress("127.0.0.1", port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
