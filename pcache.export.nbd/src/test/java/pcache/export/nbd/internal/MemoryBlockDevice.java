package pcache.export.nbd.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

import pcache.api.BlockDevice;

/**
 * A thread-safe in-memory {@link BlockDevice} for tests: checks ranges like a real device,
 * counts what it was asked to do, and can be slowed down or made to fail through a {@link Hook}.
 *
 * <p>Like a cache full of hits, it serves {@code tryRead}, {@code tryWrite} and {@code tryFlush}
 * at once (so the connection's reader runs requests in place) unless a hook was set (a slow or
 * failing device must be waited for on a worker) or {@link #servesAtOnce} is cleared.
 */
final class MemoryBlockDevice implements BlockDevice {

    /** Called before every operation; may block (slow device) or throw (failing device). */
    @FunctionalInterface
    interface Hook {
        void before(String operation, long offset, long length) throws IOException;
    }

    private final String name;
    private final byte[] data;
    private final long size;
    private volatile Hook hook = (op, offset, length) -> { };
    private volatile boolean hooked;
    /** Whether the non-waiting calls may succeed; false sends every request to a worker. */
    volatile boolean servesAtOnce = true;
    /** Requests done through a non-waiting call. */
    final AtomicLong servedAtOnce = new AtomicLong();
    /** An offset the non-waiting calls refuse (like a cache miss), or -1. */
    private volatile long notAtHand = -1;
    /** Thrown by the non-waiting calls when set (a device failing a request it could serve at once). */
    volatile IOException atOnceFailure;
    /** Thrown by {@code tryWriteFrom} when set, after the source filled the first half. */
    volatile IOException placingFailure;
    /** When set, {@code tryWriteFrom} returns false after the source filled the first half (a broken device). */
    volatile boolean declinesAfterHalf;
    /** How long {@code tryWriteFrom} works after the whole payload is in, in ms (a slow device). */
    volatile long placingWorkMillis;
    /** Writes whose payload the device had its source place ({@code tryWriteFrom}). */
    final AtomicLong placed = new AtomicLong();
    /** When false, {@code tryWriteFrom} declines at once (as a cache without free space does). */
    volatile boolean placesWrites = true;

    /** When set, {@code tryReadView} lends reads (as direct read-only buffers, in two pieces). */
    volatile boolean lendsViews;
    /** Views lent, and those not yet closed. */
    final AtomicLong viewsLent = new AtomicLong();
    final java.util.concurrent.atomic.AtomicInteger viewsOpen = new java.util.concurrent.atomic.AtomicInteger();
    /** Closes of a view that was closed already (a caller's bug). */
    final AtomicLong extraViewCloses = new AtomicLong();

    final AtomicLong reads = new AtomicLong();
    final AtomicLong writes = new AtomicLong();
    final AtomicLong fuaWrites = new AtomicLong();
    final AtomicLong flushes = new AtomicLong();
    final AtomicLong trims = new AtomicLong();
    final AtomicLong zeroWrites = new AtomicLong();
    final AtomicLong fuaZeroWrites = new AtomicLong();

    MemoryBlockDevice(String name, int sizeBytes) {
        this(name, sizeBytes, sizeBytes);
    }

    /**
     * A device of {@code sizeBytes} that stores only its first {@code storedBytes}: for requests
     * beyond 2 GiB that hold no data (TRIM); reads and writes must stay within what is stored.
     */
    MemoryBlockDevice(String name, int storedBytes, long sizeBytes) {
        this.name = name;
        this.size = sizeBytes;
        this.data = new byte[storedBytes];
    }

    void setHook(Hook hook) {
        this.hook = hook;
        this.hooked = true;
    }

    /**
     * Makes requests at {@code offset} slow: the non-waiting calls refuse them and {@code slowHook}
     * runs before every operation (it should act on that offset only); other offsets are still
     * served at once.
     */
    void makeSlow(long offset, Hook slowHook) {
        this.hook = slowHook;
        this.notAtHand = offset;
    }

    private boolean atOnce(long offset) throws IOException {
        if (!servesAtOnce || hooked || offset == notAtHand) {
            return false;
        }
        IOException failure = atOnceFailure;
        if (failure != null) {
            throw failure;
        }
        servedAtOnce.incrementAndGet();
        return true;
    }

    @Override
    public boolean tryRead(long offset, ByteBuffer dst) throws IOException {
        if (!atOnce(offset)) {
            return false;
        }
        read(offset, dst);
        return true;
    }

