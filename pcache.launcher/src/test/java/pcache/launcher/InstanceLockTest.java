package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InstanceLockTest {

    @TempDir
    Path dir;

    @Test
    void oneHolderAtATime() throws Exception {
        try (InstanceLock lock = InstanceLock.acquire(dir)) {
            assertEquals(ProcessHandle.current().pid() + "\n", Files.readString(dir.resolve(InstanceLock.FILE_NAME)));
            LaunchException e = assertThrows(LaunchException.class, () -> InstanceLock.acquire(dir));
            assertEquals("this process already runs pcache on " + dir, e.getMessage());
        }
        try (InstanceLock again = InstanceLock.acquire(dir)) {
            // released by close
        }
    }

    @Test
    void missingDirectoryIsReported() {
        LaunchException e = assertThrows(LaunchException.class, () -> InstanceLock.acquire(dir.resolve("nope")));
        assertEquals("cannot lock " + dir.resolve("nope").resolve(InstanceLock.FILE_NAME) + ": "
                + dir.resolve("nope").resolve(InstanceLock.FILE_NAME), e.getMessage());
    }
}
