package pcache.io;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;

/** What every bundle that opens a file or block device as a device needs to know about it. */
public final class DeviceFiles {

    private DeviceFiles() {
    }

    /**
     * The size of a file or block device. {@link FileChannel#size()} answers from {@code fstat},
     * which gives 0 for block devices on some systems; then the end is found by one-byte positional
     * reads (a read past the end returns -1), about 2·log2(size) of them.
     */
    public static long deviceSize(FileChannel channel, Path path) throws IOException {
        long size = channel.size();
        if (size == 0 && !Files.isRegularFile(path)) {
            size = probeEnd(channel);
        }
        return size;
    }

    /** The first offset at which a read returns end-of-file. */
    public static long probeEnd(FileChannel channel) throws IOException {
        ByteBuffer one = ByteBuffer.allocate(1);
        if (!readable(channel, 0, one)) {
            return 0;
        }
        long good = 0;
        long bad = 1L << 20;
        while (readable(channel, bad - 1, one)) {
            good = bad - 1;
            if (bad >= 1L << 62) {
                return Long.MAX_VALUE;
            }
            bad <<= 1;
        }
        long lo = good; // a byte exists here
        long hi = bad - 1; // and none here
        while (hi - lo > 1) {
            long mid = lo + (hi - lo) / 2;
            if (readable(channel, mid, one)) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return lo + 1;
    }

    private static boolean readable(FileChannel channel, long position, ByteBuffer one) throws IOException {
        one.clear();
        return channel.read(one, position) == 1;
    }

    /**
     * Creates {@code path} as a sparse file of {@code sizeBytes} (no blocks are allocated until
     * written), or finishes a creation that was cut short. Creating a file and giving it its size
     * are two steps; a process stopped between them (a SIGTERM while a cache starts for the first
     * time) leaves an empty regular file, which holds no data, so this gives such a file the size
     * as if it had just been created, instead of refusing it at every start after.
     *
     * @return true when this call created the file or gave an empty one its size; false when
     *         {@code path} exists with a size, or is not a regular file (a block device), and was
     *         left as it is
     * @throws java.nio.file.NoSuchFileException when the folder does not exist
     * @throws IOException when the size cannot be set (a file this call created is removed again)
     */
    public static boolean createSparse(Path path, long sizeBytes) throws IOException {
        if (sizeBytes <= 0) {
            throw new IllegalArgumentException(path + ": size to create " + sizeBytes + " is not positive");
        }
        boolean created;
        try {
            Files.createFile(path);
            created = true;
        } catch (FileAlreadyExistsException exists) {
            if (!Files.isRegularFile(path) || Files.size(path) != 0) {
                return false;
            }
            created = false;
        }
        try (RandomAccessFile file = new RandomAccessFile(path.toFile(), "rw")) {
            if (file.length() != 0) {
                return false; // sized meanwhile by whoever created it
            }
            file.setLength(sizeBytes);
        } catch (IOException e) {
            if (created && Files.isRegularFile(path) && Files.size(path) == 0) {
                Files.deleteIfExists(path); // still as this call left it (no one sized it meanwhile)
            }
            throw e;
        }
        return true;
    }

    /**
     * Why {@code path} must not be written, or null: no write access for this process, a mode
     * that grants write permission to nobody (which root could override, but somebody marked the
     * file read-only on purpose), or a block device the kernel marks read-only (which opens for
     * writing all the same and then refuses every write).
     */
    public static String writeDenied(Path path) throws IOException {
        if (!Files.isWritable(path)) {
            return "no write access for this process";
        }
        PosixFileAttributeView posix = Files.getFileAttributeView(path, PosixFileAttributeView.class);
        if (posix != null) {
            Set<PosixFilePermission> mode = posix.readAttributes().permissions();
            if (!mode.contains(PosixFilePermission.OWNER_WRITE)
                    && !mode.contains(PosixFilePermission.GROUP_WRITE)
                    && !mode.contains(PosixFilePermission.OTHERS_WRITE)) {
                return "its mode grants no write permission";
            }
        }
        if (readOnlyBlockDevice(path)) {
            return "the kernel marks the block device read-only (blockdev --getro prints 1; blockdev --setrw clears"
                    + " it where the medium takes writes)";
        }
        return null;
    }

    /**
     * Whether {@code path} is a block device whose {@code ro} flag is set
     * ({@code /sys/dev/block/MAJ:MIN/ro}, found by the node's device number, so a node of any name,
     * a container's own too, is the device it reaches).
     */
    static boolean readOnlyBlockDevice(Path path) {
        try {
            int mode = (Integer) Files.getAttribute(path, "unix:mode");
            String majorMinor = (mode & 0170000) == 0060000 ? majorMinorOf(path) : null;
            if (majorMinor == null) {
                return false;
            }
            Path flag = Path.of("/sys/dev/block", majorMinor, "ro");
            return Files.isReadable(flag) && Files.readString(flag).trim().equals("1");
        } catch (IOException | RuntimeException e) { // no unix view, gone meanwhile: not known to be read-only
            return false;
        }
    }

    /**
     * The {@code major:minor} of the device node at {@code node}, or null (not a device, not a
     * path, no unix view, gone).
     */
    public static String majorMinorOf(Path node) {
        try {
            Object rdev = Files.getAttribute(node, "unix:rdev");
            return rdev instanceof Long r && r != 0 ? majorMinor(r) : null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** {@code major:minor} of a {@code dev_t} as glibc encodes it. */
    public static String majorMinor(long rdev) {
        long major = ((rdev >>> 8) & 0xfffL) | ((rdev >>> 32) & 0xfffff000L);
        long minor = (rdev & 0xffL) | ((rdev >>> 12) & 0xffffff00L);
        return major + ":" + minor;
    }
}
