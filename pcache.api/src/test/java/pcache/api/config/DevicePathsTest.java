package pcache.api.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which paths reach one file. */
class DevicePathsTest {

    @TempDir
    Path dir;

    @Test
    void aLinkAndALinkedFolderReachTheFileTheyLeadTo() throws Exception {
        Path real = dir.toRealPath();
        Path file = Files.createFile(real.resolve("disk.img"));
        Path link = Files.createSymbolicLink(real.resolve("link.img"), file);
        Path folder = Files.createSymbolicLink(real.resolve("folder"), real);
        assertEquals(file, DevicePaths.identity(link));
        assertEquals(file, DevicePaths.identity(folder.resolve("disk.img")));
        assertEquals(file, DevicePaths.identity(real.resolve("sub/../disk.img")));
        assertTrue(DevicePaths.same(link, folder.resolve("link.img")));
        assertFalse(DevicePaths.same(file, real.resolve("other.img")));
    }

    /** Two hard links to one file are one file: one inode under two real paths. Before, two files. */
    @Test
    void twoHardLinksToOneFileAreOneFile() throws Exception {
        Path real = dir.toRealPath();
        Path file = Files.createFile(real.resolve("disk.img"));
        Path hard = Files.createLink(real.resolve("hard.img"), file);
        assertTrue(DevicePaths.same(file, hard));
        assertEquals(DevicePaths.fileKey(file), DevicePaths.fileKey(hard));
        assertTrue(DevicePaths.fileKey(file).isPresent());
        assertFalse(DevicePaths.same(file, Files.createFile(real.resolve("other.img"))));
        assertTrue(DevicePaths.fileKey(real.resolve("missing.img")).isEmpty());
    }

    /**
     * A link to a file not created yet reaches that file, which its first open creates: two caches
     * on the link and on the file are one device. Before the links were followed by hand, the
     * link's own path was taken.
     */
    @Test
    void aLinkToAFileNotYetCreatedReachesThatFile() throws Exception {
        Path real = dir.toRealPath();
        Path later = real.resolve("later.img");
        Path link = Files.createSymbolicLink(real.resolve("link.img"), Path.of("later.img")); // relative
        Path twice = Files.createSymbolicLink(real.resolve("twice.img"), link);
        assertEquals(later, DevicePaths.identity(link));
        assertEquals(later, DevicePaths.identity(twice));
        assertEquals(later, DevicePaths.identity(later));
    }

    @Test
    void aPathInAFolderThatIsNotThereIsTakenAsWritten() {
        Path nowhere = dir.resolve("no/such/folder/../disk.img");
        assertEquals(dir.resolve("no/such/disk.img").toAbsolutePath(), DevicePaths.identity(nowhere));
    }
}
