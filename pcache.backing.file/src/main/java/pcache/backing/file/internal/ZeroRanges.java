package pcache.backing.file.internal;

import java.io.IOException;
import java.nio.file.Path;

import com.sun.jna.LastErrorException;

import pcache.io.log.Log;

/**
 * Write-zeroes without writing zeroes: {@code fallocate(2)} with {@code FALLOC_FL_ZERO_RANGE}
 * (Linux; ext4 and XFS files, block devices that can zero) turns a range into zeroes by changing
 * the file's extents, so reads return zeroes, {@code SEEK_HOLE} reports the range as a hole and
 * block status as zero, and the blocks stay allocated (no later write can fail for space the
 * range had). Called through JNA (the JDK has no fallocate), on a write-only descriptor of its
 * own, opened with the device (where that fails, as where fallocate is refused, zeroes are written
 * as data and trims ignored), or on a block device's claiming descriptor (see the constructor);
 * the same file's channel sees the result. Where the call is refused as
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
    /** Whether {@link #fd} is this object's own (opened here, closed here), not the device claim's. */
    private final boolean ownDescriptor;
    private boolean closed;

    /**
     * Zero ranges of {@code file}; on {@code claimingDescriptor} when it is not -1 (the descriptor
     * that claims a block device exclusively, {@link pcache.io.lock.DeviceFileLock#claimingDescriptor}),
     * else on a descriptor of its own. A block device's fallocate drops the range's page cache,
     * which the kernel does for dirty pages only through the claiming descriptor: through another,
     * zeroes next to a write not yet flushed failed with EBUSY while pcache held the claim.
     */
    ZeroRanges(Path file, String description, int claimingDescriptor) {
        this.file = file;
        this.description = description;
        this.fd = claimingDescriptor;
        this.ownDescriptor = claimingDescriptor < 0;
        if (fd < 0 && LibC.Supported.here()) {
            // now, with the device's open, and never later: opened at the first trim instead, a
            // file renamed over the path since would be the one zeroed or punched
            try {
                fd = LibC.open(file.toString(), LibC.O_WRONLY | LibC.O_CLOEXEC);
            } catch (LastErrorException e) {
                openFailed = "opening it for fallocate failed: " + LibC.describe(e.getErrorCode());
            }
        }
    }

    /** Why the descriptor of its own could not be opened with the device, or null. */
    private String openFailed;

    /**
     * Zeroes {@code [offset, offset + length)} through the file system; false when it cannot
     * (then, and for every later call, the caller writes zeroes itself).
     *
     * @throws IOException when the file system tried and failed (for example no space left for a
     *         partial block, or an I/O error)
     */
    synchronized boolean zero(long offset, long length) throws IOException {
        return fallocate(zeroRange, offset, length);
    }

    /**
     * Deallocates {@code [offset, offset + length)} (it reads as zeroes after); false when the
     * file system cannot (then, and for every later call, trims are ignored).
     *
     * @throws IOException when the file system tried and failed
     */
    synchronized boolean discard(long offset, long length) throws IOException {
        return fallocate(punchHole, offset, length);
    }

    /** One use of {@code fallocate}: its mode, and whether the file system refused it once. */
    private static final class Use {
        final String name;
        final int mode;
        final String whenRefused;
        boolean refused;

        Use(String name, int mode, String whenRefused) {
            this.name = name;
            this.mode = mode;
            this.whenRefused = whenRefused;
        }
    }

    private final Use zeroRange = new Use("FALLOC_FL_ZERO_RANGE", FALLOC_FL_ZERO_RANGE,
            "write-zeroes writes zeroes as data");
    private final Use punchHole = new Use("FALLOC_FL_PUNCH_HOLE", FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
            "trims are ignored");

    /** Calls {@code fallocate} for {@code use} (lock held). */
    private boolean fallocate(Use use, long offset, long length) throws IOException {
        if (use.refused) {
            return false;
        }
        if (closed) {
            // a trim or write-zeroes that raced the device's close: the same error as every call after it
            throw new pcache.api.DeviceClosedException(description + ": closed");
        }
        try {
            if (fd < 0) {
                return refused(use, openFailed != null ? openFailed : "fallocate is used on Linux on amd64 and aarch64 only");
            }
            LibC.fallocate(fd, use.mode, offset, length);
            return true;
        } catch (LastErrorException e) {
            int errno = e.getErrorCode();
            if (errno == EOPNOTSUPP || errno == EINVAL || errno == ENODEV || errno == ENOSYS) {
                return refused(use, "fallocate(" + use.name + ") answered " + LibC.describe(errno));
            }
            throw new IOException(description + ": fallocate(" + use.name + ", " + offset + ", " + length
                    + ") failed: " + LibC.describe(errno), e);
        } catch (LinkageError e) {
            return refused(use, "JNA is not usable: " + e);
        }
    }

    private boolean refused(Use use, String why) {
        use.refused = true;
        LOG.log(System.Logger.Level.DEBUG, "{0}: {1} ({2})", description, use.whenRefused, why);
        return false;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            if (fd >= 0 && ownDescriptor) {
                try {
                    LibC.close(fd);
                } catch (LastErrorException e) {
                    // fallocate's effects do not wait for close; nothing to lose
                }
            }
        }
    }
}
