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
     * opened exclusively by another program, perhaps through another device node. {@code heldBy}:
     * what holds it as far as the system tells ("mounted at /mnt/x", "held by device mapper device
     * vg-lv (dm-0, /dev/mapper/vg-lv)"), or empty when nothing is found (a program's exclusive open
     * leaves no trace).
     */
    public record Busy(String heldBy) implements Outcome {

        /** What a busy device is and what to do, for a message that names the device before it. */
        public static final String WHY = "is busy: a block device that is mounted, held by the kernel (device"
                + " mapper, md, swap) or opened exclusively by another program, perhaps another pcache through"
                + " another device node of it; unmount or release it first";

        /** {@link #WHY}, or what holds it when that is known, for a message that names the device before it. */
        public String why() {
            if (heldBy == null || heldBy.isEmpty()) {
                return WHY;
            }
            String partitions = heldBy.contains("its partition ") ? " (its partitions are in use: check that it is"
                    + " the device meant, as pcache writes over the whole of it, its partitions too)" : "";
            return "is busy: " + heldBy + partitions + "; free it first (unmount it, swapoff it, or remove what is"
                    + " stacked on it)";
        }
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
    /** Whether {@link #fd} claims a block device exclusively (opened for writing with {@code O_EXCL}). */
    private final boolean claims;
    private volatile boolean closed;

    private DeviceFileLock(int fd, boolean claims) {
        this.fd = fd;
        this.claims = claims;
    }

    /**
     * The descriptor that claims a block device exclusively (opened for writing, {@code O_EXCL}),
     * or -1 when this lock claims none (a regular file, a reader) or is closed. It stays this
     * lock's: a caller never closes it and stops using it before the lock closes. The kernel lets
     * only the claiming descriptor's {@code fallocate} drop a block device's dirty page cache in
     * the range (another descriptor's fails with EBUSY while the claim is held).
     */
    public int claimingDescriptor() {
        return claims && !closed ? fd : -1;
    }

    /** Whether this platform has the locks (and the {@code struct flock} layout) used here. */
    public static boolean supportedPlatform() {
        return System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux")
                && supportedArchitecture(System.getProperty("os.arch", ""));
    }

    /** Whether the Linux constants used here (fcntl's, and other JNA callers') hold on {@code arch}: 64-bit x86 and ARM. */
    public static boolean supportedArchitecture(String arch) {
        return arch.equals("amd64") || arch.equals("x86_64") || arch.equals("aarch64");
    }

    /** Takes a write lock on {@code device}'s file. */
    public static Outcome tryLock(Path device) {
        return tryLock(device, Access.WRITE);
    }

    /** Takes a lock of {@code access} on {@code device}'s file. */
    public static Outcome tryLock(Path device, Access access) {
        return lock(device, access, false);
    }

    /**
     * Opens {@code device} (claiming a block device opened for writing) and locks it: the whole
     * file, or with {@code image} as {@link #tryLockImage} does.
     */
    private static Outcome lock(Path device, Access access, boolean image) {
        if (!supportedPlatform()) {
            return new Unsupported("open file description locks are used on 64-bit x86 and ARM Linux only, not on "
                    + System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        }
        boolean write = access == Access.WRITE;
        boolean claim = write && isBlockDevice(device);
        try {
            int fd = LibC.openDevice(device.toString(), write, claim);
            if (fd < 0) {
                if (claim && -fd == EBUSY) {
                    return new Busy(new BlockDeviceHolders().of(device));
                }
                // not there, not writable, not a file: the device's own open says so in its own words
                return new Unsupported("cannot open " + device + " for " + (write ? "writing" : "reading")
                        + ": errno " + -fd + errnoName(-fd), true);
            }
            Outcome outcome = image ? lockImage(fd, device, write, claim) : lockWholeFile(fd, device, write, claim);
            if (!(outcome instanceof Locked)) {
                LibC.closeQuietly(fd);
            }
            return outcome;
        } catch (LinkageError e) { // JNA not installed, or its native part not loadable
            return new Unsupported("JNA is not available (" + e + ")");
        }
    }

    private static Outcome lockWholeFile(int fd, Path device, boolean write, boolean claim) {
        int errno = LibC.lockWholeFile(fd, write);
        if (errno == 0) {
            return new Locked(new DeviceFileLock(fd, claim));
        }
        return errno == EAGAIN || errno == EACCES ? new HeldElsewhere() // of the lock, not of the open
                : new Unsupported("locking " + device + " failed: errno " + errno);
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

    /**
     * Locks a disk image the way qemu locks the images it opens, so that qemu and pcache see each
     * other, plus a byte of pcache's own that keeps other pcache users out as {@link #tryLock}
     * would. qemu's locks are read locks on single bytes: byte 100 + p held for each permission p
     * a user has (0 consistent read, 1 write, 3 resize), byte 200 + p for each permission it does
     * not share with others; a user checks, before it locks, that nobody denies what it wants and
     * nobody holds what it denies. pcache holds consistent read (and write, for {@link
     * Access#WRITE}) and shares neither write nor resize: a qemu that would write is refused ("Failed
     * to get "write" lock"), so is one that would read without sharing write (qemu-img convert:
     * "Failed to get shared "write" lock"), while one that shares everything reads
     * ({@code qemu-img convert -U}). A qemu that holds the image is seen in turn. A block device
     * opened for writing is also claimed ({@code O_EXCL}), as by {@link #tryLock}.
     */
    public static Outcome tryLockImage(Path device, Access access) {
        return lock(device, access, true);
    }

    /** pcache's own byte: far past qemu's, a write lock for a writer, a read lock for a reader. */
    static final long PCACHE_BYTE = 1L << 62;
    /** qemu's bytes: a permission held at 100 + p, one not shared at 200 + p. */
    static final int QEMU_HELD = 100;
    static final int QEMU_NOT_SHARED = 200;
    static final int QEMU_CONSISTENT_READ = 0;
    static final int QEMU_WRITE = 1;
    static final int QEMU_RESIZE = 3;

    private static Outcome lockImage(int fd, Path device, boolean write, boolean claim) {
        int errno = LibC.lock(fd, write, PCACHE_BYTE);
        if (errno != 0) {
            return errno == EAGAIN || errno == EACCES ? new HeldElsewhere()
                    : new Unsupported("locking " + device + " failed: errno " + errno);
        }
        int[] held = write ? new int[] {QEMU_CONSISTENT_READ, QEMU_WRITE} : new int[] {QEMU_CONSISTENT_READ};
        int[] notShared = {QEMU_WRITE, QEMU_RESIZE};
        for (int p : held) { // somebody does not share what pcache wants
            if (LibC.lockedElsewhere(fd, QEMU_NOT_SHARED + p)) {
                return new HeldElsewhere();
            }
        }
        for (int p : notShared) { // somebody has what pcache does not share
            if (LibC.lockedElsewhere(fd, QEMU_HELD + p)) {
                return new HeldElsewhere();
            }
        }
        for (int p : held) {
            if (LibC.lock(fd, false, QEMU_HELD + p) != 0) {
                return new HeldElsewhere();
            }
        }
        for (int p : notShared) {
            if (LibC.lock(fd, false, QEMU_NOT_SHARED + p) != 0) {
                return new HeldElsewhere();
            }
        }
        return new Locked(new DeviceFileLock(fd, claim));
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
        private static final int F_OFD_GETLK = 36;
        private static final int F_OFD_SETLK = 37;
        private static final short F_UNLCK = 2;
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

        /** Locks the one byte at {@code at} on {@code fd} (write or read): 0, or the errno of the lock. */
        static int lock(int fd, boolean write, long at) {
            try (Memory flock = byteLock(write ? F_WRLCK : F_RDLCK, at)) {
                fcntl(fd, F_OFD_SETLK, flock);
                return 0;
            } catch (LastErrorException e) {
                return e.getErrorCode();
            }
        }

        /** Whether another open file description holds a lock on the byte at {@code at}. */
        static boolean lockedElsewhere(int fd, long at) {
            try (Memory flock = byteLock(F_WRLCK, at)) {
                fcntl(fd, F_OFD_GETLK, flock);
                return flock.getShort(0) != F_UNLCK;
            } catch (LastErrorException e) {
                return true; // cannot tell: as held, so that nothing is shared by mistake
            }
        }

        private static Memory byteLock(short type, long at) {
            Memory flock = new Memory(FLOCK_BYTES);
            flock.clear(); // l_pid 0, as OFD locks need
            flock.setShort(0, type);
            flock.setShort(2, SEEK_SET);
            flock.setLong(8, at); // l_start
            flock.setLong(16, 1); // l_len: one byte
            return flock;
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
