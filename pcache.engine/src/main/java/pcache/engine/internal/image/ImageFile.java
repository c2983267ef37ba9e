package pcache.engine.internal.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import pcache.api.spi.PmemRegion;
import pcache.io.lock.DeviceFileLock;

/**
 * A cache device image opened for reading only: a regular file or a block device, read with
 * positional reads, never written, never held locked (offline tools must not keep a cache from
 * starting), but refused while a cache has it open ({@link #open}). Bytes past the end read as
 * zeroes; the caller compares offsets with {@link #sizeBytes()} to report a truncated image. Tests
 * check images that live in a {@link PmemRegion} the same way ({@link #of(PmemRegion)}).
 */
public final class ImageFile implements AutoCloseable {

    /** Where the bytes come from: positional reads, as {@link FileChannel#read(ByteBuffer, long)}. */
    private interface Source {
        /** Reads into {@code dst} from {@code position}; returns the bytes read, or -1 at the end. */
        int read(ByteBuffer dst, long position) throws IOException;
    }

    private final String name;
    private final Source source;
    /** The open file, closed with the image; null for a region (its owner closes it). */
    private final FileChannel channel;
    private final long size;

    private ImageFile(String name, Source source, FileChannel channel, long size) {
        this.name = name;
        this.source = source;
        this.channel = channel;
        this.size = size;
    }

    /**
     * The image held by {@code region}, read through it (closing the image leaves the region
     * open). For tests that check an image without writing it to a file first.
     */
    public static ImageFile of(PmemRegion region) {
        return new ImageFile(region.description(), (dst, position) -> {
            int n = (int) Math.min(dst.remaining(), region.sizeBytes() - position);
            if (n <= 0) {
                return -1;
            }
            region.read(position, dst.slice(dst.position(), n));
            dst.position(dst.position() + n);
            return n;
        }, null, region.sizeBytes());
    }

    /**
     * Opens {@code path} read-only.
     *
     * @throws NoSuchFileException naming the path when it does not exist
     */
    public static ImageFile open(Path path) throws IOException {
        if (!Files.exists(path)) {
            throw new NoSuchFileException(path.toString(), null, "no such cache device image");
        }
        refuseIfInUse(path);
        FileChannel ch = null;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
            long size = ch.size();
            if (size == 0 && !Files.isRegularFile(path)) {
                size = probeSize(ch); // block devices report 0
            }
            return new ImageFile(path.toString(), ch::read, ch, size);
        } catch (IOException | RuntimeException e) {
            if (ch != null) {
                ch.close();
            }
            throw e;
        }
    }

    /**
     * Refuses {@code path} while a cache has the device open (its write lock; in this process or
     * another), whose replay, write-back and GC change the image under the reader: before, such a
     * check reported damage that was not there ("data CRC mismatch", torn ksets) with nothing to
     * say why. A probe: the read lock it takes is let go at once, so that a cache starting while
     * the image is read is not refused (it may then change what is read). Waits up to
     * {@link #LOCK_WAIT_NANOS} for a cache being closed to let go. Where there are no locks
     * (another platform), or the device cannot be locked for another reason, nothing is refused.
     */
    private static void refuseIfInUse(Path path) throws IOException {
        DeviceFileLock.Outcome outcome = DeviceFileLock.tryLock(path, DeviceFileLock.Access.READ);
        // a cache being closed lets go in moments: its service is gone before it closes (so right
        // after pcache:remove says it is gone, say), and its lock goes with the close
        long deadline = System.nanoTime() + LOCK_WAIT_NANOS;
        while (outcome instanceof DeviceFileLock.HeldElsewhere && System.nanoTime() < deadline) {
            try {
                Thread.sleep(LOCK_POLL_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while waiting for " + path + " to be let go");
            }
            outcome = DeviceFileLock.tryLock(path, DeviceFileLock.Access.READ);
        }
        if (outcome instanceof DeviceFileLock.Locked locked) {
            locked.lock().close();
        } else if (outcome instanceof DeviceFileLock.HeldElsewhere) {
            throw new IOException(path + " is in use: a running cache has it open, or one opening it (it"
                    + " holds the device's lock, in this process or another), and its replay, write-back and GC change"
                    + " the image while it is read, so what this shows would not hold. Stop that cache first"
                    + " (pcache:remove, or stop its pcache), or look at a copy of the device; pcache:status shows a"
                    + " running cache's state");
        }
    }

    /** How often a held image is tried again meanwhile. */
    private static final long LOCK_POLL_MILLIS = 50;
    /** How long an image held by a cache is waited for before it is refused as in use. */
    private static final long LOCK_WAIT_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(5);

    /** The size of a device whose channel does not know it: the last offset a read reaches. */
    private static long probeSize(FileChannel ch) throws IOException {
        ByteBuffer one = ByteBuffer.allocate(1);
        long low = 0;
        long high = 1L << 12;
        while (readsAt(ch, high - 1, one)) {
            low = high;
            if (high > Long.MAX_VALUE / 2) {
                return high;
            }
            high <<= 1;
        }
        // low readable (or 0), high not: find the first unreadable byte
        while (high - low > 1) {
            long mid = low + (high - low) / 2;
            if (readsAt(ch, mid - 1, one)) {
                low = mid;
            } else {
                high = mid;
            }
        }
        return low;
    }

    private static boolean readsAt(FileChannel ch, long offset, ByteBuffer one) throws IOException {
        one.clear();
        return ch.read(one, offset) == 1;
    }

    /** The file or device path, or a description of the region. */
    public String name() {
        return name;
    }

    public long sizeBytes() {
        return size;
    }

    /** {@code length} bytes from {@code offset}; what lies past the end reads as zeroes. */
    public byte[] read(long offset, int length) throws IOException {
        byte[] b = new byte[length];
        readInto(offset, ByteBuffer.wrap(b));
        return b;
    }

    /** A little-endian view of {@link #read}. */
    public ByteBuffer readLittleEndian(long offset, int length) throws IOException {
        return ByteBuffer.wrap(read(offset, length)).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Fills {@code dst} from {@code offset}; what lies past the end reads as zeroes. */
    public void readInto(long offset, ByteBuffer dst) throws IOException {
        long at = offset;
        while (dst.hasRemaining()) {
            int n = at >= size ? -1 : source.read(dst, at);
            if (n < 0) {
                while (dst.hasRemaining()) {
                    dst.put((byte) 0);
                }
                return;
            }
            at += n;
        }
    }

    @Override
    public void close() throws IOException {
        if (channel != null) {
            channel.close();
        }
    }
}
