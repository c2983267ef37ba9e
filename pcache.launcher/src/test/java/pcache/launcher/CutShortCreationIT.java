package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * pcache creates a missing cache device and backing file in two steps, the file and then its
 * size. Stopped between them (CI once stopped a pcache during its first start, when its port had
 * been taken), it left an empty cache device that every later start refused ("has size 0").
 * The empty files such a stop leaves are given their configured sizes at the next start.
 */
@Timeout(120)
class CutShortCreationIT {

    @TempDir
    Path dir;

    @Test
    void emptyFilesLeftByAStopBeforeTheyWereSizedAreSizedAtTheNextStart() throws Exception {
        Path data = Files.createDirectories(dir.resolve("data")); // relative paths name files here
        Path cacheDev = Files.createFile(data.resolve("disk.cache"));
        Path backing = Files.createFile(data.resolve("disk.backing"));
        try (PcacheProcess pcache = PcacheProcess.configure(dir, Optional.empty(), """
                cache.disk.cache_dev = disk.cache
                cache.disk.cache_dev_size = 512M
                cache.disk.backing_dev = file:disk.backing
                cache.disk.backing_dev_size = 64M
                """).startServing("disk")) {
            assertEquals(512L << 20, Files.size(cacheDev));
            assertEquals(64L << 20, Files.size(backing));
            assertTrue(NbdProbe.serves(pcache.nbdAddress(), "disk"), "served:\n" + pcache.log());
            assertEquals(0, pcache.stop(), "clean stop on SIGTERM:\n" + pcache.log());
        }
    }
}
