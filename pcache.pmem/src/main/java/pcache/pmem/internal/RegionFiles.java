package pcache.pmem.internal;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;

/**
 * Opening a cache device file the way every file-based provider does: create it when asked,
 * refuse directories, read-only files and empty devices with messages that say what to do, and
 * find the size of block devices.
 */
final class RegionFiles {

    private RegionFiles() {
    }

    /**
     * Opens {@code path} for reading and writing, creating it (sparse) with
     * {@code createSizeBytes} when it is missing and that size is positive.
     *
     * @return the open channel and the device size, positive
     */
    static OpenedFile open(Path path, long createSizeBytes) throws IOException {
        if (createSizeBytes < 0) {
            throw new IllegalArgumentException("cache device " + path + ": negative create size "
                    + createSizeBytes);
        }
        if (Files.isDirectory(path)) {
            throw new IOException("cache device " + path
                    + " is a directory; name a file or a block device");
        }
        if (!Files.exists(path)) {
            if (createSizeBytes == 0) {
                throw new NoSuchFileException(path.toString(), null,
                        "cache device does not exist; create it or give a size to create it with");
            }
            create(path, createSizeBytes);
        }
        String denied = writeDenied(path);
        if (denied != null) {
            throw new AccessDeniedException(path.toString(), null,
                    "cache device is not writable (" + denied
                            + "); grant write permission or choose another file");
        }
        FileChannel channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            long size = deviceSize(channel, path);
            if (size <= 0) {
                throw new IOException("cache device " + path + " has size 0 (an empty file, or a "
                        + "device whose size cannot be read); give it a size first");
            }
            return new OpenedFile(channel, size);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    /** An open cache device. */
    record OpenedFile(FileChannel channel, long sizeBytes) {
    }

    private static void create(Path path, long sizeBytes) throws IOException {
        try {
            Files.createFile(path);
        } catch (FileAlreadyExistsException raced) {
            return; // created concurrently: use it as an existing file
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(path.toString(), null,
                    "cannot create the cache device: its folder does not exist");
        }
        try (RandomAccessFile file = new RandomAccessFile(path.toFile(), "rw")) {
            file.setLength(sizeBytes); // sparse: no blocks are allocated until written
        } catch (IOException e) {
            Files.deleteIfExists(path);
            throw new IOException("cannot create cache device " + path + " of " + sizeBytes
                    + " bytes: " + e.getMessage(), e);
        }
    }

    /**
     * Why {@code path} must not be written to, or null. Besides the process's access rights a
     * file whose mode grants nobody write access counts as read-only, even for root (who may
     * write anything): somebody marked it so on purpose.
     */
    static String writeDenied(Path path) throws IOException {
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
        return null;
    }

    /**
     * The size of a file or block device. {@link FileChannel#size()} answers from
     * {@code fstat}, which gives 0 for block devices on some systems; then the end is found by
     * one-byte positional reads (reads past the end return -1), about 2·log2(size) of them.
     */
    static long deviceSize(FileChannel channel, Path path) throws IOException {
        long size = channel.size();
        if (size == 0 && !Files.isRegularFile(path)) {
            size = probeEnd(channel);
        }
        return size;
    }

    /** The first offset at which a read returns end-of-file. */
    static long probeEnd(FileChannel channel) throws IOException {
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
        // invariant: a byte exists at good, none at bad - 1 ... search the last existing byte
        long lo = good;
        long hi = bad - 1;
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

    private static boolean readable(FileChannel channel, long position, ByteBuffer one)
            throws IOException {
        one.clear();
        return channel.read(one, position) == 1;
    }
}
