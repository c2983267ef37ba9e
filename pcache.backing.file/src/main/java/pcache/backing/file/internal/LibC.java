package pcache.backing.file.internal;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.Platform;

/**
 * The C library calls the file backing makes through JNA, where the JDK has no API for them
 * ({@link SeekHoles}: {@code lseek} with {@code SEEK_DATA}/{@code SEEK_HOLE}; {@link ZeroRanges}:
 * {@code fallocate}), bound once per class loader (JNA direct mapping). Only those classes refer
 * to it, and they are loaded only where JNA is present (JNA is imported dynamically).
 */
final class LibC {

    /** {@code <fcntl.h>} on Linux. */
    static final int O_RDONLY = 0;
    static final int O_WRONLY = 1;
    static final int O_CLOEXEC = 0x80000;

    static {
        Native.register(Platform.C_LIBRARY_NAME);
    }

    private LibC() {
    }

    /**
     * {@code errno} as a name and what it means, for messages: "errno 28" alone sends the operator
     * to a manual page; "ENOSPC (no space left on the file system)" says what to do.
     */
    static String describe(int errno) {
        String what = switch (errno) {
            case 1 -> "EPERM (operation not permitted)";
            case 2 -> "ENOENT (no such file)";
            case 5 -> "EIO (input/output error: the disk or file system failed)";
            case 9 -> "EBADF (bad file descriptor)";
            case 13 -> "EACCES (permission denied)";
            case 16 -> "EBUSY (device or resource busy)";
            case 19 -> "ENODEV (not supported by this device)";
            case 22 -> "EINVAL (invalid argument, or not supported here)";
            case 27 -> "EFBIG (file too large)";
            case 28 -> "ENOSPC (no space left on the file system: free some)";
            case 30 -> "EROFS (read-only file system)";
            case 38 -> "ENOSYS (not implemented)";
            case 95 -> "EOPNOTSUPP (not supported by this file system)";
            case 122 -> "EDQUOT (disk quota exceeded)";
            default -> null;
        };
        return what == null ? "errno " + errno : "errno " + errno + " " + what;
    }

    /**
     * Whether these bindings hold here: Linux with a 64-bit {@code off_t} behind {@code lseek} and
     * {@code fallocate}, on an architecture whose constants are the generic ones. On 32-bit
     * Linux those symbols take a 32-bit {@code off_t}: the 64-bit offsets passed here would be read as other arguments, and a hole query or a zeroing would
     * hit other ranges than asked (found by review; no 32-bit JVM to run it on here). A class of
     * its own: asking registers no native method.
     */
    static final class Supported {
        private Supported() {
        }

        static boolean here() {
            return pcache.io.lock.DeviceFileLock.supportedPlatform();
        }

        /**
         * Linux on 64-bit x86 or ARM, as the device locks ({@code DeviceFileLock}): where the
         * constants here ({@code O_CLOEXEC}, the errno numbers) are the generic ones too (they
         * differ on sparc64, alpha, parisc and mips64).
         */
        static boolean on(boolean linux, String arch) {
            return linux && pcache.io.lock.DeviceFileLock.supportedArchitecture(arch);
        }
    }

    static native int open(String path, int flags) throws LastErrorException;

    static native long lseek(int fd, long offset, int whence) throws LastErrorException;

    static native int fallocate(int fd, int mode, long offset, long length) throws LastErrorException;

    static native int close(int fd) throws LastErrorException;
}
