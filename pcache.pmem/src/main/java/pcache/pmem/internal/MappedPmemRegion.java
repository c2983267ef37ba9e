package pcache.pmem.internal;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import pcache.api.spi.PmemRegion;
import pcache.io.log.Log;

/**
 * A cache device mapped into memory in fixed-size windows ({@link FileChannel#map} gives at most
 * 2 GiB per buffer). Accesses that cross a window boundary are split. All accesses use absolute
 * indexes on the shared window buffers, which never change position, so threads working on
 * different ranges need no locks.
 *
 * <p>Persistence: {@link #flush} is {@link MappedByteBuffer#force(int, int)} on each window
 * touched. That call is synchronous: on a DAX file mapped {@code READ_WRITE_SYNC} it writes the
 * CPU cache lines back and fences, otherwise it is an {@code msync(MS_SYNC)} of the pages.
 * Either way the range is durable when it returns, so {@link #fence()} has nothing left to do.
 * On a file system that lives in memory only (tmpfs, ramfs: {@code /dev/shm}) there is nothing to
 * write the pages to: {@code msync} does nothing there but cost a system call, so flush skips it.
 * The bytes are in the shared page cache as soon as they are stored, which is as durable as that
 * file system gets (they survive the process, not a reboot).
 */
final class MappedPmemRegion implements PmemRegion {

    private static final System.Logger LOG = Log.of(MappedPmemRegion.class);

    /** Little-endian 8-byte access; opaque mode makes an aligned access one single-copy-atomic access. */
    private static final VarHandle LONG_LE =
            MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    /** Chunk of the pattern array {@link #fill} copies from. */
    private static final int FILL_CHUNK = 64 * 1024;

    private final String device;
    private final long sizeBytes;
    private final int windowShift;
    private final long windowMask;
    private final MappedByteBuffer[] windows;
    private final boolean directAccess;
    /** The file lives in memory only (tmpfs, ramfs): flushes have nothing to write. */
    private final boolean memoryOnly;
    private final Optional<MappingSupport.Unmapper> unmapper;
    private final AccessGuard guard;
    /**
     * Windows a {@link #view} or {@link #writableView} was taken of. Close leaves them to the garbage collector: a view
     * still in use after close would crash the JVM if its memory were unmapped under it.
     * Written inside guarded calls, read by close after the guard has drained them.
     */
    private final boolean[] viewed;
    /** How a range of a window is written back (tests inject failures). */
    private final RangeForce force;
    /**
     * The first write-back ({@code msync}) that failed, or null. The kernel reports a failed
     * write-out once per file, to whichever range's msync comes first (all windows share one file),
     * and a later msync of a range whose pages were lost too succeeds. So every flush and fence
     * after it fails, until the device is opened again (as {@link FileIoPmemRegion}'s data syncs).
     */
    private volatile IOException flushFailure;

    /** Writes back {@code length} bytes of {@code window} from {@code index}. */
    @FunctionalInterface
    interface RangeForce {
        void force(MappedByteBuffer window, int index, int length);
    }

    static final RangeForce MSYNC = MappedByteBuffer::force;

    private MappedPmemRegion(String device, long sizeBytes, int windowShift,
            MappedByteBuffer[] windows, boolean directAccess, boolean memoryOnly,
            Optional<MappingSupport.Unmapper> unmapper, RangeForce force) {
        this.device = device;
        this.sizeBytes = sizeBytes;
        this.windowShift = windowShift;
        this.windowMask = (1L << windowShift) - 1;
        this.windows = windows;
        this.directAccess = directAccess;
        this.memoryOnly = memoryOnly;
        this.unmapper = unmapper;
        this.guard = new AccessGuard(device);
        this.viewed = new boolean[windows.length];
        this.force = force;
    }

    /**
     * Maps the whole device at {@code path}.
     *
     * @param windowBytes a power of two between 8 and 1 GiB: the size of each mapped buffer
     */
    static MappedPmemRegion open(Path path, long createSizeBytes, long windowBytes)
            throws IOException {
        return open(path, createSizeBytes, windowBytes, MSYNC);
    }

