package pcache.engine.internal;

import java.nio.file.Path;
import java.util.Locale;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Platform;

/**
 * A write lock on a cache device's file itself, held by an open file description of its own:
 * Linux's open file description locks ({@code fcntl(F_OFD_SETLK)}, through JNA, which the JDK
 * has no API for). It is taken on the file, not on a path, so two caches that reach one device by
 * two names (hard links in different folders, a bind mount) are refused as one, in this process
 * or in another; the lock file next to the device ({@code <cache_dev>.lock}) cannot see that.
 *
 * <p>Why not {@code FileChannel.tryLock} on the device: that is a POSIX record lock, which the
 * process loses as soon as any descriptor of the file it holds closes (a pmem mapping's channel
 * at a swap, the image tool's), without a word. An OFD lock lives as long as its own descriptor.
 *
 * <p>Where JNA or OFD locks are not there (another platform, a kernel before 3.15, a file system
 * without locks, a framework without the JNA bundle: the engine imports it dynamically), {@link
 * #tryLock} says so and the lock file alone guards the device, as before. Every reference to JNA
 * lies in the nested {@link LibC}, which is loaded at its first call only: this class itself links
 * without JNA, and a missing JNA surfaces as a {@link LinkageError} of that call, which is caught.
 * JNA must be there by the first lock: a {@code LibC} that failed to initialise stays so for the
 * life of the engine bundle's class loader (a refresh of the bundle tries again).
 */
final class DeviceFileLock implements AutoCloseable {

    /** {@code <errno.h>}: the lock is held by another open file description. */
    private static final int EAGAIN = 11;
    private static final int EACCES = 13;

    /** The outcome of {@link #tryLock}. */
    sealed interface Outcome permits Locked, HeldElsewhere, Unsupported {
    }

    /** Locked: close it to release. */
    record Locked(DeviceFileLock lock) implements Outcome {
    }

    /** Another open file description holds it: another cache, here or in another process. */
    record HeldElsewhere() implements Outcome {
    }

    /** No lock of this kind here; why, for the log. */
    record Unsupported(String why) implements Outcome {
    }

    private final int fd;
    private boolean closed;

    private DeviceFileLock(int fd) {
        this.fd = fd;
    }

    /** Whether this platform has the locks (and the {@code struct flock} layout) used here. */
    static boolean supportedPlatform() {
        String arch = System.getProperty("os.arch", "");
        return System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux")
                && (arch.equals("amd64") || arch.equals("x86_64") || arch.equals("aarch64"));
    }

    /** Takes the lock on {@code device}'s file. */
    static Outcome tryLock(Path device) {
        if (!supportedPlatform()) {
            return new Unsupported("open file description locks are used on 64-bit x86 and ARM Linux only, not on "
                    + System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        }
        int fd;
        int errno;
        try {
            fd = LibC.openForWriting(device.toString());
            if (fd < 0) { // not there, not writable, not a file: the mapping's open says so in its own words
                return new Unsupported("cannot open " + device + " for writing: errno " + -fd);
            }
            errno = LibC.lockWholeFile(fd);
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
        private static final int O_RDWR = 2;
        private static final int O_CLOEXEC = 0x80000;
        private static final int F_OFD_SETLK = 37;
        private static final short F_WRLCK = 1;
        private static final short SEEK_SET = 0;
        /** {@code struct flock}: type, whence (shorts), start, len (64 bits), pid (int), 32 bytes. */
        private static final int FLOCK_BYTES = 32;

        static {
            Native.register(Platform.C_LIBRARY_NAME);
        }

        private LibC() {
        }

        /** Opens {@code path} for writing: the descriptor, or minus the errno of the open. */
        static int openForWriting(String path) {
            try {
                return open(path, O_RDWR | O_CLOEXEC);
            } catch (LastErrorException e) {
                return -e.getErrorCode();
            }
        }

        /** Write-locks the whole file on {@code fd}: 0, or the errno of the lock (the descriptor stays open). */
        static int lockWholeFile(int fd) {
            try (Memory flock = new Memory(FLOCK_BYTES)) {
                flock.clear(); // l_start and l_len 0: the whole file, as it grows too; l_pid 0, as OFD locks need
                flock.setShort(0, F_WRLCK);
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
