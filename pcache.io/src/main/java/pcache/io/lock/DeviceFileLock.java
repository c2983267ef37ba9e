package pcache.io.lock;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Platform;

/**
 * A lock on a device's file itself, held by an open file description of its own: Linux's open
 * file description locks ({@code fcntl(F_OFD_SETLK)}, through JNA, which the JDK has no API for).
 * It is taken on the file, not on a path, so two users that reach one device by two names (hard
 * links in different folders, a bind mount) are refused as one, in this process or in another; a
 * lock file next to the device cannot see that. A write lock refuses every other lock of the
 * file; read locks share it with each other. Programs that lock the images they open, such as
 * qemu, meet the lock too.
 *
 * <p>A block device opened for writing is also claimed exclusively ({@code O_EXCL}), as the
 * kernel's own device-mapper targets claim theirs: the claim is the device's, not its node's, so
 * it refuses another device node of the same device, a mounted file system on it and a device the
 * kernel holds (device mapper, md, swap) — {@link Busy}.
 *
 * <p>Why not {@code FileChannel.tryLock}: that is a POSIX record lock, which the process loses as
 * soon as any descriptor of the file it holds closes (a mapping's channel at a swap, another
 * channel of the device), without a word. An OFD lock lives as long as its own descriptor.
 *
 * <p>Where JNA or OFD locks are not there (another platform, a kernel before 3.15, a file system
 * without locks, a framework without the JNA bundle), {@link #tryLock} says so ({@link
 * Unsupported}) and the caller goes on with what guards it otherwise. Every reference to JNA lies
 * in the nested {@link LibC}, which is loaded at its first call only: this class itself links
 * without JNA, and a missing JNA surfaces as a {@link LinkageError} of that call, which is caught.
 * A {@code LibC} that failed to initialise stays so for the life of its class loader.
 *
 * <p>Never exported: bnd copies this package into the bundles that lock devices, which import
 * JNA optionally or dynamically.
 */
public final class DeviceFileLock implements AutoCloseable {

    /** {@code <errno.h>}: the lock is held by another open file description. */
    private static final int EAGAIN = 11;
    private static final int EACCES = 13;
    /** {@code <errno.h>}: a block device claimed exclusively elsewhere. */
    private static final int EBUSY = 16;

    /** What the lock allows others. */
    public enum Access {
        /** A write lock (and a block device's exclusive claim): no other lock of the device. */
        WRITE,
        /** A read lock: other read locks share the device, a write lock is refused. */
        READ
    }

    /** The outcome of {@link #tryLock}. */
    public sealed interface Outcome permits Locked, HeldElsewhere, Busy, Unsupported {
    }

    /** Locked: close it to release. */
    public record Locked(DeviceFileLock lock) implements Outcome {
    }

    /** Another open file description holds a lock that conflicts: another user, here or in another process. */
    public record HeldElsewhere() implements Outcome {
    }

    /**
     * A block device claimed already: mounted, held by the kernel (device mapper, md, swap) or
     * opened exclusively by another program, perhaps through another device node.
     */
    public record Busy() implements Outcome {
    }

    /**
     * No lock of this kind here; why, for the log. {@code openFailed}: the device's file could not
     * be opened (missing, not permitted), which the device's own open reports in its own words.
     */
    public record Unsupported(String why, boolean openFailed) implements Outcome {

        /** Not there for another reason than the file's open: no JNA, another platform, no locks. */
        public Unsupported(String why) {
            this(why, false);
        }
    }

    private final int fd;
    private boolean closed;

    private DeviceFileLock(int fd) {
        this.fd = fd;
    }

    /** Whether this platform has the locks (and the {@code struct flock} layout) used here. */
    public static boolean supportedPlatform() {
        String arch = System.getProperty("os.arch", "");
        return System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux")
                && (arch.equals("amd64") || arch.equals("x86_64") || arch.equals("aarch64"));
    }

    /** Takes a write lock on {@code device}'s file. */
    public static Outcome tryLock(Path device) {
        return tryLock(device, Access.WRITE);
    }