    /**
     * Lends a snapshot of the range in two direct read-only buffers (as a cache's view crossing a
     * slice end), counting it open until closed. Closing overwrites the snapshot, so bytes sent
     * after their view was closed arrive wrong; a second close is counted in {@link #extraViewCloses}.
     */
    @Override
    public ReadView tryReadView(long offset, int length) throws IOException {
        BlockDevice.checkRange(name, data.length, SECTOR_SIZE, offset, length);
        if (!lendsViews || !atOnce(offset)) {
            return null;
        }
        ByteBuffer copy = ByteBuffer.allocateDirect(length);
        synchronized (data) {
            copy.put(data, (int) offset, length).flip();
        }
        int half = length / 2 / SECTOR_SIZE * SECTOR_SIZE;
        ByteBuffer[] pieces = {copy.duplicate().limit(half).asReadOnlyBuffer(),
            copy.duplicate().position(half).asReadOnlyBuffer()};
        viewsLent.incrementAndGet();
        viewsOpen.incrementAndGet();
        java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();
        return new ReadView() {
            @Override
            public ByteBuffer[] buffers() {
                return pieces;
            }

            @Override
            public void close() {
                if (closed.compareAndSet(false, true)) {
                    for (int i = 0; i < length; i++) {
                        copy.put(i, (byte) 0xEE); // the lender may reuse its memory now
                    }
                    viewsOpen.decrementAndGet();
                } else {
                    extraViewCloses.incrementAndGet();
                }
            }
        };
    }

    @Override
    public boolean tryWrite(long offset, ByteBuffer src, boolean fua) throws IOException {
        if (!atOnce(offset)) {
            return false;
        }
        write(offset, src, fua);
        return true;
    }

    /** Takes the payload in two pieces, as a cache does across a slice end. */
    @Override
    public boolean tryWriteFrom(long offset, int length, boolean fua, WriteSource source) throws IOException {
        BlockDevice.checkRange(name, data.length, SECTOR_SIZE, offset, length);
        if (!placesWrites || !atOnce(offset)) {
            return false;
        }
        ByteBuffer landing = ByteBuffer.allocate(length);
        int half = length / 2;
        source.fill(landing.duplicate().limit(half));
        IOException failure = placingFailure;
        if (failure != null) {
            throw failure;
        }
        if (declinesAfterHalf) {
            return false;
        }
        source.fill(landing.duplicate().position(half));
        if (placingWorkMillis > 0) {
            try {
                Thread.sleep(placingWorkMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while placing");
            }
        }
        write(offset, landing, fua);
        placed.incrementAndGet();
        return true;
    }

    @Override
    public boolean tryFlush() throws IOException {
        if (!atOnce(-2)) {
            return false;
        }
        flush();
        return true;
    }

    @Override
    public long sizeBytes() {
        return size;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int length = dst.remaining();
        BlockDevice.checkRange(name, data.length, SECTOR_SIZE, offset, length);
        hook.before("read", offset, length);
        synchronized (data) {
            dst.put(data, (int) offset, length);
        }
        reads.incrementAndGet();
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        int length = src.remaining();
        BlockDevice.checkRange(name, data.length, SECTOR_SIZE, offset, length);
        hook.before(fua ? "write+fua" : "write", offset, length);
        synchronized (data) {
            src.get(data, (int) offset, length);
        }
        writes.incrementAndGet();
        if (fua) {
            fuaWrites.incrementAndGet();
        }
    }

    @Override
    public void flush() throws IOException {
        hook.before("flush", 0, 0);
        flushes.incrementAndGet();
    }

    @Override
    public void trim(long offset, long length) throws IOException {
        BlockDevice.checkRange(name, size, SECTOR_SIZE, offset, length);
        hook.before("trim", offset, length);
        trims.incrementAndGet();
    }

    @Override
    public void writeZeroes(long offset, long length, boolean fua) throws IOException {
        BlockDevice.checkRange(name, data.length, SECTOR_SIZE, offset, length);
        hook.before("zero", offset, length);
        synchronized (data) {
            Arrays.fill(data, (int) offset, (int) (offset + length), (byte) 0);
        }
        zeroWrites.incrementAndGet();
        if (fua) {
            fuaZeroWrites.incrementAndGet();
        }
    }

    /** A copy of {@code length} bytes at {@code offset}, bypassing hooks and counters. */
    byte[] snapshot(int offset, int length) {
        synchronized (data) {
            return Arrays.copyOfRange(data, offset, offset + length);
        }
    }

    /** Zeroes the whole device, bypassing hooks and counters. */
    void clear() {
        synchronized (data) {
            Arrays.fill(data, (byte) 0);
        }
    }

    /** Overwrites content directly, bypassing hooks and counters. */
    void fill(int offset, byte[] bytes) {
        synchronized (data) {
            System.arraycopy(bytes, 0, data, offset, bytes.length);
        }
    }
}
