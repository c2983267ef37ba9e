package pcache.backing.file.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import pcache.testkit.ExternalTools;

/**
 * A real block device: a loop device over a temporary file. Needs root and losetup (a missing
 * losetup fails the test in CI); skipped where the loop driver refuses a device, which is a
 * property of the host kernel, not an install step.
 */
class BlockDeviceTest {

    @TempDir
    Path dir;

    @Test
    void sizesAndServesALoopDevice() throws Exception {
        ExternalTools.require("losetup");
        Path image = Files.write(dir.resolve("loop.img"), new byte[4 << 20]);
        String loop = run("losetup", "--find", "--show", image.toString());
        assumeTrue(loop != null && loop.startsWith("/dev/"), "no loop device available (losetup)");
        try (FileBackingDevice device = FileBackingDevice.open(FileBackingSettings.of("blk", loop))) {
            assertEquals(4 << 20, device.sizeBytes());
            assertEquals("file:" + Path.of(loop).toRealPath(), device.identity().id());
            ByteBuffer data = ByteBuffer.allocate(4096);
            for (int i = 0; i < 4096; i++) {
                data.put(i, (byte) i);
            }
            device.write(1 << 20, data, true);
            device.flush();
            ByteBuffer back = ByteBuffer.allocate(4096);
            device.read(1 << 20, back);
            assertEquals(data.flip(), back.flip());
        } finally {
            run("losetup", "--detach", loop);
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
        ExternalTools.require("losetup", "mknod");
        Path image = Files.write(dir.resolve("loop.img"), new byte[4 << 20]);
        String loop = run("losetup", "--find", "--show", image.toString());
        assumeTrue(loop != null && loop.startsWith("/dev/"), "no loop device available (losetup)");
        try {
            long rdev = (Long) Files.getAttribute(Path.of(loop), "unix:rdev");
            long major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & ~0xfffL);
            long minor = (rdev & 0xff) | ((rdev >> 12) & ~0xffL);
            Path alias = dir.resolve("alias");
            assertTrue(run("mknod", alias.toString(), "b", Long.toString(major), Long.toString(minor)) != null,
                    "mknod " + alias + " (as root)");
            try (FileBackingDevice device = FileBackingDevice.open(FileBackingSettings.of("blk", loop))) {
                BackingConfigurationException busy = assertThrows(BackingConfigurationException.class,
                        () -> FileBackingDevice.open(FileBackingSettings.of("other", alias.toString())).close());
                assertTrue(busy.getMessage().contains("path=" + alias + " is busy: a block device that is mounted"),
                        busy.getMessage());
                assertEquals(4 << 20, device.sizeBytes(), "the first is unaffected");
            }
            try (FileBackingDevice again = FileBackingDevice.open(FileBackingSettings.of("other", alias.toString()))) {
                assertEquals(4 << 20, again.sizeBytes());
            }
        } finally {
            run("losetup", "--detach", loop);
        }
    }

    /** Output of a short command, or null when it cannot run or fails. */
    private static String run(String... command) throws InterruptedException {
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                return null;
            }
            String out = new String(process.getInputStream().readAllBytes()).trim();
            return process.exitValue() == 0 ? out : null;
        } catch (IOException e) {
            return null;
        }
    }
}
