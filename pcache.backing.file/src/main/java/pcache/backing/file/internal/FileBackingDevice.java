package pcache.backing.file.internal;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Set;

import pcache.api.BackingDeviceException;
import pcache.api.BlockDevice;
import pcache.api.BlockExtent;
import pcache.api.DeviceClosedException;
import pcache.api.ReadOnlyDeviceException;
import pcache.api.spi.BackingDevice;
import pcache.api.spi.BackingIdentity;
import pcache.io.DeviceFiles;
import pcache.io.InterruptSafeChannel;
import pcache.io.lock.DeviceFileLock;
import pcache.io.log.Log;

/**
 * A backing device on a regular file or a block device, through one {@link FileChannel} with
 * positional I/O ({@code pread}/{@code pwrite}), so any number of threads may read and write
 * at once. {@link #flush()} is a data sync ({@code fdatasync}); a FUA write syncs after itself.
 *
 * <p>Write-zeroes changes the file's extents where the file system can
 * ({@code FALLOC_FL_ZERO_RANGE}, {@link ZeroRanges}: the range then reads as zeroes and is a hole
 * to block status, with its blocks still allocated), and writes zeroes elsewhere.
 *
 * <p>Trim punches a hole where the file system can ({@code FALLOC_FL_PUNCH_HOLE},
 * {@link ZeroRanges}) and is ignored elsewhere: the contract lets trimmed ranges read back as
 * their old content. The cache passes a trim on once write-back has reached it in log order.
 *
 * <p>Block status reports a sparse file's holes as the file system tells them ({@link HoleMap});
 * a block device reports all data.
 *
 * <p>The file is locked while the device is open ({@link DeviceFileLock#tryLockImage}): for
 * writing, or shared with other readers when read-only, with qemu's byte locks too; a block device
 * opened for writing is claimed exclusively, as dm-pcache's kernel target claims its backing
 * device. Another pcache (or another backing device in this one) on the same file by any name, and
 * a qemu that would write to it or read it without sharing writes, are refused, since two writers
 * of one disk overwrite each other's data; a qemu that shares everything reads it
 * ({@code qemu-img convert -U}). Without JNA the file is not locked, and the log says so.
 */
public final class FileBackingDevice implements BackingDevice, AutoCloseable {

    private static final System.Logger LOG = Log.of(FileBackingDevice.class);

    /** Largest single transfer of {@link #writeZeroes}, from one reused buffer of zeroes. */
    static final int ZERO_CHUNK_BYTES = 1 << 20;

    private final String description;
    private final long sizeBytes;
    private final boolean readOnly;
    private final BackingIdentity identity;
    private final InterruptSafeChannel channel;
    private final HoleMap holes;
    /** Direct (page-cache bypassing) writes of aligned buffers, or null. */
    private final DirectWrites direct;
    /** Write-zeroes through the file system ({@code FALLOC_FL_ZERO_RANGE}), or null (read-only). */
    private final ZeroRanges zeroRanges;
    /** The lock on the file itself, or null where there is none (no JNA). */
    private final DeviceFileLock lock;
    private volatile ByteBuffer zeroes;

    private FileBackingDevice(String description, long sizeBytes, boolean readOnly,
            BackingIdentity identity, InterruptSafeChannel channel, HoleMap holes, DirectWrites direct,
            ZeroRanges zeroRanges, DeviceFileLock lock) {
        this.description = description;
        this.sizeBytes = sizeBytes;
        this.readOnly = readOnly;
        this.identity = identity;
        this.channel = channel;
        this.holes = holes;
        this.direct = direct;
        this.zeroRanges = zeroRanges;
        this.lock = lock;
    }

