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

    static native int open(String path, int flags) throws LastErrorException;

    static native long lseek(int fd, long offset, int whence) throws LastErrorException;

    static native int fallocate(int fd, int mode, long offset, long length) throws LastErrorException;

    static native int close(int fd) throws LastErrorException;
}