    /** Takes a lock of {@code access} on {@code device}'s file. */
    public static Outcome tryLock(Path device, Access access) {
        if (!supportedPlatform()) {
            return new Unsupported("open file description locks are used on 64-bit x86 and ARM Linux only, not on "
                    + System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        }
        boolean write = access == Access.WRITE;
        boolean claim = write && isBlockDevice(device);
        int fd;
        int errno;
        try {
            fd = LibC.openDevice(device.toString(), write, claim);
            if (fd < 0) {
                if (claim && -fd == EBUSY) {
                    return new Busy();
                }
                // not there, not writable, not a file: the device's own open says so in its own words
                return new Unsupported("cannot open " + device + " for " + (write ? "writing" : "reading")
                        + ": errno " + -fd + errnoName(-fd), true);
            }
            errno = LibC.lockWholeFile(fd, write);
        } catch (LinkageError e) { // JNA not installed, or its native part not loadable
            return new Unsupported("JNA is not available (" + e + ")");
        }
        if (errno == 0) {
            return new Locked(new DeviceFileLock(fd));
        }
        LibC.closeQuietly(fd);
        if (errno == EAGAIN || errno == EACCES) { // of the lock, not of the open
            return new HeldElsewhere();
        }
        return new Unsupported("locking " + device + " failed: errno " + errno);
    }

    /** The name of a few errors an open meets, for the log; empty for others. */
    private static String errnoName(int errno) {
        return switch (errno) {
            case 1 -> " (EPERM)";
            case 2 -> " (ENOENT: no such file)";
            case 13 -> " (EACCES: permission denied)";
            case 21 -> " (EISDIR: a folder)";
            case 30 -> " (EROFS: a read-only file system)";
            default -> "";
        };
    }

    /** Whether {@code path} reaches a block device ({@code S_IFBLK}); false when that cannot be read. */
    static boolean isBlockDevice(Path path) {
        try {
            int mode = (Integer) Files.getAttribute(path, "unix:mode");
            return (mode & 0170000) == 0060000;
        } catch (IOException | RuntimeException e) { // no such file, or no unix view: not claimed
            return false;
        }
    }

    /** Releases the lock (closing its descriptor); once. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            try {
                LibC.closeQuietly(fd);
            } catch (LinkageError e) {
                // not reached: a lock was taken through the same class
            }
        }
    }

    /** The C library, bound once (JNA direct mapping), and every JNA type this lock uses. */
    private static final class LibC {

        /** {@code <fcntl.h>} on Linux (x86_64, aarch64). */
        private static final int O_RDONLY = 0;
        private static final int O_RDWR = 2;
        private static final int O_EXCL = 0x80;
        private static final int O_CLOEXEC = 0x80000;
        private static final int F_OFD_SETLK = 37;
        private static final short F_RDLCK = 0;
        private static final short F_WRLCK = 1;
        private static final short SEEK_SET = 0;
        /** {@code struct flock}: type, whence (shorts), start, len (64 bits), pid (int), 32 bytes. */
        private static final int FLOCK_BYTES = 32;

        static {
            Native.register(Platform.C_LIBRARY_NAME);
        }

        private LibC() {
        }

        /**
         * Opens {@code path} for writing or reading, with {@code claim} exclusively (a block
         * device): the descriptor, or minus the errno of the open.
         */
        static int openDevice(String path, boolean write, boolean claim) {
            try {
                return open(path, (write ? O_RDWR : O_RDONLY) | (claim ? O_EXCL : 0) | O_CLOEXEC);
            } catch (LastErrorException e) {
                return -e.getErrorCode();
            }
        }

        /** Locks the whole file on {@code fd}: 0, or the errno of the lock (the descriptor stays open). */
        static int lockWholeFile(int fd, boolean write) {
            try (Memory flock = new Memory(FLOCK_BYTES)) {
                flock.clear(); // l_start and l_len 0: the whole file, as it grows too; l_pid 0, as OFD locks need
                flock.setShort(0, write ? F_WRLCK : F_RDLCK);
                flock.setShort(2, SEEK_SET);
                fcntl(fd, F_OFD_SETLK, flock);
                return 0;
            } catch (LastErrorException e) {
                return e.getErrorCode();
            }
        }

        static void closeQuietly(int fd) {
            try {
                close(fd);
            } catch (LastErrorException ignored) {
                // nothing held through it
            }
        }

        private static native int open(String path, int flags) throws LastErrorException;

        private static native int fcntl(int fd, int cmd, com.sun.jna.Pointer arg) throws LastErrorException;

        private static native int close(int fd) throws LastErrorException;
    }
}
