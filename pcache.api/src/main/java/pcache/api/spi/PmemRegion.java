package pcache.api.spi;

import java.io.IOException;
import java.nio.ByteBuffer;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A persistent, byte-addressable region (a mapped pmem/DAX file, a mapped regular file, or a file
 * accessed with positional I/O) with explicit persistence, modelled on the kernel's pmem
 * primitives.
 *
 * <h2>Persistence model</h2>
 * <ul>
 * <li>A store becomes durable only after {@link #flush(long, long) flush} of a range containing
 * it has been called and a {@link #fence()} has returned afterwards (on the same thread).</li>
 * <li>Until then a crash may keep or drop it. An aligned 8-byte store
 * ({@link #putLong(long, long)} at a multiple of 8) is atomic: a crash leaves the whole old or
 * the whole new value. Wider stores may be torn at 8-byte granularity, in any order.</li>
 * <li>Loads see every store already made by any thread (memory semantics of a shared buffer:
 * callers order concurrent access to the same bytes themselves).</li>
 * </ul>
 *
 * <p>Thread-safety: every method may be called concurrently for different ranges. Offsets are
 * device byte offsets; every range must lie inside {@code [0, sizeBytes())}, else
 * {@link IndexOutOfBoundsException}. I/O errors of the medium surface as {@link IOException}
 * naming the device and offset.
 */
@ConsumerType
public interface PmemRegion extends AutoCloseable {

    /** Size of the region in bytes. */
    long sizeBytes();

    /** Description for status output: the path and how it is mapped. */
    String description();

    /**
     * True when flushes are CPU cache write-backs on a DAX mapping ({@code READ_WRITE_SYNC}),
     * false when they go through the page cache or a system call.
     */
    boolean isDirectAccess();

    /** Copies {@code dst.remaining()} bytes at {@code offset} into {@code dst}, advancing it. */
    void read(long offset, ByteBuffer dst) throws IOException;

    /** Copies {@code length} bytes at {@code offset} into {@code dst[dstOffset...]}. */
    void read(long offset, byte[] dst, int dstOffset, int length) throws IOException;

    /** Stores {@code src.remaining()} bytes at {@code offset}, advancing {@code src}. */
    void write(long offset, ByteBuffer src) throws IOException;

    /** Stores {@code length} bytes of {@code src[srcOffset...]} at {@code offset}. */
    void write(long offset, byte[] src, int srcOffset, int length) throws IOException;

    /** Stores {@code length} copies of {@code value} at {@code offset}. */
    void fill(long offset, long length, byte value) throws IOException;

    /** Loads the little-endian 8-byte value at {@code offset}. */
    long getLong(long offset) throws IOException;

    /** Stores a little-endian 8-byte value; atomic when {@code offset} is a multiple of 8. */
    void putLong(long offset, long value) throws IOException;

    /**
     * A read-only buffer holding the {@code length} bytes at {@code offset}: a view of the mapping
     * where the provider has one (valid until the region is closed, and reflecting later stores),
     * otherwise a copy. Used to hand cached data to a backing device without a bounce copy.
     */
    ByteBuffer view(long offset, int length) throws IOException;

    /**
     * Whether {@link #writableView} hands out views (the region is a mapping). The default is
     * false.
     *
     * @since 1.5
     */
    default boolean hasWritableViews() {
        return false;
    }

    /**
     * A writable buffer over the {@code length} bytes at {@code offset} of the mapping, so that
     * data can be received straight into the region; null when the provider has no mapping
     * ({@link #hasWritableViews} false), for a range the mapping cannot show as one buffer (it
     * crosses two of its windows) and for a length of 0 (then callers use
     * {@link #write(long, ByteBuffer)}). Stores through it follow the
     * persistence model like any other: durable after {@link #flush} and {@link #fence}. Callers
     * store through it only while the region is open (on a mapped file a later store would still
     * reach the file).
     *
     * <p>The default returns null.
     *
     * @since 1.5
     */
    default ByteBuffer writableView(long offset, int length) throws IOException {
        return null;
    }

    /** Starts writing back {@code [offset, offset + length)}; durable after the next fence. */
    void flush(long offset, long length) throws IOException;

    /** Waits until every range this thread flushed before the call is durable. */
    void fence() throws IOException;

    /** Makes everything durable and releases the region; later calls fail. Idempotent. */
    @Override
    void close() throws IOException;
}