    /**
     * Opens (and if configured, creates) the device.
     *
     * @throws BackingConfigurationException when the settings do not fit the file; the message
     *         names the configuration key, its value and what to do
     * @throws IOException when the file cannot be opened for another reason
     */
    public static FileBackingDevice open(FileBackingSettings settings) throws IOException {
        String who = who(settings);
        Path path = validPath(who, settings);
        prepareFile(who, path, settings);
        boolean readOnly = settings.readOnly();
        if (!readOnly) {
            checkWritePermission(who, path);
        }
        Set<OpenOption> options = readOnly ? Set.of(StandardOpenOption.READ)
                : Set.of(StandardOpenOption.READ, StandardOpenOption.WRITE);
        DeviceFileLock.Outcome locking = lock(who, path, readOnly);
        DeviceFileLock lock = locking instanceof DeviceFileLock.Locked locked ? locked.lock() : null;
        FileChannel channel;
        try {
            channel = FileChannel.open(path, options);
        } catch (Throwable e) { // an Error too: the lock's descriptor must not outlive the open
            if (lock != null) {
                lock.close();
            }
            throw e;
        }
        if (locking instanceof DeviceFileLock.Unsupported unsupported) { // said once the device is open
            LOG.log(System.Logger.Level.INFO, () -> who + ": " + FileBackingSettings.KEY_PATH + "=" + path
                    + " is not locked (" + (unsupported.openFailed() ? "the lock's own open failed although the"
                            + " device's did not: " : "") + unsupported.why()
                    + "): another program writing to it is not refused");
        }
        try {
            long size = checkedSize(who, channel, path, settings.sizeBytes());
            Path real = path.toRealPath();
            BackingIdentity identity = identity(who, settings, real, size);
            String description = "file:" + real + (readOnly ? " (read-only)" : "");
            DirectWrites direct = readOnly || !settings.directWrites() || !Files.isRegularFile(real) ? null
                    : DirectWrites.open(real, description);
            return new FileBackingDevice(description, size, readOnly, identity,
                    new InterruptSafeChannel(channel, real, options, description), HoleMap.of(real, description),
                    direct, readOnly ? null : zeroRanges(real, description, lock), lock);
        } catch (Throwable e) { // an Error too: the lock's descriptor must not outlive the open
            try {
                channel.close();
            } finally {
                if (lock != null) {
                    lock.close();
                }
            }
            throw e;
        }
    }

    /**
     * Locks the file at {@code path} for writing (shared with readers when {@code readOnly}): the
     * lock, or why it cannot be locked here ({@link DeviceFileLock.Unsupported}).
     *
     * @throws BackingConfigurationException when another open of the file holds a lock that
     *         conflicts, or a block device is claimed already
     */
    private static DeviceFileLock.Outcome lock(String who, Path path, boolean readOnly)
            throws BackingConfigurationException {
        String pathSetting = FileBackingSettings.KEY_PATH + "=" + path;
        DeviceFileLock.Outcome outcome;
        try {
            outcome = DeviceFileLock.tryLockImage(path,
                    readOnly ? DeviceFileLock.Access.READ : DeviceFileLock.Access.WRITE);
        } catch (LinkageError e) { // DeviceFileLock catches JNA's absence itself; this is the last guard
            outcome = new DeviceFileLock.Unsupported(e.toString());
        }
        String users = "another pcache's backing or cache device on this file, reached by any name (a hard link, a"
                + " bind mount), a backing device of this pcache on it under another name, or a program that locks"
                + " the images it opens, such as qemu";
        // a component whose activation failed is not tried again by itself
        String then = ", then restart pcache or update this backing device's configuration to open it";
        if (outcome instanceof DeviceFileLock.HeldElsewhere) {
            throw new BackingConfigurationException(readOnly
                    ? who + ": " + pathSetting + " is locked for writing by another user of it (" + users + "); a"
                            + " read-only backing device shares its file with readers only: stop the writer first" + then
                    : who + ": " + pathSetting + " is in use by another user that locks it (" + users + "); stop"
                            + " that first" + then + " (a backing device pcache writes to must be its alone: a disk"
                            + " written by two users, or read by one while the other writes, keeps neither's data"
                            + " safe)");
        } else if (outcome instanceof DeviceFileLock.Busy busy) {
            throw new BackingConfigurationException(who + ": " + pathSetting + " " + busy.why() + then);
        }
        return outcome; // Locked or Unsupported
    }

