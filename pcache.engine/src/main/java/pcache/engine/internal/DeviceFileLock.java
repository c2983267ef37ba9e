package pcache.engine.internal;

import java.nio.file.Path;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

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
 * <p>Where JNA or OFD locks are not there (another platform, a kernel before 3.15, a Karaf without
 * the JNA bundle: the engine imports it optionally), {@link #tryLock} says so and the lock file
 * alone guards the device, as before.
 */
final class DeviceFileLock implements AutoCloseable {

    /** {@code <fcntl.h>} on Linux, every architecture. */
    private static final int O_RDWR = 2;
    private static final int O_CLOEXEC = 0x80000;
    private static final int F_OFD_SETLK = 37;
    private static final short F_WRLCK = 1;
    private static final short SEEK_SET = 0;
    /** {@code struct flock} on 64-bit Linux: type, whence (shorts), start, len (64 bits), pid. */
    private static final int FLOCK_BYTES = 32;
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
        try {
            return Native64.available() ? lock(device) : new Unsupported("not 64-bit Linux");
        } catch (LinkageError e) { // JNA not installed, or its native part not loadable
            return new Unsupported("JNA is not available (" + e + ")");
        }
    }

    private static Outcome lock(Path device) {
        String path = device.toString();
        int fd;
        try {
            fd = Native64.open(path, O_RDWR | O_CLOEXEC);
        } catch (LastErrorException e) { // not there or not writable: the mapping's open says so in its words
            return new Unsupported("cannot open " + path + " for writing: errno " + e.getErrorCode());
        }
        try (Memory flock = new Memory(FLOCK_BYTES)) {
            flock.clear();
            flock.setShort(0, F_WRLCK);
            flock.setShort(2, SEEK_SET); // l_start and l_len 0: the whole file, as it grows too; l_pid 0
            Native64.fcntl(fd, F_OFD_SETLK, flock);
            return new Locked(new DeviceFileLock(fd));
        } catch (LastErrorException e) {
            closeQuietly(fd);
            if (e.getErrorCode() == EAGAIN || e.getErrorCode() == EACCES) {
                return new HeldElsewhere();
            }
            return new Unsupported("fcntl(F_OFD_SETLK) on " + path + " failed: errno " + e.getErrorCode());
        } catch (RuntimeException | Error e) {
            closeQuietly(fd);
            throw e;
        }
    }

    private static void closeQuietly(int fd) {
        try {
            Native64.close(fd);
        } catch (LastErrorException ignored) {
            // nothing held through it
        }
    }

    /** Releases the lock (closing its descriptor); once. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            closeQuietly(fd);
        }
    }

    /** The C library, bound once (JNA direct mapping); loaded only when JNA is there. */
    private static final class Native64 {
        static {
            Native.register(Platform.C_LIBRARY_NAME);
        }

        static boolean available() {
            return Platform.isLinux() && Platform.is64Bit();
        }

        static native int open(String path, int flags) throws LastErrorException;

        static native int fcntl(int fd, int cmd, Pointer arg) throws LastErrorException;

        static native int close(int fd) throws LastErrorException;
    }
}
