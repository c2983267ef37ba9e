package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import pcache.testkit.LoopbackPorts;

/**
 * A port that was free when the test chose it can be taken before pcache binds it (CI saw it once:
 * "cannot listen on 127.0.0.1:23400: Address already in use"). {@link PcacheProcess#startOnFreePort}
 * then starts pcache again on another port instead of waiting for an export that never comes.
 */
@Timeout(180)
class TakenPortIT {

    @TempDir
    Path dir;

    @Test
    void aPortTakenBeforePcacheBindsItIsReplacedByAnother() throws Exception {
        try (ServerSocket taken = new ServerSocket()) {
            taken.bind(new InetSocketAddress("127.0.0.1", LoopbackPorts.free()));
            AtomicInteger attempts = new AtomicInteger();
            try (PcacheProcess pcache = PcacheProcess.startOnFreePort(port -> {
                // the first attempt is configured for the port this test holds, as if taken meanwhile
                int listen = attempts.getAndIncrement() == 0 ? taken.getLocalPort() : port;
                return PcacheProcess.configure(dir, Optional.of(listen), """
                        cache.disk.cache_dev = disk.cache
                        cache.disk.cache_dev_size = 512M
                        cache.disk.backing_dev = file:disk.backing
                        cache.disk.backing_dev_size = 64M
                        """);
            }, "disk")) {
                assertEquals(2, attempts.get(), "one attempt on the taken port, one on another");
                assertNotEquals(taken.getLocalPort(), pcache.port());
                assertTrue(ListeningSockets.of(pcache.pid()).contains("127.0.0.1:" + pcache.port()),
                        ListeningSockets.of(pcache.pid()).toString());
                assertTrue(NbdProbe.serves(NbdProbe.tcp(pcache.port()), "disk"), "served on the new port");
                assertEquals(0, pcache.stop(), "clean stop on SIGTERM:\n" + pcache.log());
            }
        }
    }
}
