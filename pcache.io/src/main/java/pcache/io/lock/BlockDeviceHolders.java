package pcache.io.lock;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What holds a block device that refused an exclusive open ({@code O_EXCL}, {@code EBUSY}), as far
 * as Linux tells anyone: a file system mounted from it ({@code /proc/self/mountinfo}), swap on it
 * ({@code /proc/swaps}), a kernel device stacked on it such as a device mapper or md device
 * ({@code /sys/dev/block/MAJ:MIN/holders}), and the same for each of its partitions. A program that
 * opened it exclusively (another pcache, through any node of the device) leaves no such trace.
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
        try {
            Object rdev = Files.getAttribute(device, "unix:rdev");
            return rdev instanceof Long r ? of(majorMinor(r)) : "";
        } catch (IOException | RuntimeException e) { // no unix view, gone meanwhile: nothing to add
            return "";
        }
    }

    /** What holds the device {@code majorMinor} ("8:16") and its partitions, in words. */
    String of(String majorMinor) {
        List<String> found = new ArrayList<>();
        describe(majorMinor, null, found);
        for (String[] partition : partitions(majorMinor)) {
            describe(partition[1], partition[0], found);
        }
        return String.join("; ", found);
    }

    private void describe(String majorMinor, String partition, List<String> found) {
        String whose = partition == null ? "" : "its partition " + partition + " ";
        for (String mountPoint : mountPoints(majorMinor)) {
            found.add(whose + (whose.isEmpty() ? "mounted at " : "is mounted at ") + mountPoint);
        }
        if (swapsOn(majorMinor)) {
            found.add(whose + (whose.isEmpty() ? "in use as swap" : "is in use as swap"));
        }
        for (String holder : holders(majorMinor)) {
            found.add(whose + (whose.isEmpty() ? "held by " : "is held by ") + holder);
        }
    }

    /** {@code major:minor} of a {@code dev_t} as glibc encodes it. */
    static String majorMinor(long rdev) {
        long major = ((rdev >>> 8) & 0xfffL) | ((rdev >>> 32) & 0xfffff000L);
        long minor = (rdev & 0xffL) | ((rdev >>> 12) & 0xffffff00L);
        return major + ":" + minor;
    }

    /** Where file systems of the device are mounted (field 3 of mountinfo is its major:minor). */
    private List<String> mountPoints(String majorMinor) {
        List<String> points = new ArrayList<>();
        for (String line : lines(proc.resolve("self/mountinfo"))) {
            String[] fields = line.split(" ");
            if (fields.length > 4 && fields[2].equals(majorMinor)) {
                points.add(unescape(fields[4]));
            }
        }
        return points;
    }

    /** Whether a swap area listed in /proc/swaps is the device. */
    private boolean swapsOn(String majorMinor) {
        List<String> lines = lines(proc.resolve("swaps"));
        for (int i = 1; i < lines.size(); i++) { // the first line is the header
            String[] fields = lines.get(i).trim().split("\\s+");
            if (fields.length > 1 && fields[1].equals("partition")) {
                try {
                    Object rdev = Files.getAttribute(Path.of(unescape(fields[0])), "unix:rdev");
                    if (rdev instanceof Long r && majorMinor(r).equals(majorMinor)) {
                        return true;
                    }
                } catch (IOException | RuntimeException e) {
                    // a swap device this process cannot look at: not ours as far as we can tell
                }
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

    private static List<String> lines(Path file) {
        try {
            return Files.readAllLines(file);
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
