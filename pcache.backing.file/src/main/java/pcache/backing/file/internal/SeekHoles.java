package pcache.backing.file.internal;

import java.io.IOException;
import java.nio.file.Path;

import com.sun.jna.LastErrorException;

/**
 * {@link HoleMap} through the file system: {@code lseek(2)} with {@code SEEK_DATA} and
 * {@code SEEK_HOLE} (Linux) on a read-only descriptor of its own, called through JNA because the
 * JDK has no API for it. The descriptor sees what the device's channel wrote (same file).
 */
final class SeekHoles extends HoleMap {

    /** {@code <unistd.h>} on Linux. */
    private static final int SEEK_DATA = 3;
    private static final int SEEK_HOLE = 4;
    private static final int SEEK_END = 2;
    /** {@code <errno.h>}: no data after the offset (it lies in the file's last hole). */
    private static final int ENXIO = 6;

    private final int fd;
    private final String path;
    private volatile boolean closed;

    private SeekHoles(int fd, String path) {
        this.fd = fd;
        this.path = path;
    }

    /**
     * Opens {@code file} for hole queries and checks that the file system answers them.
     *
     * @throws IOException when the platform is not Linux on amd64 or aarch64, or the file cannot be
     *         opened or asked
     */
    static SeekHoles open(Path file) throws IOException {
        if (!LibC.Supported.here()) {
            throw new IOException("SEEK_HOLE is used on Linux on amd64 and aarch64 only");
        }
        String path = file.toString();
        int fd;
        try {
            fd = LibC.open(path, LibC.O_RDONLY | LibC.O_CLOEXEC);
        } catch (LastErrorException e) {
            throw new IOException("open(" + path + ") for hole queries failed: " + LibC.describe(e.getErrorCode()), e);
        }
        SeekHoles holes = new SeekHoles(fd, path);
        try {
            holes.nextHole(0, Long.MAX_VALUE); // EINVAL here: the file system has no SEEK_HOLE
            return holes;
        } catch (IOException e) {
            holes.close();
            throw e;
        }
    }

    @Override
    long nextData(long offset) throws IOException {
        return seek(offset, SEEK_DATA, Long.MAX_VALUE);
    }

    @Override
    long nextHole(long offset, long end) throws IOException {
        return Math.min(end, seek(offset, SEEK_HOLE, end));
    }

    /**
     * lseek; ENXIO (offset in the last hole or past the end) gives {@code whenNone}. Synchronized
     * with {@link #close} so that a closed descriptor number, maybe reused, is never asked.
     */
    private synchronized long seek(long offset, int whence, long whenNone) throws IOException {
        if (closed) {
            // the device closes (its hole map first): the same error as every call after the close, which a
            // swap runs again on the device bound next
            throw new pcache.api.DeviceClosedException(path + ": closed");
        }
        try {
            return LibC.lseek(fd, offset, whence);
        } catch (LastErrorException e) {
            if (e.getErrorCode() == ENXIO) {
                return whence == SEEK_DATA ? pastTheLastData(offset) : whenNone;
            }
            throw new IOException("lseek(" + path + ", " + offset + ", " + (whence == SEEK_DATA ? "SEEK_DATA"
                    : "SEEK_HOLE") + ") failed: " + LibC.describe(e.getErrorCode()), e);
        }
    }

    /**
     * Where data begins after {@code offset} when the file has none after it: its end. The last
     * hole ends there; past it (a file shrunk under the device by another program) reads fail, so
     * it is data, the answer that is always true. Before, it was a hole to the device's end, which
     * copying tools skip and write as zeroes.
     */
    private long pastTheLastData(long offset) throws IOException {
        try {
            return Math.max(offset, LibC.lseek(fd, 0, SEEK_END));
        } catch (LastErrorException e) {
            throw new IOException("lseek(" + path + ", 0, SEEK_END) failed: " + LibC.describe(e.getErrorCode()), e);
        }
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            try {
                LibC.close(fd);
            } catch (LastErrorException e) {
                // nothing was written through this descriptor; nothing to lose
            }
        }
    }
}
