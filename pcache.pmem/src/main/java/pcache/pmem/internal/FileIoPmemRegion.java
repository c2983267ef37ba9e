package pcache.pmem.internal;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

import pcache.api.DeviceClosedException;
import pcache.api.spi.PmemRegion;
import pcache.io.InterruptSafeChannel;

/**
 * A cache device reached with positional file I/O instead of a mapping, so that any file or
 * block device (an SSD, like dm-writecache's SSD mode) can hold the cache. Stores are
 * {@code pwrite}s into the page cache; durability comes from a data sync.
 *
 * <p>{@link #flush} only records that something awaits durability; {@link #fence()} then runs
 * one {@code fdatasync} ({@link FileChannel#force force(false)}) covering every flush recorded
 * before it started, shared by concurrent fences (group commit), and none when nothing was
 * flushed since the last sync.
 */
final class FileIoPmemRegion implements PmemRegion {

    private static final int FILL_CHUNK = 64 * 1024;

    private final String device;
    private final long sizeBytes;
    private final InterruptSafeChannel channel;
    /** Count of flush calls so far; a sync covers every flush counted before it started. */
    private final AtomicLong flushesRequested = new AtomicLong();
    /** The flush count the last completed sync covers. */
    private volatile long flushesDurable;
    private final Object syncLock = new Object();
    /**
     * The first data sync that failed, or null. A failed sync may have lost writes that any thread
     * flushed, and the kernel reports that once: a later sync succeeds without them. So every
     * fence after it fails too, until the device is opened again.
     */
    private volatile IOException syncFailure;
    private final SyncAction syncAction;

    /** How a data sync is made (tests inject failures). */
    @FunctionalInterface
    interface SyncAction {
        void sync(InterruptSafeChannel channel) throws IOException;
    }

    /**
     * {@code fdatasync}. Run again when cut off by another thread's interrupt (call, not
     * callSyncing): concurrent fences share this one, and a cut-off sync failing would fail the
     * device for good (see {@link #syncFailure}).
     */
    static final SyncAction FDATASYNC = channel -> channel.call(ch -> {
        ch.force(false);
        return null;
    });

    private FileIoPmemRegion(String device, long sizeBytes, InterruptSafeChannel channel, SyncAction syncAction) {
        this.device = device;
        this.sizeBytes = sizeBytes;
        this.channel = channel;
        this.syncAction = syncAction;
    }

    static FileIoPmemRegion open(Path path, long createSizeBytes) throws IOException {
        return open(path, createSizeBytes, FDATASYNC);
    }

    static FileIoPmemRegion open(Path path, long createSizeBytes, SyncAction syncAction) throws IOException {
        RegionFiles.OpenedFile file = RegionFiles.open(path, createSizeBytes);
        String device = "cache device " + path + " (fileio)";
        return new FileIoPmemRegion(device, file.sizeBytes(), new InterruptSafeChannel(
                file.channel(), path, Set.of(StandardOpenOption.READ, StandardOpenOption.WRITE),
                device), syncAction);
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
        return false;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int length = dst.remaining();
        Ranges.check(device, sizeBytes, offset, length);
        int at = dst.position();
        channel.call(ch -> {
            ByteBuffer target = dst.duplicate();
            while (target.hasRemaining()) {
                long position = offset + target.position() - at;
                if (ch.read(target, position) < 0) {
                    throw new EOFException(device + ": end of file at " + position
                            + "; the file shrank below " + sizeBytes + " bytes");
                }
            }
            return null;
        });
        dst.position(at + length);
    }

    @Override
    public void read(long offset, byte[] dst, int dstOffset, int length) throws IOException {
        Ranges.checkArray(dst.length, dstOffset, length);
        read(offset, ByteBuffer.wrap(dst, dstOffset, length));
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        int length = src.remaining();
        Ranges.check(device, sizeBytes, offset, length);
        int at = src.position();
        channel.call(ch -> {
            ByteBuffer source = src.duplicate();
            while (source.hasRemaining()) {
                ch.write(source, offset + source.position() - at);
            }
            return null;
        });
        src.position(at + length);
    }

    @Override
    public void write(long offset, byte[] src, int srcOffset, int length) throws IOException {
        Ranges.checkArray(src.length, srcOffset, length);
        write(offset, ByteBuffer.wrap(src, srcOffset, length));
    }

    @Override
    public void fill(long offset, long length, byte value) throws IOException {
        Ranges.check(device, sizeBytes, offset, length);
        byte[] pattern = new byte[(int) Math.min(length, FILL_CHUNK)];
        java.util.Arrays.fill(pattern, value);
        for (long done = 0; done < length;) {
            int chunk = (int) Math.min(pattern.length, length - done);
            write(offset + done, ByteBuffer.wrap(pattern, 0, chunk));
            done += chunk;
        }
    }

    @Override
    public long getLong(long offset) throws IOException {
        ByteBuffer bytes = ByteBuffer.allocate(Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        read(offset, bytes);
        return bytes.getLong(0);
    }

    /**
     * One 8-byte {@code pwrite}. An aligned one never spans two pages, and the page cache writes
     * whole pages back, so a crash leaves the old or the new value.
     */
    @Override
    public void putLong(long offset, long value) throws IOException {
        ByteBuffer bytes = ByteBuffer.allocate(Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        write(offset, bytes.putLong(0, value));
    }

    /** A copy: there is no mapping to view. */
    @Override
    public ByteBuffer view(long offset, int length) throws IOException {
        Ranges.check(device, sizeBytes, offset, length); // before the copy is allocated: named, and bounded
        ByteBuffer copy = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        read(offset, copy);
        return copy.flip().asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public void flush(long offset, long length) throws IOException {
        Ranges.check(device, sizeBytes, offset, length);
        if (channel.isClosed()) {
            throw new DeviceClosedException(device + " is closed");
        }
        flushesRequested.incrementAndGet();
    }

    @Override
    public void fence() throws IOException {
        long needed = flushesRequested.get(); // every flush this thread made is counted here
        if (flushesDurable >= needed) {
            if (channel.isClosed()) {
                throw new DeviceClosedException(device + " is closed");
            }
            return;
        }
        synchronized (syncLock) {
            if (flushesDurable >= needed) {
                return; // another thread's sync started after our flushes and has finished
            }
            long covered = flushesRequested.get(); // all of these returned before the sync starts
            sync();
            flushesDurable = covered;
        }
    }

    /** Caller holds {@link #syncLock}. */
    private void sync() throws IOException {
        IOException failed = syncFailure;
        if (failed != null) {
            throw new IOException(device + ": an earlier data sync failed (" + failed.getMessage() + "), so writes"
                    + " flushed before it may be lost and no later sync can tell; the device takes no more syncs"
                    + " until it is opened again. Check the device (dmesg), then restart the cache", failed);
        }
        try {
            syncAction.sync(channel);
        } catch (DeviceClosedException e) {
            throw e;
        } catch (IOException e) {
            IOException wrapped = new IOException(device + ": data sync failed: " + e.getMessage()
                    + "; the device takes no more syncs until it is opened again", e);
            syncFailure = wrapped;
            throw wrapped;
        }
    }

    @Override
    public void close() throws IOException {
        if (channel.isClosed()) {
            return;
        }
        try {
            synchronized (syncLock) {
                sync();
                flushesDurable = flushesRequested.get();
            }
        } finally {
            channel.close();
        }
    }

    @Override
    public String toString() {
        return device;
    }
}
