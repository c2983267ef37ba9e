package pcache.io.lock;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What holds a block device that refused an exclusive open ({@code O_EXCL}, {@code EBUSY}), as far
 * as Linux tells this process: a file system mounted from it in pcache's mount namespace
 * ({@code /proc/self/mountinfo}: by the device number, or by the mount's source device where the
 * file system shows another number, as btrfs does), swap on it ({@code /proc/swaps}), a kernel
 * device stacked on it such as a device mapper or md device ({@code /sys/dev/block/MAJ:MIN/holders}),
 * the same for each of its partitions, and for a partition, what holds its whole disk. A program
 * that opened it exclusively (another pcache, through any node of the device) leaves no such trace.
 */
final class BlockDeviceHolders {

    private final Path proc;
    private final Path sys;

    /** The system's own {@code /proc} and {@code /sys}. */
    BlockDeviceHolders() {
        this(Path.of("/proc"), Path.of("/sys"));
    }

    /** Reads these trees instead (tests). */
    BlockDeviceHolders(Path proc, Path sys) {
        this.proc = proc;
        this.sys = sys;
    }

    /**
     * What holds the block device at {@code device}, in words ("mounted at /mnt/x", "held by device
     * mapper device vg-lv (dm-0)", "in use as swap"), joined by "; "; empty when nothing is found or
     * the device cannot be looked at.
     */
    String of(Path device) {
        String majorMinor = pcache.io.DeviceFiles.majorMinorOf(device);
        try {
            return majorMinor == null ? "" : of(majorMinor);
        } catch (RuntimeException e) { // an answer is a nicety: never a reason for the refusal to fail
            return "";
        }
    }

    /** The {@code major:minor} of the device node named {@code node}, or null (see {@link pcache.io.DeviceFiles#majorMinorOf}). */
    private static String majorMinorOf(String node) {
        try {
            return pcache.io.DeviceFiles.majorMinorOf(Path.of(node));
        } catch (RuntimeException e) { // not a path
            return null;
        }
    }

    /** At most this many findings are named; the rest are counted. */
    static final int NAMED = 6;

    /**
     * What holds the device {@code majorMinor} ("8:16"), its partitions and, for a partition, its
     * whole disk, in words; each finding once, at most {@link #NAMED} of them named.
     */
    String of(String majorMinor) {
        java.util.Set<String> found = new java.util.LinkedHashSet<>();
        describe(majorMinor, null, found);
        for (String[] partition : partitions(majorMinor)) {
            describe(partition[1], "its partition " + partition[0] + " ", found);
        }
        Path device = sys.resolve("dev/block").resolve(majorMinor);
        if (Files.exists(device.resolve("partition"))) { // the kernel resolves ".." after the symlink
            String disk = firstLine(device.resolve("../dev"));
            if (!disk.isEmpty()) {
                describe(disk, "its disk " + diskName(device) + " ", found);
            }
        }
        List<String> named = new ArrayList<>();
        for (String f : found) {
            if (named.size() == NAMED) {
                named.add("and " + (found.size() - NAMED) + " more");
                break;
            }
            named.add(f);
        }
        return printable(String.join("; ", named));
    }

    /** The whole disk's name of the partition whose sysfs entry is {@code partition}. */
    private static String diskName(Path partition) {
        try {
            return partition.resolve("..").toRealPath().getFileName().toString();
        } catch (IOException | RuntimeException e) {
            return "(unknown)";
        }
    }

    /** {@code text} with control characters (from a mount point's name) shown as {@code ?}. */
    private static String printable(String text) {
        StringBuilder out = new StringBuilder(text.length());
        text.codePoints().forEach(c -> out.appendCodePoint(Character.isISOControl(c) ? '?' : c));
        return out.toString();
    }

    /** Adds what holds the device {@code majorMinor} to {@code found}, each after {@code whose} ("its disk sda ") if given. */
    private void describe(String majorMinor, String whose, java.util.Set<String> found) {
        String prefix = whose == null ? "" : whose + "is ";
        for (String mountPoint : mountPoints(majorMinor)) {
            found.add(prefix + "mounted at " + mountPoint);
        }
        if (swapsOn(majorMinor)) {
            found.add(prefix + "in use as swap");
        }
        for (String holder : holders(majorMinor)) {
            found.add(prefix + "held by " + holder);
        }
    }

