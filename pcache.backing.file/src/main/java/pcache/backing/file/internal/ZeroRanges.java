package pcache.backing.file.internal;

import java.io.IOException;
import java.nio.file.Path;

import com.sun.jna.LastErrorException;
import com.sun.jna.Platform;

import pcache.io.log.Log;

/**
 * Write-zeroes without writing zeroes: {@code fallocate(2)} with {@code FALLOC_FL_ZERO_RANGE}
 * (Linux; ext4 and XFS files, block devices that can zero) turns a range into zeroes by changing
 * the file's extents, so reads return zeroes, {@code SEEK_HOLE} reports the range as a hole and
 * block status as zero, and the blocks stay allocated (no later write can fail for space the
 * range had). Called through JNA (the JDK has no fallocate), on a write-only descriptor of its
 * own, opened on first use; the same file's channel sees the result. Where the call is refused as
 * unsupported (tmpfs, NFS, other systems), {@link #zero} answers false from then on and the device
 * writes zeroes as data.
 *
 * <p>Trims go the same way, with {@code FALLOC_FL_PUNCH_HOLE}: the file gives the range's blocks
 * back (a sparse image shrinks) and reads it as zeroes; where that is refused, {@link #discard}
 * answers false from then on and the trim is ignored, as a device without discard would.
 */
final class ZeroRanges implements AutoCloseable {

    private static final System.Logger LOG = Log.of(ZeroRanges.class);

    /** {@code <linux/falloc.h>}. */
    private static final int FALLOC_FL_ZERO_RANGE = 0x10;
    private static final int FALLOC_FL_KEEP_SIZE = 0x01;
    private static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    /** {@code <errno.h>}: answers that mean "not here", not "failed". */
    private static final int ENODEV = 19;
    private static final int EINVAL = 22;
    private static final int ENOSYS = 38;
    private static final int EOPNOTSUPP = 95;

    private final Path file;
    private final String description;
    private int fd = -1;
    private boolean unsupported;
    private boolean discardUnsupported;
    private boolean closed;

    ZeroRanges(Path file, String description) {
        this.file = file;
        this.description = description;
    }

    /**
     * Zeroes {@code [offset, offset + length)} through the file system; false when it cannot
     * (then, and for every later call, the caller writes zeroes itself).
     *
     * @throws IOException when the file system tried and failed (for example no space left for a
     *         partial block, or an I/O error)
     */
    synchronized boolean zero(long offset, long length) throws IOException {
        if (unsupported) {
            return false;
        }
        if (closed) {
            throw new IOException(description + ": closed");
        }
        try {
            if (fd < 0) {
                if (!Platform.isLinux()) {
                    return refused("fallocate is used on Linux only");
                }
                fd = LibC.open(file.toString(), LibC.O_WRONLY | LibC.O_CLOEXEC);
            }
            LibC.fallocate(fd, FALLOC_FL_ZERO_RANGE, offset, length);
            return true;
        } catch (LastErrorException e) {
            int errno = e.getErrorCode();
            if (errno == EOPNOTSUPP || errno == EINVAL || errno == ENODEV || errno == ENOSYS) {
                return refused("fallocate(FALLOC_FL_ZERO_RANGE) answered errno " + errno);
            }
            throw new IOException(description + ": fallocate(FALLOC_FL_ZERO_RANGE, " + offset + ", " + length
                    + ") failed: errno " + errno, e);
        } catch (LinkageError e) {
            return refused("JNA is not usable: " + e);
        }
    }

    /**
     * Deallocates {@code [offset, offset + length)} (it reads as zeroes after); false when the
     * file system cannot (then, and for every later call, trims are ignored).
     *
     * @throws IOException when the file system tried and failed
     */
    synchronized boolean discard(long offset, long length) throws IOException {
        if (discardUnsupported) {
            return false;
        }
        if (closed) {
            throw new IOException(description + ": closed");
        }
        try {
            if (fd < 0) {
                if (!Platform.isLinux()) {
                    return discardRefused("fallocate is used on Linux only");
                }
                fd = LibC.open(file.toString(), LibC.O_WRONLY | LibC.O_CLOEXEC);
            }
            LibC.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
            return true;
        } catch (LastErrorException e) {
            int errno = e.getErrorCode();
            if (errno == EOPNOTSUPP || errno == EINVAL || errno == ENODEV || errno == ENOSYS) {
                return discardRefused("fallocate(FALLOC_FL_PUNCH_HOLE) answered errno " + errno);
            }
            throw new IOException(description + ": fallocate(FALLOC_FL_PUNCH_HOLE, " + offset + ", " + length
                    + ") failed: errno " + errno, e);
        } catch (LinkageError e) {
            return discardRefused("JNA is not usable: " + e);
        }
    }

    private boolean discardRefused(String why) {
        discardUnsupported = true;
        LOG.log(System.Logger.Level.DEBUG, "{0}: trims are ignored ({1})", description, why);
        return false;
    }

    private boolean refused(String why) {
        unsupported = true;
        LOG.log(System.Logger.Level.DEBUG, "{0}: write-zeroes writes zeroes as data ({1})", description, why);
        return false;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            if (fd >= 0) {
                try {
                    LibC.close(fd);
                } catch (LastErrorException e) {
                    // fallocate's effects do not wait for close; nothing to lose
                }
            }
        }
    }
}
