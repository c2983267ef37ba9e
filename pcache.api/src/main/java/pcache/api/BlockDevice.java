package pcache.api;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A random-access device of fixed size, addressed in bytes, with the "volatile write cache"
 * durability contract of a disk (Linux {@code REQ_PREFLUSH}/{@code REQ_FUA}, NBD FLUSH/FUA).
 *
 * <h2>Alignment and range</h2>
 * Every offset and length must be a multiple of {@link #logicalBlockSize()} and the range
 * {@code [offset, offset + length)} must lie inside {@code [0, sizeBytes())}; otherwise the
 * call fails with {@link OutOfRangeException} or {@link MisalignedIoException} and changes
 * nothing.
 *
 * <h2>Durability</h2>
 * <ul>
 * <li>A {@link #write write} that returns normally is <em>acknowledged</em>: every later read,
 * from any thread, returns its bytes (until they are overwritten), but it may still be lost in a
 * crash or power cut unless it was written with {@code fua}, or a {@link #flush()} that
 * <em>started</em> after it returned has returned.</li>
 * <li>{@code fua} (force unit access): the call returns only after this write's bytes are on
 * non-volatile storage. It says nothing about other writes.</li>
 * <li>{@link #flush()}: when it returns, every write, trim and write-zeroes acknowledged before
 * the flush started is on non-volatile storage. Writes still in flight when the flush starts
 * are not covered.</li>
 * </ul>
 * Concurrent writes to overlapping ranges are not ordered: after both return, each byte holds
 * the value of one of them. A caller that needs an order waits for the first to return.
 *
 * <h2>Errors</h2>
 * Methods throw {@link IOException}; the specific subclasses of this package say what went wrong.
 * A failed write leaves the range with unspecified content (old bytes, new bytes or a mix), never
 * bytes that were not written to it.
 */
@ConsumerType
public interface BlockDevice {

    /** The usual sector size; the unit of alignment for every device in pcache. */
    int SECTOR_SIZE = 512;

    /** Size of the device in bytes; constant for the life of the object. */
    long sizeBytes();

    /**
     * The alignment unit for offsets and lengths, a power of two (512 unless a device says
     * otherwise). Devices with coarser internal constraints emulate this granularity.
     */
    default int logicalBlockSize() {
        return SECTOR_SIZE;
    }

    /**
     * Reads {@code dst.remaining()} bytes starting at {@code offset} into {@code dst}, advancing
     * its position by that much on success. On failure the position and the content of
     * {@code dst} are unspecified.
     *
     * @throws DataIntegrityException if stored data failed its checksum and no good copy exists
     * @throws BackingDeviceException if the bytes had to come from a backing device that failed
     * @throws DeviceClosedException if the device is shut down
     */
    void read(long offset, ByteBuffer dst) throws IOException;

    /**
     * Writes {@code src.remaining()} bytes at {@code offset}, advancing {@code src}'s position by
     * that much on success.
     *
     * @param fua when true, return only once these bytes are durable
     * @throws ReadOnlyDeviceException if the device does not accept writes
     * @throws DeviceClosedException if the device is shut down
     */
    void write(long offset, ByteBuffer src, boolean fua) throws IOException;

    /** Makes every previously acknowledged write durable (see the class comment). */
    void flush() throws IOException;

    /**
     * Reads as {@link #read} does, but only if that needs no waiting: every byte is at hand in
     * fast storage (for a cache, a hit in its cache device) and no slower device, lock held for
     * long or other request has to be waited for. A caller that serves many requests on one
     * thread (an NBD connection's reader) tries this first and hands the request to a thread that
     * may block only when it returns false.
     *
     * <p>The default does nothing and returns false: every device is correct without it.
     *
     * @return true when the read was done, as by {@link #read}; false when it was not (the
     *         position of {@code dst} is unchanged, its content unspecified): call {@link #read}
     * @throws IOException as {@link #read} would for the same request
     * @since 1.1
     */
    default boolean tryRead(long offset, ByteBuffer dst) throws IOException {
        return false;
    }

    /**
     * Bytes a device lends out of its own memory for a read ({@link #tryReadView}). They stay
     * valid and unchanged until {@link #close}, whatever is written, trimmed or reclaimed
     * meanwhile: they are the range's content when the read was served.
     *
     * @since 1.6
     */
    interface ReadView extends AutoCloseable {
        /**
         * The bytes in order: read-only buffers whose remaining bytes add up to the read's length.
         * Callers may move the buffers' positions (to write them to a channel), nothing else.
         */
        ByteBuffer[] buffers();

        /**
         * Gives the bytes back; they must not be touched afterwards. Must be called exactly once
         * the caller is done, from any thread; later calls do nothing. Never throws.
         */
        @Override
        void close();
    }

    /**
     * Reads as {@link #tryRead} does, but lends the bytes out of the device's own memory instead
     * of copying them into a caller's buffer (for a cache on a memory mapping: views of the
     * mapping, held against reuse until closed). A caller that sends a read's bytes on (an NBD
     * export) saves a copy of every byte. It returns null when it cannot do that without waiting
     * or without a copy (the range is not wholly cached, the device has no memory of its own to
     * lend, or it already lends as much as it allows); nothing was read then, and the caller uses
     * {@link #tryRead} or {@link #read}.
     *
     * <p>The view holds device resources (for a cache: the segments its bytes lie in cannot be
     * reused, and a swap of the cache's parts waits for it): close it as soon as the bytes are
     * sent, and always before the device is closed.
     *
     * <p>The default returns null: every device is correct without it.
     *
     * @throws IOException as {@link #read} would for the same request
     * @since 1.6
     */
    default ReadView tryReadView(long offset, int length) throws IOException {
        return null;
    }

    /**
     * Writes as {@link #write} does, but only if that needs no waiting (for a cache: there is
     * space, and the bytes need not go to a slower device first). When it returns false the
     * write was not done: the position of {@code src} is unchanged, part of the range may
     * already hold new bytes (as while any write is in flight), and the caller must use
     * {@link #write} for the same bytes.
     *
     * @return true when the write was done and is acknowledged, as by {@link #write}
     * @since 1.1
     */
    default boolean tryWrite(long offset, ByteBuffer src, boolean fua) throws IOException {
        return false;
    }

    /**
     * Where the bytes of a {@link #tryWriteFrom} come from: the device hands out buffers where it
     * keeps data, and the source fills them. The device calls it on the thread that called
     * {@code tryWriteFrom}, before that returns, with buffers in the order of the write's bytes
     * whose sizes add up to exactly its length (or fewer, when it gives up).
     *
     * @since 1.5
     */
    @FunctionalInterface
    interface WriteSource {
        /**
         * Fills {@code dst} from its position to its limit with the write's next bytes, or throws
         * (then the write is not done). It must not wait for anything it cannot bound: the device
         * holds cache space and its request gate while this runs. {@code dst} may be the device's
         * own memory: the source must not keep it, nor touch it after returning.
         */
        void fill(ByteBuffer dst) throws IOException;
    }

    /**
     * Writes {@code length} bytes taken from {@code source} as {@link #tryWrite} does, placing
     * them where the device keeps data rather than copying them from a caller's buffer (for a
     * cache on a memory mapping: the bytes are received straight into the mapping). When it
     * returns false, {@code source} was not called and nothing was written: the caller takes the
     * bytes itself and uses {@link #tryWrite} or {@link #write}. When {@code source} throws (or
     * leaves a buffer unfilled), the write is not done and the exception is rethrown (or an
     * {@link IOException} thrown); the range may already hold part of the new bytes (as while any
     * write is in flight).
     *
     * <p>The default returns false: every device is correct without it.
     *
     * @return true when the write was done and is acknowledged, as by {@link #write}
     * @since 1.5
     */
    default boolean tryWriteFrom(long offset, int length, boolean fua, WriteSource source) throws IOException {
        return false;
    }

    /**
     * Flushes as {@link #flush} does, but only if that needs no slower device (for a cache in
     * write-back mode: persisting its open key sets); false when nothing was done and the caller
     * uses {@link #flush}.
     *
     * @since 1.1
     */
    default boolean tryFlush() throws IOException {
        return false;
    }

    /**
     * Declares {@code [offset, offset + length)} unused. Afterwards the range may read back as
     * its old content, as zeroes, or (for a range partly trimmed) as a mix, until it is written
     * again. Devices may ignore trims; a trim never fails for lack of support.
     */
    void trim(long offset, long length) throws IOException;

    /**
     * Makes {@code [offset, offset + length)} read back as zeroes, with the same durability
     * rules as {@link #write} (including {@code fua}). {@code length} may exceed any write size
     * limit of the device.
     */
    void writeZeroes(long offset, long length, boolean fua) throws IOException;

    /**
     * What is allocated, and what reads as zeroes, in {@code [offset, offset + length)} (NBD's
     * {@code base:allocation}): extents with the flags {@link BlockExtent#HOLE} and
     * {@link BlockExtent#ZERO} (never {@link BlockExtent#DIRTY}).
     *
     * <p>The answer is a snapshot: a write that runs at the same time may or may not be seen. It
     * is a list of at least one and at most {@code max(1, maxExtents)} extents, in order, without
     * gaps, the first starting at {@code offset}, none reaching past {@code offset + length},
     * each a multiple of {@link #logicalBlockSize()} long. It may end before {@code offset +
     * length} (when the extent limit is reached, or when finding out more would cost too much):
     * the caller asks again from where it ended. Adjacent extents may carry the same flags.
     *
     * <p>The default knows nothing and says so: one extent of the whole range, flags 0
     * ("allocated data"), which is always correct.
     *
     * @param length bytes to describe, positive (0 is an {@link IllegalArgumentException})
     * @param maxExtents the most extents the caller wants; values below 1 count as 1
     * @throws OutOfRangeException if the range does not lie inside the device
     * @throws MisalignedIoException if the range is not aligned to the logical block size
     * @throws IOException if the device could not be asked (implementations that cannot tell
     *         prefer answering flags 0 to failing)
     * @since 1.2
     */
    default List<BlockExtent> blockStatus(long offset, long length, int maxExtents) throws IOException {
        checkRange(toString(), sizeBytes(), logicalBlockSize(), offset, length);
        if (length == 0) {
            throw new IllegalArgumentException(toString() + ": block status of an empty range at " + offset);
        }
        return List.of(new BlockExtent(offset, length, 0));
    }

    /**
     * Checks that {@code [offset, offset + length)} is a valid, aligned range of this device.
     * Implementations call this first so that a bad request changes nothing.
     *
     * @param device name used in the error message
     */
    static void checkRange(String device, long sizeBytes, int blockSize, long offset, long length)
            throws OutOfRangeException, MisalignedIoException {
        if (offset < 0 || length < 0 || offset > sizeBytes || length > sizeBytes - offset) {
            throw new OutOfRangeException(device, offset, length, sizeBytes);
        }
        if (((offset | length) & (blockSize - 1)) != 0) {
            throw new MisalignedIoException(device, offset, length, blockSize);
        }
    }
}
