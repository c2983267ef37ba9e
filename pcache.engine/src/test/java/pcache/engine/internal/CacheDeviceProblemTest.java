package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What an open cache says about the hold on its cache device ({@code CacheConditions.cacheDeviceProblem}):
 * nothing while the lock is held and the device is there; the lock released, the lock file or the
 * device removed, each named with what to do.
 */
class CacheDeviceProblemTest {

    @TempDir
    Path dir;

    @Test
    void lockedAndPresentIsNoProblemAndEachLossIsNamed() throws Exception {
        Path dev = Files.write(dir.resolve("c.cache"), new byte[4096]);
        Path lockFile = dir.resolve("c.cache.lock");
        try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            FileLock lock = ch.lock();
            assertNull(PcacheTargetComponent.cacheDeviceProblem("c", dev, lock, lockFile));

            Files.delete(dev);
            String gone = PcacheTargetComponent.cacheDeviceProblem("c", dev, lock, lockFile);
            assertTrue(gone.contains("no longer exists") && gone.contains("pcache:drain c"), gone);

            Files.delete(lockFile);
            String noLockFile = PcacheTargetComponent.cacheDeviceProblem("c", dev, lock, lockFile);
            assertTrue(noLockFile.contains("lock file " + lockFile + " of cache device " + dev + " was removed"),
                    noLockFile);

            lock.release();
            String released = PcacheTargetComponent.cacheDeviceProblem("c", dev, lock, lockFile);
            assertTrue(released.contains("no longer held"), released);
            assertTrue(PcacheTargetComponent.cacheDeviceProblem("c", dev, null, null).contains("no longer held"));
        }
    }
}
