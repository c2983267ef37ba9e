package pcache.io.lock;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What holds a busy block device, read from /proc and /sys trees laid out as Linux does. */
class BlockDeviceHoldersTest {

    @TempDir
    Path dir;

    private Path write(String relative, String content) throws Exception {
        Path file = dir.resolve(relative);
        Files.createDirectories(file.getParent());
        return Files.writeString(file, content);
    }

    /**
     * Mounts of the device and of its partitions (their mount points unescaped), and the kernel
     * devices stacked on them, named as users know them; nothing for a device nobody holds.
     */
    @Test
    void mountsAndStackedDevicesOfTheDeviceAndItsPartitionsAreNamed() throws Exception {
        write("proc/self/mountinfo", """
                22 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw
                45 22 7:0 / /srv/a\\040b rw,relatime - ext4 /dev/loop0 rw
                46 22 8:1 / /boot rw,relatime - vfat /dev/sda1 rw
                47 22 0:5 / /dev rw - devtmpfs udev rw
                """);
        write("proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n");
        write("sys/dev/block/7:0/holders/dm-0/dm/name", "vg-lv\n");
        Files.createDirectories(dir.resolve("sys/dev/block/7:0/holders/md127"));
        write("sys/dev/block/8:0/sda1/partition", "1\n");
        write("sys/dev/block/8:0/sda1/dev", "8:1\n");
        write("sys/dev/block/8:0/sda2/partition", "2\n");
        write("sys/dev/block/8:0/sda2/dev", "8:2\n");
        write("sys/dev/block/8:0/queue/dev", "not a partition\n");
        Files.createDirectories(dir.resolve("sys/dev/block/8:1/holders"));
        BlockDeviceHolders holders = new BlockDeviceHolders(dir.resolve("proc"), dir.resolve("sys"));

        assertEquals("mounted at /srv/a b; held by device mapper device vg-lv (dm-0, /dev/mapper/vg-lv); held by"
                + " md array md127 (/dev/md127)", holders.of("7:0"));
        assertEquals("its partition sda1 is mounted at /boot; its partition sda2 is mounted at /", holders.of("8:0"));
        assertEquals("mounted at /boot", holders.of("8:1"));
        assertEquals("", holders.of("9:9"), "nothing known of it");
        assertEquals("", new BlockDeviceHolders(dir.resolve("none"), dir.resolve("none")).of("7:0"),
                "no trees to read");
    }

    /** dev_t as glibc encodes it: 12 bits of major and 8 of minor low, the rest above. */
    @Test
    void deviceNumbersAreDecodedAsGlibcEncodesThem() {
        assertEquals("7:0", BlockDeviceHolders.majorMinor(0x700));
        assertEquals("8:17", BlockDeviceHolders.majorMinor(0x811));
        assertEquals("259:65536", BlockDeviceHolders.majorMinor((259L << 8) | (65536L >> 8 << 20)));
        assertEquals("4096:0", BlockDeviceHolders.majorMinor(4096L >> 12 << 44));
    }

    /** /proc's octal escapes; a backslash that starts none stays. */
    @Test
    void escapedPathsAreRead() {
        assertEquals("/a b\tc\\d", BlockDeviceHolders.unescape("/a\\040b\\011c\\134d"));
        assertEquals("/x\\9y\\", BlockDeviceHolders.unescape("/x\\9y\\"));
    }
}
