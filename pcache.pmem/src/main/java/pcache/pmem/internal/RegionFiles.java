package pcache.pmem.internal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import pcache.io.DeviceFiles;

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
     * {@code createSizeBytes} when it is missing, or empty (a creation cut short), and that size is
     * positive.
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
        if (Files.exists(path)) {
            String denied = DeviceFiles.writeDenied(path);
            if (denied != null) {
                throw new AccessDeniedException(path.toString(), null,
                        "cache device is not writable (" + denied
                                + "); grant write permission or choose another file");
            }
        } else if (createSizeBytes == 0) {
            throw new NoSuchFileException(path.toString(), null,
                    "cache device does not exist; create it or give a size to create it with");
        }
        if (createSizeBytes > 0) {
            create(path, createSizeBytes); // also sizes an empty file left by a creation cut short
        }
        FileChannel channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            long size = DeviceFiles.deviceSize(channel, path);
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
            DeviceFiles.createSparse(path, sizeBytes);
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(path.toString(), null,
                    "cannot create the cache device: its folder does not exist");
        } catch (IOException e) {
            throw new IOException("cannot create cache device " + path + " of " + sizeBytes
                    + " bytes: " + e.getMessage(), e);
        }
    }
}
