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
 * without locks, a Karaf without the JNA bundle: the engine imports it optionally), {@link #tryLock}
 * says so and the lock file alone guards the device, as before. Every reference to JNA lies in
 * the nested {@link LibC}, which is loaded at its first call only: this class itself links without
 * JNA, and a missing JNA surfaces as a {@link LinkageError} of that call, which is caught.
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

    /** Takes the lock on {@code device}'s file. */
    static Outcome tryLock(Path device) {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        if (!os.startsWith("linux") || !(arch.equals("amd64") || arch.equals("x86_64") || arch.equals("aarch64"))) {
            return new Unsupported("open file description locks are used on 64-bit x86 and ARM Linux only, not on "
                    + os + " " + arch);
        }
        long result;
        try {
            result = LibC.lockWholeFile(device.toString());
        } catch (LinkageError e) { // JNA not installed, or its native part not loadable
            return new Unsupported("JNA is not available (" + e + ")");
        }
        if (result >= 0) {
            return new Locked(new DeviceFileLock((int) result));
        }
        int errno = (int) -result;
        if (errno == EAGAIN || errno == EACCES) {
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

        /**
         * Opens {@code path} for writing and locks the whole file on that descriptor.
         *
         * @return the descriptor holding the lock, or minus the errno of what failed (the
         *         descriptor closed again): of the open when the file is not there or not writable
         *         (the mapping's open says so in its own words), of the lock when it is held elsewhere
         */
        static long lockWholeFile(String path) {
            int fd;
            try {
                fd = open(path, O_RDWR | O_CLOEXEC);
            } catch (LastErrorException e) {
                return -e.getErrorCode();
            }
            try (Memory flock = new Memory(FLOCK_BYTES)) {
                flock.clear(); // l_start and l_len 0: the whole file, as it grows too; l_pid 0, as OFD locks need
                flock.setShort(0, F_WRLCK);
                flock.setShort(2, SEEK_SET);
                fcntl(fd, F_OFD_SETLK, flock);
                return fd;
            } catch (LastErrorException e) {
                closeQuietly(fd);
                return -e.getErrorCode();
            } catch (RuntimeException | Error e) {
                closeQuietly(fd);
                throw e;
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