    /**
     * {@link #open(Path, long, long)} writing ranges back with {@code force}; one other than
     * {@link #MSYNC} (a test's) is used on a file system in memory too.
     */
    static MappedPmemRegion open(Path path, long createSizeBytes, long windowBytes, RangeForce force)
            throws IOException {
        if (Long.bitCount(windowBytes) != 1 || windowBytes < 8 || windowBytes > 1L << 30) {
            throw new IllegalArgumentException("window size must be a power of two in [8, 1 GiB]: "
                    + windowBytes);
        }
        RegionFiles.OpenedFile file = RegionFiles.open(path, createSizeBytes);
        long size = file.sizeBytes();
        int count = (int) ((size + windowBytes - 1) / windowBytes);
        List<MappedByteBuffer> mapped = new ArrayList<>(count);
        Optional<MappingSupport.Unmapper> unmapper = MappingSupport.unmapper();
        try (FileChannel channel = file.channel()) { // mappings outlive the channel
            FileChannel.MapMode mode = FileChannel.MapMode.READ_WRITE;
            boolean sync = false;
            Optional<FileChannel.MapMode> syncMode = MappingSupport.readWriteSync();
            String why;
            if (syncMode.isEmpty()) {
                why = "READ_WRITE_SYNC is not available (jdk.nio.mapmode not reachable)";
            } else {
                try {
                    mapped.add(channel.map(syncMode.get(), 0, Math.min(windowBytes, size)));
                    mode = syncMode.get();
                    sync = true;
                    why = "DAX file system: flushes are CPU cache-line write-backs";
                } catch (IOException | UnsupportedOperationException refused) {
                    why = "READ_WRITE_SYNC refused (" + refused.getMessage()
                            + "; not a DAX file system): flushes go through the page cache (msync)";
                }
            }
            for (int i = mapped.size(); i < count; i++) {
                long position = i * windowBytes;
                mapped.add(channel.map(mode, position, Math.min(windowBytes, size - position)));
            }
            String fileSystem = fileSystemType(path);
            boolean memoryOnly = !sync && force == MSYNC && inMemoryOnly(path, fileSystem);
            if (memoryOnly) {
                why = "a file system in memory only (" + fileSystem + "): flushes have nothing to write"
                        + " (msync skipped); the cache survives the process, not a reboot";
            }
            String device = "cache device " + path + " (mapped " + (sync ? "READ_WRITE_SYNC" : "READ_WRITE")
                    + (memoryOnly ? ", in memory only: " + fileSystem : "") + ")";
            String summary = "cache device " + path + ": " + size + " bytes mapped "
                    + (sync ? "READ_WRITE_SYNC" : "READ_WRITE") + "; " + why;
            LOG.log(System.Logger.Level.INFO, summary);
            for (MappedByteBuffer window : mapped) {
                window.order(ByteOrder.LITTLE_ENDIAN);
            }
            return new MappedPmemRegion(device, size, Long.numberOfTrailingZeros(windowBytes),
                    mapped.toArray(new MappedByteBuffer[0]), sync, memoryOnly, unmapper, force);
        } catch (IOException | RuntimeException e) {
            unmapper.ifPresent(u -> mapped.forEach(u::unmap));
            throw new IOException("cannot map cache device " + path + " (" + size + " bytes): " + e,
                    e);
        }
    }

    /** File systems whose files live in memory only: nothing below them to write pages to. */
    private static final java.util.Set<String> MEMORY_FILE_SYSTEMS = java.util.Set.of("tmpfs", "ramfs");

    /**
     * Whether {@code path}, on a file system of type {@code fileSystem}, is a file in memory only,
     * whose flushes have nothing to write. Only a regular file is: a device node (a block device
     * or pmem namespace under a {@code /dev} that is itself a tmpfs, as in containers) has its own
     * medium below, which msync must reach.
     */
    static boolean inMemoryOnly(Path path, String fileSystem) {
        return MEMORY_FILE_SYSTEMS.contains(fileSystem) && java.nio.file.Files.isRegularFile(path);
    }

