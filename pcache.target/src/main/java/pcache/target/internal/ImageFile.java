package pcache.target.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A cache device image opened for reading only: a regular file or a block device, read with
 * positional reads, never written, never locked (offline tools must not disturb a cache, and a
 * running cache's lock must not keep them out). Bytes past the end read as zeroes; the caller
 * compares offsets with {@link #sizeBytes()} to report a truncated image.
 */
final class ImageFile implements AutoCloseable {

    private final Path path;
    private final FileChannel channel;
    private final long size;

    private ImageFile(Path path, FileChannel channel, long size) {
        this.path = path;
        this.channel = channel;
        this.size = size;
    }

    /**
     * Opens {@code path} read-only.
     *
     * @throws NoSuchFileException naming the path when it does not exist
     */
    static ImageFile open(Path path) throws IOException {
        if (!Files.exists(path)) {
            throw new NoSuchFileException(path.toString(), null, "no such cache device image");
        }
        FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
        try {
            long size = ch.size();
            if (size == 0 && !Files.isRegularFile(path)) {
                size = probeSize(ch); // block devices report 0
            }
            return new ImageFile(path, ch, size);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

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

    Path path() {
        return path;
    }

    long sizeBytes() {
        return size;
    }

    /** {@code length} bytes from {@code offset}; what lies past the end reads as zeroes. */
    byte[] read(long offset, int length) throws IOException {
        byte[] b = new byte[length];
        readInto(offset, ByteBuffer.wrap(b));
        return b;
    }

    /** A little-endian view of {@link #read}. */
    ByteBuffer readLittleEndian(long offset, int length) throws IOException {
        return ByteBuffer.wrap(read(offset, length)).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Fills {@code dst} from {@code offset}; what lies past the end reads as zeroes. */
    void readInto(long offset, ByteBuffer dst) throws IOException {
        long at = offset;
        while (dst.hasRemaining()) {
            int n = at >= size ? -1 : channel.read(dst, at);
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
        channel.close();
    }
}
