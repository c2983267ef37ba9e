package pcache.backing.file.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import pcache.testkit.LoopDevice;

/**
 * A real block device: a loop device over a temporary file ({@link LoopDevice}: needs root and
 * losetup).
 */
class BlockDeviceTest {

    @TempDir
    Path dir;

    @Test
    void sizesAndServesALoopDevice() throws Exception {
        Path image = Files.write(dir.resolve("loop.img"), new byte[4 << 20]);
        try (LoopDevice loop = LoopDevice.over(image)) {
            try (FileBackingDevice device = FileBackingDevice.open(FileBackingSettings.of("blk", loop.name()))) {
                assertEquals(4 << 20, device.sizeBytes());
                assertEquals("file:" + loop.path().toRealPath(), device.identity().id());
                ByteBuffer data = ByteBuffer.allocate(4096);
                for (int i = 0; i < 4096; i++) {
                    data.put(i, (byte) i);
                }
                device.write(1 << 20, data, true);
                device.flush();
                ByteBuffer back = ByteBuffer.allocate(4096);
                device.read(1 << 20, back);
                assertEquals(data.flip(), back.flip());
            }
        }
        assertEquals(1, Files.readAllBytes(image)[(1 << 20) + 1], "the write reached the file");
    }

    /**
     * A block device in use as a backing device is claimed as a device: a backing device on
     * another node of it (a container's own {@code /dev}) is refused as busy. Before, both opened.
     */
    @Test
    void anotherNodeOfABlockDeviceInUseIsRefusedAsBusy() throws Exception {
        assumeTrue(pcache.io.lock.DeviceFileLock.supportedPlatform(), "64-bit x86 and ARM Linux");
        Path image = Files.write(dir.resolve("loop.img"), new byte[4 << 20]);
        try (LoopDevice loop = LoopDevice.over(image)) {
            Path alias = loop.secondNode(dir.resolve("alias"));
            try (FileBackingDevice device = FileBackingDevice.open(FileBackingSettings.of("blk", loop.name()))) {
                BackingConfigurationException busy = assertThrows(BackingConfigurationException.class,
                        () -> FileBackingDevice.open(FileBackingSettings.of("other", alias.toString())).close());
                assertTrue(busy.getMessage().contains("path=" + alias + " is busy: a block device that is mounted"),
                        busy.getMessage());
                assertEquals(4 << 20, device.sizeBytes(), "the first is unaffected");
            }
            try (FileBackingDevice again = FileBackingDevice.open(FileBackingSettings.of("other", alias.toString()))) {
                assertEquals(4 << 20, again.sizeBytes());
            }
        }
    }

    /**
     * Zeroes next to a write not flushed yet, on a block device this pcache claims: the kernel's
     * fallocate on a block device drops the range's page cache, which it cannot do for dirty pages
     * while another descriptor holds the device exclusively (EBUSY).
     */
    @Test
    void zeroesNextToAWriteNotFlushedYet() throws Exception {
        assumeTrue(pcache.io.lock.DeviceFileLock.supportedPlatform(), "64-bit x86 and ARM Linux");
        Path image = Files.write(dir.resolve("loop.img"), new byte[4 << 20]);
        try (LoopDevice loop = LoopDevice.over(image)) {
            try (FileBackingDevice device = FileBackingDevice.open(FileBackingSettings.of("blk", loop.name()))) {
                ByteBuffer ones = ByteBuffer.allocate(512);
                for (int i = 0; i < 512; i++) {
                    ones.put(i, (byte) 1);
                }
                device.write(0, ones, false);
                device.writeZeroes(512, 65536 - 512, false);
                ByteBuffer full = ByteBuffer.allocate(4096);
                for (int i = 0; i < 4096; i++) {
                    full.put(i, (byte) 2);
                }
                device.write(1 << 20, full, false);
                device.writeZeroes(1 << 20, 4096, false);
                device.trim(2 << 20, 4096);
                device.flush();
                ByteBuffer back = ByteBuffer.allocate(65536);
                device.read(0, back);
                for (int i = 0; i < 65536; i++) {
                    assertEquals(i < 512 ? 1 : 0, back.get(i), "at " + i);
                }
                ByteBuffer page = ByteBuffer.allocate(4096);
                device.read(1 << 20, page);
                assertEquals(ByteBuffer.allocate(4096), page.flip());
            }
        }
        // on the disk too, past the page cache: the unflushed head of the first page reached it
        byte[] disk = Files.readAllBytes(image);
        for (int i = 0; i < 65536; i++) {
            assertEquals(i < 512 ? 1 : 0, disk[i], "on the image at " + i);
        }
        for (int i = 1 << 20; i < (1 << 20) + 4096; i++) {
            assertEquals(0, disk[i], "on the image at " + i);
        }
    }

    /**
     * A block device the kernel marks read-only opens for writing all the same and refuses every
     * write (EPERM): the device opened, and write-back failed on every try. It is now refused at
     * the open, naming read_only.
     */
    @Test
    void aReadOnlyBlockDeviceIsRefusedForWritingAndOpensForReading() throws Exception {
        Path image = Files.write(dir.resolve("loop.img"), new byte[4 << 20]);
        try (LoopDevice loop = LoopDevice.overReadOnly(image)) {
            assertEquals("1", Files.readString(Path.of("/sys/class/block", loop.path().getFileName().toString(), "ro"))
                    .trim(), "the loop device is read-only");
            BackingConfigurationException refused = assertThrows(BackingConfigurationException.class,
                    () -> FileBackingDevice.open(FileBackingSettings.of("blk", loop.name())).close());
            assertTrue(refused.getMessage().contains("path=" + loop.name() + " is read-only (the kernel marks the block"
                    + " device read-only (blockdev --getro prints 1") && refused.getMessage().contains("read_only=true"),
                    refused.getMessage());
            try (FileBackingDevice reader = FileBackingDevice.open(
                    FileBackingSettings.of("blk", loop.name()).withReadOnly(true))) {
                assertEquals(4 << 20, reader.sizeBytes());
            }
            // a node of another name (a container's own /dev) is the same device: found by its number
            Path alias = loop.secondNode(dir.resolve("alias"));
            BackingConfigurationException aliasRefused = assertThrows(BackingConfigurationException.class,
                    () -> FileBackingDevice.open(FileBackingSettings.of("blk", alias.toString())).close());
            assertTrue(aliasRefused.getMessage().contains("the kernel marks the block device read-only"),
                    aliasRefused.getMessage());
        }
    }
}