    /**
     * Write-zeroes through the file system, or null where JNA is missing (it is imported
     * dynamically: a runtime without it, like a Karaf feature that leaves it out, gets zeroes
     * written, as it gets "all data" for block status).
     */
    private static ZeroRanges zeroRanges(Path file, String description, DeviceFileLock lock) {
        try {
            return new ZeroRanges(file, description, lock == null ? -1 : lock.claimingDescriptor());
        } catch (LinkageError e) {
            return null;
        }
    }

    /** How error messages name the device; fails when the name is missing. */
    private static String who(FileBackingSettings settings) throws BackingConfigurationException {
        String name = settings.name();
        if (name == null || name.isBlank()) {
            throw new BackingConfigurationException(FileBackingComponent.PID + ": configuration key '"
                    + FileBackingSettings.KEY_NAME + "' is missing or empty; set "
                    + FileBackingSettings.KEY_NAME + "=<a unique name for this backing device>");
        }
        return "backing device '" + name + "' (" + FileBackingComponent.PID + ")";
    }

    /** Checks the settings that need no file system: the path's syntax and the size. */
    private static Path validPath(String who, FileBackingSettings settings)
            throws BackingConfigurationException {
        if (settings.path() == null || settings.path().isBlank()) {
            throw new BackingConfigurationException(who + ": configuration key '"
                    + FileBackingSettings.KEY_PATH + "' is missing or empty; set "
                    + FileBackingSettings.KEY_PATH + "=<a file or a block device>");
        }
        long wanted = settings.sizeBytes();
        if (wanted < 0 || wanted % SECTOR_SIZE != 0) {
            throw new BackingConfigurationException(who + ": " + FileBackingSettings.KEY_SIZE_BYTES
                    + "=" + wanted + " is not a non-negative multiple of " + SECTOR_SIZE
                    + "; use a multiple of " + SECTOR_SIZE + " (e.g. "
                    + Math.max(0, wanted / SECTOR_SIZE * SECTOR_SIZE) + "), or 0 for the existing size");
        }
        try {
            return Path.of(settings.path());
        } catch (InvalidPathException e) {
            throw new BackingConfigurationException(who + ": " + FileBackingSettings.KEY_PATH + "="
                    + settings.path() + " is not a valid path: " + e.getMessage());
        }
    }

    /** Refuses a directory; creates a missing file when configured to, else refuses it. */
    private static void prepareFile(String who, Path path, FileBackingSettings settings)
            throws IOException {
        String pathSetting = FileBackingSettings.KEY_PATH + "=" + path;
        if (Files.isDirectory(path)) {
            throw new BackingConfigurationException(who + ": " + pathSetting
                    + " is a directory; set it to a file or a block device");
        }
        if (Files.exists(path) && !cutShort(path, settings)) {
            return;
        }
        if (!settings.create()) {
            throw new BackingConfigurationException(who + ": " + pathSetting
                    + " does not exist; create it, or set " + FileBackingSettings.KEY_CREATE
                    + "=true and " + FileBackingSettings.KEY_SIZE_BYTES + "=<size> to have it created");
        }
        if (settings.sizeBytes() == 0) {
            throw new BackingConfigurationException(who + ": " + FileBackingSettings.KEY_CREATE
                    + "=true needs " + FileBackingSettings.KEY_SIZE_BYTES + " > 0 to create the missing "
                    + pathSetting + "; set " + FileBackingSettings.KEY_SIZE_BYTES
                    + "=<size in bytes, a multiple of " + SECTOR_SIZE + ">");
        }
        create(who, path, settings.sizeBytes());
    }

