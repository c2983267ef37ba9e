package pcache.pmem.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The bytes of one volatile cache device: byte arrays of {@link #CHUNK_BYTES} each (one array
 * cannot hold more than 2 GiB), allocated on first touch so a large device that a test uses
 * sparsely costs little memory.
 */
final class HeapStore {

    /** Size of one array; a multiple of 8, so an aligned long never spans two. */
    static final int CHUNK_BYTES = 1 << 24;
    private static final int CHUNK_SHIFT = Integer.numberOfTrailingZeros(CHUNK_BYTES);

    private static final VarHandle LONG_LE =
            MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private final long sizeBytes;
    private final AtomicReferenceArray<byte[]> chunks;

    HeapStore(long sizeBytes) {
        if (sizeBytes <= 0) {
            throw new IllegalArgumentException("heap cache device size must be positive: " + sizeBytes);
        }
        this.sizeBytes = sizeBytes;
        long count = (sizeBytes + CHUNK_BYTES - 1) >>> CHUNK_SHIFT;
        if (count > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("heap cache device too large: " + sizeBytes);
        }
        this.chunks = new AtomicReferenceArray<>((int) count);
    }

    long sizeBytes() {
        return sizeBytes;
    }

    /** Copies {@code length} bytes at {@code offset} into {@code dst} at its absolute index {@code at}. */
    void read(long offset, ByteBuffer dst, int at, int length) {
        for (int done = 0; done < length;) {
            long position = offset + done;
            int chunk = chunk(position, length - done);
            dst.put(at + done, array(position), index(position), chunk);
            done += chunk;
        }
    }

    void read(long offset, byte[] dst, int dstOffset, int length) {
        for (int done = 0; done < length;) {
            long position = offset + done;
            int chunk = chunk(position, length - done);
            System.arraycopy(array(position), index(position), dst, dstOffset + done, chunk);
            done += chunk;
        }
    }

    /** Stores {@code length} bytes of {@code src} from its absolute index {@code at}. */
    void write(long offset, ByteBuffer src, int at, int length) {
        for (int done = 0; done < length;) {
            long position = offset + done;
            int chunk = chunk(position, length - done);
            src.get(at + done, array(position), index(position), chunk);
            done += chunk;
        }
    }

    void write(long offset, byte[] src, int srcOffset, int length) {
        for (int done = 0; done < length;) {
            long position = offset + done;
            int chunk = chunk(position, length - done);
            System.arraycopy(src, srcOffset + done, array(position), index(position), chunk);
            done += chunk;
        }
    }

    void fill(long offset, long length, byte value) {
        for (long done = 0; done < length;) {
            long position = offset + done;
            int chunk = chunk(position, length - done);
            int index = index(position);
            java.util.Arrays.fill(array(position), index, index + chunk, value);
            done += chunk;
        }
    }

    /** An aligned long is one single-copy-atomic access (opaque mode). */
    long getLongAligned(long offset) {
        return (long) LONG_LE.getOpaque(array(offset), index(offset));
    }

    void putLongAligned(long offset, long value) {
        LONG_LE.setOpaque(array(offset), index(offset), value);
    }

    private byte[] array(long position) {
        int i = (int) (position >>> CHUNK_SHIFT);
        byte[] array = chunks.get(i);
        if (array == null) {
            long base = (long) i << CHUNK_SHIFT;
            byte[] fresh = new byte[(int) Math.min(CHUNK_BYTES, sizeBytes - base)];
            array = chunks.compareAndExchange(i, null, fresh);
            if (array == null) {
                array = fresh;
            }
        }
        return array;
    }

    private static int index(long position) {
        return (int) (position & (CHUNK_BYTES - 1));
    }

    private static int chunk(long position, long wanted) {
        return (int) Math.min(wanted, CHUNK_BYTES - (position & (CHUNK_BYTES - 1)));
    }
}
