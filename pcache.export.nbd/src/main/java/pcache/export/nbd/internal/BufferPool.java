package pcache.export.nbd.internal;

import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Payload buffers for READ replies and WRITE payloads, shared by every connection of a server.
 *
 * <p>Small requests dominate random I/O (4 KiB at queue depth 16), so buffers up to
 * {@link #MAX_POOLED_BYTES} are direct (no copy through the JDK's temporary direct buffer on
 * socket I/O) and recycled per power-of-two size class, keeping at most
 * {@link #RETAINED_BYTES_PER_CLASS} or {@link #RETAINED_BUFFERS_PER_CLASS} buffers per class,
 * whichever is more. Keeping a queue depth's worth of the largest class matters: a fresh 1 MiB
 * direct buffer costs zeroing and page faults, and at 1 MiB x QD16 a pool that kept only 8 cut
 * sequential reads to a third (docs/BENCHMARKS.md, NBD harness). Larger buffers are plain heap arrays allocated
 * per request: they are rare, and direct memory is scarcer than heap. Socket I/O on heap buffers
 * must be done in slices of at most {@link #MAX_HEAP_IO_SLICE} bytes (see {@link #ioSlice}) so
 * the JDK's per-thread temporary direct buffer stays small.
 */
final class BufferPool {
    static final int MIN_CLASS_BYTES = 4096;
    static final int MAX_POOLED_BYTES = 1 << 20;
    static final int RETAINED_BYTES_PER_CLASS = 8 << 20;
    /** Two connections at queue depth 16. */
    static final int RETAINED_BUFFERS_PER_CLASS = 32;
    static final int MAX_HEAP_IO_SLICE = 256 << 10;

    private static final int MIN_SHIFT = Integer.numberOfTrailingZeros(MIN_CLASS_BYTES);
    private static final int CLASSES = Integer.numberOfTrailingZeros(MAX_POOLED_BYTES) - MIN_SHIFT + 1;

    @SuppressWarnings("unchecked")
    private final ConcurrentLinkedQueue<ByteBuffer>[] free = new ConcurrentLinkedQueue[CLASSES];
    private final AtomicInteger[] retained = new AtomicInteger[CLASSES];

    BufferPool() {
        for (int i = 0; i < CLASSES; i++) {
            free[i] = new ConcurrentLinkedQueue<>();
            retained[i] = new AtomicInteger();
        }
    }

    /** A buffer with position 0 and limit {@code bytes}; give it back with {@link #release}. */
    ByteBuffer acquire(int bytes) {
        if (bytes > MAX_POOLED_BYTES) {
            return ByteBuffer.allocate(bytes);
        }
        int cls = sizeClass(bytes);
        ByteBuffer buffer = free[cls].poll();
        if (buffer == null) {
            buffer = ByteBuffer.allocateDirect(MIN_CLASS_BYTES << cls);
        } else {
            retained[cls].decrementAndGet();
        }
        buffer.clear().limit(bytes);
        return buffer;
    }

    /** Returns a buffer obtained from {@link #acquire}; null is ignored. */
    void release(ByteBuffer buffer) {
        if (buffer == null || !buffer.isDirect() || buffer.capacity() > MAX_POOLED_BYTES) {
            return;
        }
        int cls = sizeClass(buffer.capacity());
        if ((MIN_CLASS_BYTES << cls) != buffer.capacity()) {
            return; // not one of ours
        }
        long limit = Math.max(RETAINED_BYTES_PER_CLASS, (long) RETAINED_BUFFERS_PER_CLASS * buffer.capacity());
        if (retained[cls].incrementAndGet() * (long) buffer.capacity() > limit) {
            retained[cls].decrementAndGet();
            return; // enough of this size kept; let the GC have it
        }
        free[cls].offer(buffer);
    }

    private static int sizeClass(int bytes) {
        int rounded = bytes <= MIN_CLASS_BYTES ? MIN_CLASS_BYTES : Integer.highestOneBit(bytes - 1) << 1;
        return Integer.numberOfTrailingZeros(rounded) - MIN_SHIFT;
    }

    /**
     * A view of {@code buffer} for one socket read or write: the buffer itself if it is direct or
     * small, else a duplicate limited to {@link #MAX_HEAP_IO_SLICE} bytes from its position.
     */
    static ByteBuffer ioSlice(ByteBuffer buffer) {
        if (buffer.isDirect() || buffer.remaining() <= MAX_HEAP_IO_SLICE) {
            return buffer;
        }
        ByteBuffer slice = buffer.duplicate();
        slice.limit(slice.position() + MAX_HEAP_IO_SLICE);
        return slice;
    }
}
