package pcache.backing.file.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import pcache.api.ReadOnlyDeviceException;

/** Every configuration that cannot work fails to open, and the message says which key and why. */
class FileBackingSettingsErrorsTest {

    @TempDir
    Path dir;

    private BackingConfigurationException refused(FileBackingSettings settings) {
        return assertThrows(BackingConfigurationException.class, () -> FileBackingDevice.open(settings));
    }

    private static void assertMentions(Exception e, String... parts) {
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), "'" + part + "' missing in: " + e.getMessage());
        }
    }

    @Test
    void nameIsRequired() {
        assertMentions(refused(FileBackingSettings.of(" ", dir.resolve("x").toString())),
                "'name'", "pcache.backing.file");
        assertMentions(refused(FileBackingSettings.of(null, dir.resolve("x").toString())), "'name'");
    }

    @Test
    void pathIsRequired() {
        assertMentions(refused(FileBackingSettings.of("disk", "")), "'path'", "disk");
        assertMentions(refused(FileBackingSettings.of("disk", null)), "'path'");
    }

    @Test
    void aMissingFileNeedsCreate() {
        Path missing = dir.resolve("missing.img");
        assertMentions(refused(FileBackingSettings.of("disk", missing.toString())),
                "path=" + missing, "does not exist", "create=true");
    }

    @Test
    void createNeedsASize() {
        Path missing = dir.resolve("missing.img");
        assertMentions(refused(FileBackingSettings.of("disk", missing.toString()).withCreate(true)),
                "create=true", "size_bytes");
        assertTrue(Files.notExists(missing));
    }

    @Test
    void createMakesAFileOfTheGivenSize() throws IOException {
        Path created = dir.resolve("created.img");
        try (FileBackingDevice device = FileBackingDevice.open(FileBackingSettings
                .of("disk", created.toString()).withCreate(true).withSizeBytes(1 << 20))) {
            assertEquals(1 << 20, device.sizeBytes());
        }
        assertEquals(1 << 20, Files.size(created));
    }

    @Test
    void createGivesTheSizeToAnEmptyFileLeftByACreationCutShort() throws IOException {
        Path cutShort = Files.createFile(dir.resolve("cut-short.img"));
        try (FileBackingDevice device = FileBackingDevice.open(FileBackingSettings
                .of("disk", cutShort.toString()).withCreate(true).withSizeBytes(1 << 20))) {
            assertEquals(1 << 20, device.sizeBytes());
        }
        assertEquals(1 << 20, Files.size(cutShort));
    }

    @Test
    void anEmptyFileIsNeverSizedWhenConfiguredReadOnlyOrMarkedSo() throws IOException {
        Path empty = Files.createFile(dir.resolve("empty-ro.img"));
        assertMentions(refused(FileBackingSettings.of("disk", empty.toString()).withCreate(true)
                .withSizeBytes(1 << 20).withReadOnly(true)), "size 0");
        assertEquals(0, Files.size(empty));
        Files.setPosixFilePermissions(empty, PosixFilePermissions.fromString("r--r--r--"));
        assertMentions(refused(FileBackingSettings.of("disk", empty.toString()).withCreate(true)
                .withSizeBytes(1 << 20)), "read-only", "read_only=true");
        assertEquals(0, Files.size(empty));
    }

    @Test
    void creationFailsClearlyWhenTheFileSystemLacksSpace() {
        Path huge = dir.resolve("huge.img");
        long exbibyte = 1L << 60;
        assertMentions(refused(FileBackingSettings.of("disk", huge.toString()).withCreate(true)
                .withSizeBytes(exbibyte)), "size_bytes=" + exbibyte, "usable");
        assertTrue(Files.notExists(huge));
    }

    @Test
    void creationNeedsAnExistingFolder() {
        Path nested = dir.resolve("no-such-folder").resolve("d.img");
        assertMentions(refused(FileBackingSettings.of("disk", nested.toString()).withCreate(true)
                .withSizeBytes(4096)), "folder", "does not exist");
    }

    @Test
    void sizeMustBeAMultipleOf512() throws IOException {
        Path path = Files.write(dir.resolve("d.img"), new byte[4096]);
        assertMentions(refused(FileBackingSettings.of("disk", path.toString()).withSizeBytes(1000)),
                "size_bytes=1000", "multiple of 512");
        assertMentions(refused(FileBackingSettings.of("disk", path.toString()).withSizeBytes(-512)),
                "size_bytes=-512");
    }

    @Test
    void anExistingFileOfAnotherSizeNamesBothSizes() throws IOException {
        Path path = Files.write(dir.resolve("d.img"), new byte[4096]);
        assertMentions(refused(FileBackingSettings.of("disk", path.toString()).withSizeBytes(8192)),
                "size_bytes=8192", "4096 bytes", "size_bytes=0");
    }

    @Test
    void anExistingFileMustHoldWholeSectors() throws IOException {
        Path path = Files.write(dir.resolve("odd.img"), new byte[1000]);
        assertMentions(refused(FileBackingSettings.of("disk", path.toString())),
                "1000 bytes", "multiple of 512");
    }

    @Test
    void anEmptyFileIsRefused() throws IOException {
        Path path = Files.createFile(dir.resolve("empty.img"));
        assertMentions(refused(FileBackingSettings.of("disk", path.toString())), "size 0");
    }

    @Test
    void aDirectoryIsRefused() {
        assertMentions(refused(FileBackingSettings.of("disk", dir.toString())), "directory");
    }

    @Test
    void aTooLongIdentityIsRefused() throws IOException {
        Path path = Files.write(dir.resolve("d.img"), new byte[4096]);
        assertMentions(refused(FileBackingSettings.of("disk", path.toString())
                .withIdentity("x".repeat(2000))), "identity=");
    }

    @Test
    void aReadOnlyFileNeedsReadOnlyTrue() throws IOException {
        Path path = Files.write(dir.resolve("ro.img"), new byte[8192]);
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("r--r--r--"));
        assertMentions(refused(FileBackingSettings.of("disk", path.toString())),
                "path=" + path, "read-only", "read_only=true");
    }

    @Test
    void readOnlyDevicesReadButRefuseChangesAndFlushDoesNothing() throws IOException {
        Path path = Files.write(dir.resolve("ro.img"), new byte[8192]);
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("r--r--r--"));
        try (FileBackingDevice device = FileBackingDevice.open(
                FileBackingSettings.of("disk", path.toString()).withReadOnly(true))) {
            ByteBuffer back = ByteBuffer.allocate(512);
            device.read(512, back);
            assertEquals(512, back.position());
            ReadOnlyDeviceException e = assertThrows(ReadOnlyDeviceException.class,
                    () -> device.write(0, ByteBuffer.allocate(512), false));
            assertTrue(e.getMessage().contains("read_only=true"), e.getMessage());
            assertThrows(ReadOnlyDeviceException.class, () -> device.trim(0, 512));
            assertThrows(ReadOnlyDeviceException.class, () -> device.writeZeroes(0, 512, true));
            device.flush();
            assertTrue(device.isReadOnly());
            assertTrue(device.description().contains("read-only"), device.description());
        }
    }
}