    /**
     * Where file systems of the device are mounted: field 3 of mountinfo is the file system's device
     * number, which is the device's own for most; btrfs shows an anonymous one, so the mount's source
     * (the field after the file system type, behind the " - " separator) is looked at too.
     */
    private List<String> mountPoints(String majorMinor) {
        List<String> points = new ArrayList<>();
        for (String line : lines(proc.resolve("self/mountinfo"))) {
            String[] fields = line.split(" ");
            if (fields.length <= 4) {
                continue;
            }
            if (fields[2].equals(majorMinor) || sourceIs(fields, majorMinor)) {
                points.add(unescape(fields[4]));
            }
        }
        return points;
    }

    /** Whether the source of the mount whose mountinfo {@code fields} are given is the device {@code majorMinor}. */
    private static boolean sourceIs(String[] fields, String majorMinor) {
        for (int i = 5; i + 2 < fields.length; i++) {
            if (fields[i].equals("-")) {
                String source = unescape(fields[i + 2]);
                return source.startsWith("/dev/") && majorMinor.equals(majorMinorOf(source));
            }
        }
        return false;
    }

    /** Whether a swap area listed in /proc/swaps is the device. */
    private boolean swapsOn(String majorMinor) {
        List<String> lines = lines(proc.resolve("swaps"));
        for (int i = 1; i < lines.size(); i++) { // the first line is the header
            String[] fields = lines.get(i).trim().split("\\s+");
            // a swap device this process cannot look at is not ours as far as we can tell
            if (fields.length > 1 && fields[1].equals("partition")
                    && majorMinor.equals(majorMinorOf(unescape(fields[0])))) {
                return true;
            }
        }
        return false;
    }

    /** The kernel devices stacked on the device, named as users know them. */
    private List<String> holders(String majorMinor) {
        List<String> holders = new ArrayList<>();
        Path dir = sys.resolve("dev/block").resolve(majorMinor).resolve("holders");
        if (!Files.isDirectory(dir)) {
            return holders;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                String dmName = firstLine(entry.resolve("dm/name"));
                if (!dmName.isEmpty()) {
                    holders.add("device mapper device " + dmName + " (" + name + ", /dev/mapper/" + dmName + ")");
                } else if (name.startsWith("md")) {
                    holders.add("md array " + name + " (/dev/" + name + ")");
                } else {
                    holders.add(name + " (/dev/" + name + ")");
                }
            }
        } catch (IOException | RuntimeException e) {
            // unreadable: what was found so far stands
        }
        holders.sort(null);
        return holders;
    }

    /** The device's partitions: {name, major:minor} (directories of its sysfs entry with a partition file). */
    private List<String[]> partitions(String majorMinor) {
        List<String[]> partitions = new ArrayList<>();
        Path dir = sys.resolve("dev/block").resolve(majorMinor);
        if (!Files.isDirectory(dir)) {
            return partitions;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path entry : entries) {
                if (Files.exists(entry.resolve("partition"))) {
                    String dev = firstLine(entry.resolve("dev"));
                    if (!dev.isEmpty()) {
                        partitions.add(new String[] {entry.getFileName().toString(), dev});
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            // unreadable: no partitions to look at
        }
        partitions.sort((a, b) -> a[0].compareTo(b[0]));
        return partitions;
    }

    /** The file's lines; bytes that are not UTF-8 (a mount point's name) replaced, not failing the read. */
    private static List<String> lines(Path file) {
        try {
            return new String(Files.readAllBytes(file), java.nio.charset.StandardCharsets.UTF_8).lines().toList();
        } catch (IOException | RuntimeException e) {
            return List.of();
        }
    }

    private static String firstLine(Path file) {
        List<String> lines = lines(file);
        return lines.isEmpty() ? "" : lines.get(0).trim();
    }

    /** A path as /proc writes it: space, tab, newline and backslash as three octal digits after a backslash. */
    static String unescape(String field) {
        StringBuilder out = new StringBuilder(field.length());
        for (int i = 0; i < field.length(); i++) {
            char c = field.charAt(i);
            if (c == '\\' && isOctal(field, i + 1)) {
                out.append((char) Integer.parseInt(field.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    private static boolean isOctal(String s, int from) {
        if (from + 3 > s.length()) {
            return false;
        }
        for (int i = from; i < from + 3; i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '7') {
                return false;
            }
        }
        return true;
    }
}
