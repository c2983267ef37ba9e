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

    /** A symbolic link at {@code relative} to {@code target} (relative to the link's folder), as sysfs has. */
    private void link(String relative, String target) throws Exception {
        Path link = dir.resolve(relative);
        Files.createDirectories(link.getParent());
        Files.createSymbolicLink(link, Path.of(target));
    }

    /**
     * Mounts of the device and of its partitions (their mount points unescaped), the kernel devices
     * stacked on them, named as users know them, and for a partition what holds its whole disk;
     * nothing for a device nobody holds. The trees are laid out as Linux's: /sys/dev/block/MAJ:MIN
     * and the holders' entries are symbolic links into /sys/devices.
     */
    @Test
    void mountsAndStackedDevicesOfTheDeviceItsPartitionsAndItsDiskAreNamed() throws Exception {
        write("proc/self/mountinfo", """
                22 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw
                45 22 7:0 / /srv/a\\040b rw,relatime - ext4 /dev/loop0 rw
                46 22 8:1 / /boot rw,relatime - vfat /dev/sda1 rw
                48 22 8:1 / /boot rw,relatime - vfat /dev/sda1 rw
                47 22 0:5 / /dev rw - devtmpfs udev rw
                """);
        write("proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n");
        write("sys/devices/virtual/block/loop0/dev", "7:0\n");
        write("sys/devices/virtual/block/dm-0/dm/name", "vg-lv\n");
        link("sys/devices/virtual/block/loop0/holders/dm-0", "../../dm-0");
        write("sys/devices/virtual/block/md127/dev", "9:127\n");
        link("sys/devices/virtual/block/loop0/holders/md127", "../../md127");
        link("sys/dev/block/7:0", "../../devices/virtual/block/loop0");
        String sda = "sys/devices/pci0000:00/0000:00:10.0/host0/target0:0:0/0:0:0:0/block/sda";
        write(sda + "/dev", "8:0\n");
        write("sys/devices/virtual/block/dm-1/dm/name", "mpatha\n");
        Files.createDirectories(dir.resolve(sda + "/holders"));
        Files.createSymbolicLink(dir.resolve(sda + "/holders/dm-1"), dir.resolve("sys/devices/virtual/block/dm-1"));
        Files.createDirectories(dir.resolve(sda + "/queue"));
        write(sda + "/sda1/dev", "8:1\n");
        write(sda + "/sda1/partition", "1\n");
        Files.createDirectories(dir.resolve(sda + "/sda1/holders"));
        write(sda + "/sda2/dev", "8:2\n");
        write(sda + "/sda2/partition", "2\n");
        write(sda + "/sda3/dev", "8:3\n");
        write(sda + "/sda3/partition", "3\n");
        link("sys/dev/block/8:0", "../../devices/pci0000:00/0000:00:10.0/host0/target0:0:0/0:0:0:0/block/sda");
        link("sys/dev/block/8:1", "../../devices/pci0000:00/0000:00:10.0/host0/target0:0:0/0:0:0:0/block/sda/sda1");
        link("sys/dev/block/8:3", "../../devices/pci0000:00/0000:00:10.0/host0/target0:0:0/0:0:0:0/block/sda/sda3");
        BlockDeviceHolders holders = new BlockDeviceHolders(dir.resolve("proc"), dir.resolve("sys"));

        assertEquals("mounted at /srv/a b; held by device mapper device vg-lv (dm-0, /dev/mapper/vg-lv); held by"
                + " md array md127 (/dev/md127)", holders.of("7:0"));
        String mpath = "device mapper device mpatha (dm-1, /dev/mapper/mpatha)";
        assertEquals("held by " + mpath + "; its partition sda1 is mounted at /boot; its partition sda2 is mounted"
                + " at /", holders.of("8:0"), "each once, though /boot is mounted twice");
        assertEquals("mounted at /boot; its disk sda is held by " + mpath, holders.of("8:1"));
        assertEquals("its disk sda is held by " + mpath, holders.of("8:3"),
                "a free partition of a disk held as a whole (other partitions in use do not keep it)");
        assertEquals("", holders.of("9:9"), "nothing known of it");
        assertEquals("", new BlockDeviceHolders(dir.resolve("none"), dir.resolve("none")).of("7:0"),
                "no trees to read");
    }

    /** dev_t as glibc encodes it: 12 bits of major and 8 of minor low, the rest above. */
    @Test
    void deviceNumbersAreDecodedAsGlibcEncodesThem() {
        assertEquals("7:0", pcache.io.DeviceFiles.majorMinor(0x700));
        assertEquals("8:17", pcache.io.DeviceFiles.majorMinor(0x811));
        assertEquals("259:65536", pcache.io.DeviceFiles.majorMinor((259L << 8) | (65536L >> 8 << 20)));
        assertEquals("4096:0", pcache.io.DeviceFiles.majorMinor(4096L >> 12 << 44));
    }

    /** /proc's octal escapes; a backslash that starts none stays. */
    @Test
    void escapedPathsAreRead() {
        assertEquals("/a b\tc\\d", BlockDeviceHolders.unescape("/a\\040b\\011c\\134d"));
        assertEquals("/x\\9y\\", BlockDeviceHolders.unescape("/x\\9y\\"));
    }

    /**
     * A long list is cut after {@link BlockDeviceHolders#NAMED} findings and counted; a mount
     * point's control characters (a newline, which /proc writes as {@code \012}) never reach a log
     * line as such.
     */
    @Test
    void manyFindingsAreCountedAndControlCharactersShownAsQuestionMarks() throws Exception {
        StringBuilder mountinfo = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            mountinfo.append(40 + i).append(" 1 7:0 / /m").append(i).append(" rw - ext4 /dev/loop0 rw\n");
        }
        mountinfo.append("60 1 7:1 / /a\\012b rw - ext4 /dev/loop1 rw\n");
        write("proc/self/mountinfo", mountinfo.toString());
        BlockDeviceHolders holders = new BlockDeviceHolders(dir.resolve("proc"), dir.resolve("sys"));
        assertEquals("mounted at /m0; mounted at /m1; mounted at /m2; mounted at /m3; mounted at /m4; mounted at /m5;"
                + " and 2 more", holders.of("7:0"));
        assertEquals("mounted at /a?b", holders.of("7:1"));
    }

    /** What the refusal says: what holds the device and what to do, and a warning where partitions are in use. */
    @Test
    void theRefusalSaysWhatHoldsTheDeviceAndWhatToDo() {
        assertEquals(DeviceFileLock.Busy.WHY, new DeviceFileLock.Busy("").why(), "nothing found: the usual reasons");
        assertEquals("is busy: mounted at /srv/x; free it first (unmount it, swapoff it, or remove what is stacked on"
                + " it)", new DeviceFileLock.Busy("mounted at /srv/x").why());
        assertEquals("is busy: its partition sda1 is mounted at /boot (its partitions are in use: check that it is the"
                + " device meant, as pcache writes over the whole of it, its partitions too); free it first (unmount"
                + " it, swapoff it, or remove what is stacked on it)",
                new DeviceFileLock.Busy("its partition sda1 is mounted at /boot").why());
    }
}