    /** The type of the file system holding {@code path} ({@code /proc/mounts}), or "" when unknown. */
    private static String fileSystemType(Path path) {
        try {
            return java.nio.file.Files.getFileStore(path).type();
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    /** Bytes per page fault. */
    private static final int PAGE = 4096;

    /**
     * Faults every page of the mapping in, writable, without changing a byte: each page's first
     * aligned word is compare-and-set to itself. Safe while the region is in use (a concurrent
     * store to that word makes the compare fail, which changes nothing and still faulted the page).
     * The first touch of a page costs a page fault — measured at tens of microseconds on a
     * virtual machine — so paying it up front keeps it out of the request path. Stops early when
     * the region is closed.
     *
     * @return pages touched
     */
    long prefault() {
        long touched = 0;
        for (long position = 0; position + 8 <= sizeBytes; position += PAGE) {
            try {
                guard.enter();
            } catch (pcache.api.DeviceClosedException e) {
                return touched;
            }
            try {
                MappedByteBuffer window = window(position);
                int index = index(position);
                long v = (long) LONG_LE.getOpaque(window, index);
                LONG_LE.compareAndSet(window, index, v, v);
                touched++;
            } finally {
                guard.exit();
            }
        }
        return touched;
    }

    @Override
    public long sizeBytes() {
        return sizeBytes;
    }

    @Override
    public String description() {
        return device;
    }

    @Override
    public boolean isDirectAccess() {
        return directAccess;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int length = dst.remaining();
        Ranges.check(device, sizeBytes, offset, length);
        guard.enter();
        try {
            int at = dst.position();
            for (int done = 0; done < length;) {
                long position = offset + done;
                int index = index(position);
                int chunk = chunk(position, length - done);
                dst.put(at + done, window(position), index, chunk);
                done += chunk;
            }
            dst.position(at + length);
        } finally {
            guard.exit();
        }
    }

    @Override
    public void read(long offset, byte[] dst, int dstOffset, int length) throws IOException {
        Ranges.checkArray(dst.length, dstOffset, length);
        Ranges.check(device, sizeBytes, offset, length);
        guard.enter();
        try {
            for (int done = 0; done < length;) {
                long position = offset + done;
                int chunk = chunk(position, length - done);
                window(position).get(index(position), dst, dstOffset + done, chunk);
                done += chunk;
            }
        } finally {
            guard.exit();
        }
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        int length = src.remaining();
        Ranges.check(device, sizeBytes, offset, length);
        guard.enter();
        try {
            int at = src.position();
            for (int done = 0; done < length;) {
                long position = offset + done;
                int chunk = chunk(position, length - done);
                window(position).put(index(position), src, at + done, chunk);
                done += chunk;
            }
            src.position(at + length);
        } finally {
            guard.exit();
        }
    }

    @Override
    public void write(long offset, byte[] src, int srcOffset, int length) throws IOException {
        Ranges.checkArray(src.length, srcOffset, length);
        Ranges.check(device, sizeBytes, offset, length);
        guard.enter();
        try {
            for (int done = 0; done < length;) {
                long position = offset + done;
                int chunk = chunk(position, length - done);
                window(position).put(index(position), src, srcOffset + done, chunk);
                done += chunk;
            }
        } finally {
            guard.exit();
        }
    }

    @Override
    public void fill(long offset, long length, byte value) throws IOException {
        Ranges.check(device, sizeBytes, offset, length);
        byte[] pattern = new byte[(int) Math.min(length, FILL_CHUNK)];
        java.util.Arrays.fill(pattern, value);
        guard.enter();
        try {
            for (long done = 0; done < length;) {
                long position = offset + done;
                int chunk = chunk(position, Math.min(length - done, pattern.length));
                window(position).put(index(position), pattern, 0, chunk);
                done += chunk;
            }
        } finally {
            guard.exit();
        }
    }

    @Override
    public long getLong(long offset) throws IOException {
        Ranges.check(device, sizeBytes, offset, Long.BYTES);
        guard.enter();
        try {
            if ((offset & 7) == 0) { // never crosses a window: windows are multiples of 8
                return (long) LONG_LE.getOpaque(window(offset), index(offset));
            }
            byte[] bytes = new byte[Long.BYTES];
            read(offset, bytes, 0, Long.BYTES);
            return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
        } finally {
            guard.exit();
        }
    }

    @Override
    public void putLong(long offset, long value) throws IOException {
        Ranges.check(device, sizeBytes, offset, Long.BYTES);
        guard.enter();
        try {
            if ((offset & 7) == 0) {
                LONG_LE.setOpaque(window(offset), index(offset), value); // one 8-byte store
                return;
            }
            byte[] bytes = new byte[Long.BYTES];
            ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(value);
            write(offset, bytes, 0, Long.BYTES);
        } finally {
            guard.exit();
        }
    }

    /**
     * A read-only slice of the mapping when the range lies in one window, else a copy. A slice
     * stays readable after {@link #close()} (its window is then unmapped by the garbage
     * collector, not by close), but no longer reflects anything: use it before closing.
     */
    @Override
    public ByteBuffer view(long offset, int length) throws IOException {
        Ranges.check(device, sizeBytes, offset, length);
        guard.enter();
        try {
            if (length == 0) {
                return ByteBuffer.allocate(0).asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
            }
            if ((offset >>> windowShift) == ((offset + length - 1) >>> windowShift)) {
                viewed[(int) (offset >>> windowShift)] = true;
                return window(offset).slice(index(offset), length).asReadOnlyBuffer()
                        .order(ByteOrder.LITTLE_ENDIAN);
            }
            ByteBuffer copy = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
            read(offset, copy);
            return copy.flip().asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        } finally {
            guard.exit();
        }
    }

    @Override
    public boolean hasWritableViews() {
        return true;
    }

    /**
     * A writable slice of the mapping when the range lies in one window, else null. Like a
     * {@link #view}, it keeps its window from being unmapped at close.
     */
    @Override
    public ByteBuffer writableView(long offset, int length) throws IOException {
        Ranges.check(device, sizeBytes, offset, length);
        guard.enter();
        try {
            if (length == 0 || (offset >>> windowShift) != ((offset + length - 1) >>> windowShift)) {
                return null;
            }
            viewed[(int) (offset >>> windowShift)] = true;
            return window(offset).slice(index(offset), length).order(ByteOrder.LITTLE_ENDIAN);
        } finally {
            guard.exit();
        }
    }

    @Override
    public void flush(long offset, long length) throws IOException {
        Ranges.check(device, sizeBytes, offset, length);
        guard.enter();
        try {
            if (memoryOnly) {
                return; // msync of a tmpfs page does nothing (see the class comment)
            }
            checkNoFlushFailed();
            for (long done = 0; done < length;) {
                long position = offset + done;
                int chunk = chunk(position, length - done);
                force.force(window(position), index(position), chunk);
                done += chunk;
            }
        } catch (java.io.UncheckedIOException e) {
            IOException failed = new IOException(device + ": flush of [" + offset + ", +" + length + ") failed: "
                    + e.getCause().getMessage() + "; the device takes no more flushes until it is opened again",
                    e.getCause());
            flushFailure = failed;
            throw failed;
        } finally {
            guard.exit();
        }
    }

    /** Nothing to wait for: every {@link #flush} was synchronous (see the class comment). */
    @Override
    public void fence() throws IOException {
        if (guard.isClosed()) {
            throw new pcache.api.DeviceClosedException(device + " is closed");
        }
        checkNoFlushFailed();
    }

    /** Fails once a flush failed ({@link #flushFailure}). */
    private void checkNoFlushFailed() throws IOException {
        IOException failed = flushFailure;
        if (failed != null) {
            throw new IOException(device + ": an earlier flush failed (" + failed.getMessage() + "), so writes"
                    + " flushed before it may be lost and no later flush can tell; the device takes no more flushes"
                    + " until it is opened again. Check the device (dmesg), then restart the cache", failed);
        }
    }

    @Override
    public void close() throws IOException {
        if (!guard.close()) {
            return;
        }
        IOException failure = null;
        for (MappedByteBuffer window : windows) {
            try {
                window.force();
            } catch (java.io.UncheckedIOException | IllegalStateException e) {
                if (failure == null) {
                    failure = new IOException(device + ": final flush at close failed: " + e, e);
                }
            }
        }
        int leftToCollector = 0;
        for (int i = 0; i < windows.length; i++) {
            if (unmapper.isPresent() && !viewed[i]) {
                unmapper.get().unmap(windows[i]);
            } else {
                leftToCollector++;
            }
            windows[i] = null; // no later access can reach the memory through the region
        }
        if (leftToCollector > 0) {
            int count = leftToCollector;
            LOG.log(System.Logger.Level.DEBUG, () -> device + ": " + count + " of " + windows.length
                    + " windows left for the garbage collector to unmap"
                    + (unmapper.isPresent() ? " (views were taken of them)" : " (no unmapper)"));
        }
        if (failure != null) {
            throw failure;
        }
    }

    private MappedByteBuffer window(long position) {
        return windows[(int) (position >>> windowShift)];
    }

    private int index(long position) {
        return (int) (position & windowMask);
    }

    /** How much of {@code wanted} fits in the window holding {@code position}. */
    private int chunk(long position, long wanted) {
        return (int) Math.min(wanted, (1L << windowShift) - (position & windowMask));
    }

    @Override
    public String toString() {
        return device;
    }
}
