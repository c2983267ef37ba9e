package pcache.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Creating device files: sparse, finishing a creation cut short, never touching one with a size. */
class DeviceFilesTest {

    @TempDir
    Path dir;

    @Test
    void aMissingFileIsCreatedWithTheSize() throws IOException {
        Path file = dir.resolve("new.img");
        assertTrue(DeviceFiles.createSparse(file, 64L << 20));
        assertEquals(64L << 20, Files.size(file));
    }

    @Test
    void anEmptyFileLeftByACreationCutShortIsGivenTheSize() throws IOException {
        // what a process stopped between creating the file and sizing it leaves behind
        Path file = Files.createFile(dir.resolve("cut-short.img"));
        assertTrue(DeviceFiles.createSparse(file, 8L << 20));
        assertEquals(8L << 20, Files.size(file));
    }

    @Test
    void aFileWithASizeIsLeftAsItIs() throws IOException {
        byte[] data = {1, 2, 3, 4, 5, 6, 7, 8};
        Path file = Files.write(dir.resolve("data.img"), data);
        assertFalse(DeviceFiles.createSparse(file, 8L << 20));
        assertArrayEquals(data, Files.readAllBytes(file));
    }

    /**
     * Whether this folder's file system refuses a file of {@link Long#MAX_VALUE} bytes, the
     * sizing failure the next two tests provoke: ext4 does (16 TiB at most); tmpfs, XFS and btrfs
     * take it.
     */
    private boolean refusesHugeFiles() throws IOException {
        Path probe = Files.createFile(dir.resolve("probe.img"));
        try (RandomAccessFile file = new RandomAccessFile(probe.toFile(), "rw")) {
            file.setLength(Long.MAX_VALUE);
            return false;
        } catch (IOException refused) {
            return true;
        } finally {
            Files.delete(probe);
        }
    }

    @Test
    void aFileThatCannotBeSizedIsRemovedWhenThisCallCreatedIt() throws IOException {
        Assumptions.assumeTrue(refusesHugeFiles(), dir + " takes a file of Long.MAX_VALUE bytes: no sizing failure to provoke");
        Path file = dir.resolve("too-large.img");
        IOException e = assertThrows(IOException.class, () -> DeviceFiles.createSparse(file, Long.MAX_VALUE));
        assertFalse(Files.exists(file), "left behind after: " + e);
    }

    @Test
    void anEmptyFileThatCannotBeSizedStaysAsItWas() throws IOException {
        Assumptions.assumeTrue(refusesHugeFiles(), dir + " takes a file of Long.MAX_VALUE bytes: no sizing failure to provoke");
        Path file = Files.createFile(dir.resolve("someone-elses.img"));
        assertThrows(IOException.class, () -> DeviceFiles.createSparse(file, Long.MAX_VALUE));
        assertTrue(Files.exists(file));
        assertEquals(0, Files.size(file));
    }

    @Test
    void aMissingFolderIsNamed() {
        Path file = dir.resolve("no-such-folder").resolve("x.img");
        assertThrows(NoSuchFileException.class, () -> DeviceFiles.createSparse(file, 1 << 20));
    }

    @Test
    void aSizeThatIsNotPositiveIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> DeviceFiles.createSparse(dir.resolve("z"), 0));
    }
}