    /**
     * Whether {@code path} is what a stop between creating the file and sizing it leaves (an empty
     * regular file) and the settings would have created it (create=true, a size, writable, not
     * read_only): then the creation is finished. Otherwise the file is taken as it is (and an
     * empty one refused as before).
     */
    private static boolean cutShort(Path path, FileBackingSettings settings) throws IOException {
        return settings.create() && settings.sizeBytes() > 0 && !settings.readOnly()
                && Files.isRegularFile(path) && Files.size(path) == 0 && DeviceFiles.writeDenied(path) == null;
    }

    private static void checkWritePermission(String who, Path path) throws IOException {
        String denied = DeviceFiles.writeDenied(path);
        if (denied != null) {
            throw new BackingConfigurationException(who + ": " + FileBackingSettings.KEY_PATH + "="
                    + path + " is read-only (" + denied + "); set " + FileBackingSettings.KEY_READ_ONLY
                    + "=true to use it for reading only, or grant write permission");
        }
    }

    /** The size of the opened file or device, checked against {@code wanted} (0: any). */
    private static long checkedSize(String who, FileChannel channel, Path path, long wanted)
            throws IOException {
        String pathSetting = FileBackingSettings.KEY_PATH + "=" + path;
        long size = DeviceFiles.deviceSize(channel, path);
        if (size == 0) {
            throw new BackingConfigurationException(who + ": " + pathSetting
                    + " has size 0 (or its size cannot be read); give it a size or choose another");
        }
        if (wanted != 0 && size != wanted) {
            throw new BackingConfigurationException(who + ": " + FileBackingSettings.KEY_SIZE_BYTES
                    + "=" + wanted + " but " + pathSetting + " has " + size + " bytes; set "
                    + FileBackingSettings.KEY_SIZE_BYTES + "=0 to use the existing size, or "
                    + FileBackingSettings.KEY_SIZE_BYTES + "=" + size);
        }
        if (size % SECTOR_SIZE != 0) {
            throw new BackingConfigurationException(who + ": " + pathSetting + " has " + size
                    + " bytes, not a multiple of " + SECTOR_SIZE + "; resize it to "
                    + (size / SECTOR_SIZE + 1) * SECTOR_SIZE + " or " + size / SECTOR_SIZE * SECTOR_SIZE
                    + " bytes");
        }
        return size;
    }

    /** The configured identity label, or {@code file:<real path>} when none is set. */
    private static BackingIdentity identity(String who, FileBackingSettings settings, Path real,
            long size) throws BackingConfigurationException {
        String id = settings.identity() == null || settings.identity().isEmpty()
                ? "file:" + real : settings.identity();
        try {
            return new BackingIdentity(size, id);
        } catch (IllegalArgumentException e) {
            throw new BackingConfigurationException(who + ": " + FileBackingSettings.KEY_IDENTITY
                    + "=" + settings.identity() + " is not usable (" + e.getMessage()
                    + "); choose a shorter label or leave it empty");
        }
    }

    private static void create(String who, Path path, long sizeBytes) throws IOException {
        Path folder = path.toAbsolutePath().getParent();
        if (folder == null || !Files.isDirectory(folder)) {
            throw new BackingConfigurationException(who + ": cannot create "
                    + FileBackingSettings.KEY_PATH + "=" + path + ": the folder " + folder
                    + " does not exist; create it first");
        }
        long usable = Files.getFileStore(folder).getUsableSpace();
        if (usable < sizeBytes) {
            throw new BackingConfigurationException(who + ": cannot create "
                    + FileBackingSettings.KEY_PATH + "=" + path + " with "
                    + FileBackingSettings.KEY_SIZE_BYTES + "=" + sizeBytes + ": only " + usable
                    + " bytes are usable on that file system; free space or lower "
                    + FileBackingSettings.KEY_SIZE_BYTES);
        }
        try {
            DeviceFiles.createSparse(path, sizeBytes);
        } catch (IOException e) {
            throw new BackingConfigurationException(who + ": cannot create "
                    + FileBackingSettings.KEY_PATH + "=" + path + " with "
                    + FileBackingSettings.KEY_SIZE_BYTES + "=" + sizeBytes + ": " + e.getMessage(), e);
        }
    }

