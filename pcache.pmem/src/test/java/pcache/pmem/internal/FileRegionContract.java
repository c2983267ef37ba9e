package pcache.pmem.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import org.junit.jupiter.api.Test;

import pcache.api.spi.PmemRegion;

/** The open/create/error behaviour shared by the providers that use real files. */
abstract class FileRegionContract extends PmemRegionContract {

    @Test
    void createsASparseFileOfTheGivenSize() throws IOException {
        Path file = dir.resolve("sparse.img");
        try (PmemRegion region = provider().open(file, deviceBytes())) {
            assertEquals(deviceBytes(), Files.size(file));
        }
    }

    @Test
    void usesTheSizeOfAnExistingFileAndIgnoresTheCreateSize() throws IOException {
        Path file = dir.resolve("existing.img");
        Files.write(file, new byte[12_288]);
        try (PmemRegion region = provider().open(file, 1 << 20)) {
            assertEquals(12_288, region.sizeBytes());
        }
    }

    @Test
    void refusesAnEmptyFile() throws IOException {
        Path file = Files.createFile(dir.resolve("empty.img"));
        IOException e = assertThrows(IOException.class, () -> provider().open(file, 0));
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("size 0"),
                e.getMessage());
    }

    @Test
    void givesTheCreateSizeToAnEmptyFileLeftByACreationCutShort() throws IOException {
        // a stop between creating the file and sizing it (a SIGTERM during a first start)
        Path file = Files.createFile(dir.resolve("cut-short.img"));
        try (PmemRegion region = provider().open(file, deviceBytes())) {
            assertEquals(deviceBytes(), region.sizeBytes());
        }
        assertEquals(deviceBytes(), Files.size(file));
    }

    @Test
    void refusesADirectory() throws IOException {
        Path folder = Files.createDirectory(dir.resolve("folder"));
        IOException e = assertThrows(IOException.class, () -> provider().open(folder, 4096));
        assertTrue(e.getMessage().contains("directory") && e.getMessage().contains(folder.toString()),
                e.getMessage());
    }

    @Test
    void refusesAReadOnlyFile() throws IOException {
        Path file = dir.resolve("readonly.img");
        Files.write(file, new byte[8192]);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("r--r--r--"));
        AccessDeniedException e = assertThrows(AccessDeniedException.class,
                () -> provider().open(file, 0));
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("writ"),
                e.getMessage());
    }

    @Test
    void cannotCreateInAMissingFolder() {
        Path file = dir.resolve("no-such-folder").resolve("c.img");
        NoSuchFileException e = assertThrows(NoSuchFileException.class,
                () -> provider().open(file, 4096));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    }

    @Test
    void negativeCreateSizeIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> provider().open(dir.resolve("n.img"), -1));
    }
}
