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
}