    @Override
    public long sizeBytes() {
        return sizeBytes;
    }

    @Override
    public BackingIdentity identity() {
        return identity;
    }

    @Override
    public String description() {
        return description;
    }

    /** Whether aligned writes bypass the page cache ({@code direct_writes} and a file system that allows it). */
    public boolean writesDirectly() {
        return direct != null;
    }

    /** Writes that went past the page cache so far. */
    long directWrites() {
        return direct == null ? 0 : direct.writes();
    }

    /** True when opened with {@code read_only=true}. */
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int length = dst.remaining();
        BlockDevice.checkRange(description, sizeBytes, SECTOR_SIZE, offset, length);
        checkOpen();
        int at = dst.position();
        io("read", offset, length, ch -> {
            ByteBuffer target = dst.duplicate();
            while (target.hasRemaining()) {
                long position = offset + target.position() - at;
                ByteBuffer piece = slice(target);
                if (ch.read(piece, position) < 0) {
                    throw new EOFException("end of file at " + position + ": the file shrank below "
                            + sizeBytes + " bytes");
                }
                target.position(piece.position());
            }
            return null;
        });
        dst.position(at + length);
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        int length = src.remaining();
        BlockDevice.checkRange(description, sizeBytes, SECTOR_SIZE, offset, length);
        checkWritable("write");
        int at = src.position();
        if (direct != null && direct.fits(offset, src)) {
            io("write", offset, length, ch -> {
                direct.write(offset, src);
                if (fua) {
                    ch.force(false);
                }
                return null;
            }, fua);
            src.position(at + length);
            return;
        }
        io("write", offset, length, ch -> {
            writeFully(ch, offset, src);
            if (fua) {
                ch.force(false);
            }
            return null;
        }, fua);
        src.position(at + length);
    }

    /** A data sync of the whole file; nothing to do when read-only. */
    @Override
    public void flush() throws IOException {
        checkOpen();
        if (readOnly) {
            return;
        }
        io("flush", 0, sizeBytes, ch -> {
            ch.force(false);
            return null;
        }, true);
    }

    /**
     * A sparse file's holes (flags HOLE and ZERO) and data, as its file system tells
     * ({@link HoleMap}); all data for a block device or where the file system cannot tell.
     */
    @Override
    public List<BlockExtent> blockStatus(long offset, long length, int maxExtents) throws IOException {
        BlockDevice.checkRange(description, sizeBytes, SECTOR_SIZE, offset, length);
        if (length == 0) {
            throw new IllegalArgumentException(description + ": block status of an empty range at " + offset);
        }
        checkOpen();
        return holes.extents(offset, length, maxExtents);
    }

    @Override
    public void trim(long offset, long length) throws IOException {
        BlockDevice.checkRange(description, sizeBytes, SECTOR_SIZE, offset, length);
        checkWritable("trim");
        if (length > 0 && zeroRanges != null) {
            zeroRanges.discard(offset, length); // false: the file system cannot; a trim is a hint
        }
    }

    @Override
    public void writeZeroes(long offset, long length, boolean fua) throws IOException {
        BlockDevice.checkRange(description, sizeBytes, SECTOR_SIZE, offset, length);
        checkWritable("write-zeroes");
        if (length > 0 && zeroRanges != null && zeroRanges.zero(offset, length)) {
            if (fua) {
                io("write-zeroes", offset, length, ch -> {
                    ch.force(false);
                    return null;
                }, true);
            }
            return;
        }
        ByteBuffer zero = zeroBuffer();
        io("write-zeroes", offset, length, ch -> {
            for (long done = 0; done < length;) {
                ByteBuffer chunk = zero.duplicate().limit((int) Math.min(ZERO_CHUNK_BYTES, length - done));
                while (chunk.hasRemaining()) {
                    done += ch.write(chunk, offset + done);
                }
            }
            if (fua) {
                ch.force(false);
            }
            return null;
        }, fua);
    }

    /** Writes all remaining bytes of {@code src} at {@code position}; {@code src} itself is left as it is. */
    static void writeFully(FileChannel ch, long position, ByteBuffer src) throws IOException {
        ByteBuffer source = src.duplicate();
        int at = source.position();
        while (source.hasRemaining()) {
            ByteBuffer piece = slice(source);
            ch.write(piece, position + source.position() - at);
            source.position(piece.position());
        }
    }

    /**
     * Most bytes of a heap buffer handed to one channel call. The JDK copies a heap buffer through
     * a temporary direct buffer of the call's size and keeps it for the thread (unbounded unless
     * {@code jdk.nio.maxCachedBufferSize} is set): 32 MiB pass-through requests on many threads
     * would keep gigabytes of direct memory, until "Direct buffer memory" fails them.
     */
    static final int HEAP_IO_SLICE = 1 << 20;

    /** {@code buffer} itself when direct or small, else a view of its next {@link #HEAP_IO_SLICE} bytes. */
    private static ByteBuffer slice(ByteBuffer buffer) {
        if (buffer.isDirect() || buffer.remaining() <= HEAP_IO_SLICE) {
            return buffer;
        }
        return buffer.duplicate().limit(buffer.position() + HEAP_IO_SLICE);
    }

    /** Closes the file; later calls fail with {@link DeviceClosedException}. Idempotent. */
    @Override
    public void close() throws IOException {
        // each part whatever failed before it, the lock last: the file is another's to write only
        // once this device has let it go, and a lock left held would refuse every later open of it
        closeAll(holes, zeroRanges, direct, channel, lock);
    }

    /** Closes every part that is not null, in order; the first failure is thrown, the others suppressed in it. */
    static void closeAll(AutoCloseable... parts) throws IOException {
        Throwable first = null;
        for (AutoCloseable part : parts) {
            if (part == null) {
                continue;
            }
            try {
                part.close();
            } catch (Throwable t) { // an Error too: the parts after it are closed all the same
                if (first == null) {
                    first = t;
                } else {
                    first.addSuppressed(t);
                }
            }
        }
        if (first instanceof IOException io) {
            throw io;
        } else if (first instanceof RuntimeException e) {
            throw e;
        } else if (first instanceof Error e) {
            throw e;
        } else if (first != null) {
            throw new IOException(first);
        }
    }

    private ByteBuffer zeroBuffer() {
        ByteBuffer zero = zeroes;
        if (zero == null) {
            // racing threads may each allocate one; either is fine, all hold only zeroes
            zero = ByteBuffer.allocateDirect(ZERO_CHUNK_BYTES).asReadOnlyBuffer();
            zeroes = zero;
        }
        return zero;
    }

    private void checkOpen() throws DeviceClosedException {
        if (channel.isClosed()) {
            throw new DeviceClosedException(description + " is closed");
        }
    }

    private void checkWritable(String what) throws IOException {
        checkOpen();
        if (readOnly) {
            throw new ReadOnlyDeviceException(description + ": " + what
                    + " refused, the device was opened with " + FileBackingSettings.KEY_READ_ONLY
                    + "=true");
        }
    }

    /** Runs one I/O, turning failures into errors that name the device and the range. */
    private <T> T io(String what, long offset, long length, InterruptSafeChannel.Operation<T> op)
            throws IOException {
        return io(what, offset, length, op, false);
    }

    /** {@link #io}; {@code syncs}: the operation makes data durable, so it is never run twice ({@link InterruptSafeChannel#callSyncing}). */
    private <T> T io(String what, long offset, long length, InterruptSafeChannel.Operation<T> op, boolean syncs)
            throws IOException {
        try {
            return syncs ? channel.callSyncing(op) : channel.call(op);
        } catch (DeviceClosedException e) {
            throw e;
        } catch (IOException e) {
            throw new BackingDeviceException(description + ": " + what + " of [" + offset + ", +"
                    + length + ") failed: " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        return description;
    }
}
