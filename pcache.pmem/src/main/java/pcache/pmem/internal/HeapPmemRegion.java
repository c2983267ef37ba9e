package pcache.pmem.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import pcache.api.DeviceClosedException;
import pcache.api.spi.PmemRegion;

/**
 * A volatile cache device in heap memory, for tests. Every store is immediately "durable" in the
 * sense that a reopen through the same provider sees it (a restart without power loss); flush
 * and fence have nothing to do.
 */
final class HeapPmemRegion implements PmemRegion {

    private final String device;
    private final HeapStore store;
    private volatile boolean closed;

    HeapPmemRegion(String name, HeapStore store) {
        this.device = "cache device " + name + " (heap, volatile)";
        this.store = store;
    }

    @Override
    public long sizeBytes() {
        return store.sizeBytes();
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
        check(offset, length);
        int at = dst.position();
        store.read(offset, dst, at, length);
        dst.position(at + length);
    }

    @Override
    public void read(long offset, byte[] dst, int dstOffset, int length) throws IOException {
        Ranges.checkArray(dst.length, dstOffset, length);
        check(offset, length);
        store.read(offset, dst, dstOffset, length);
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        int length = src.remaining();
        check(offset, length);
        int at = src.position();
        store.write(offset, src, at, length);
        src.position(at + length);
    }

    @Override
    public void write(long offset, byte[] src, int srcOffset, int length) throws IOException {
        Ranges.checkArray(src.length, srcOffset, length);
        check(offset, length);
        store.write(offset, src, srcOffset, length);
    }

    @Override
    public void fill(long offset, long length, byte value) throws IOException {
        check(offset, length);
        store.fill(offset, length, value);
    }

    @Override
    public long getLong(long offset) throws IOException {
        check(offset, Long.BYTES);
        if ((offset & 7) == 0) {
            return store.getLongAligned(offset);
        }
        byte[] bytes = new byte[Long.BYTES];
        store.read(offset, bytes, 0, Long.BYTES);
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    @Override
    public void putLong(long offset, long value) throws IOException {
        check(offset, Long.BYTES);
        if ((offset & 7) == 0) {
            store.putLongAligned(offset, value);
            return;
        }
        byte[] bytes = new byte[Long.BYTES];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(value);
        store.write(offset, bytes, 0, Long.BYTES);
    }

    /** A copy (the chunks are private to the store). */
    @Override
    public ByteBuffer view(long offset, int length) throws IOException {
        check(offset, length);
        ByteBuffer copy = ByteBuffer.allocate(length);
        store.read(offset, copy, 0, length);
        return copy.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public void flush(long offset, long length) throws IOException {
        check(offset, length);
    }

    @Override
    public void fence() throws IOException {
        checkOpen();
    }

    @Override
    public void close() {
        closed = true;
    }

    private void check(long offset, long length) throws DeviceClosedException {
        Ranges.check(device, store.sizeBytes(), offset, length);
        checkOpen();
    }

    private void checkOpen() throws DeviceClosedException {
        if (closed) {
            throw new DeviceClosedException(device + " is closed");
        }
    }

    @Override
    public String toString() {
        return device;
    }
}
