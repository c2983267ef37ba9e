package pcache.export.nbd.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

import pcache.api.BlockDevice;

/**
 * A thread-safe in-memory {@link BlockDevice} for tests: checks ranges like a real device,
 * counts what it was asked to do, and can be slowed down or made to fail through a {@link Hook}.
 */
final class MemoryBlockDevice implements BlockDevice {

    /** Called before every operation; may block (slow device) or throw (failing device). */
    @FunctionalInterface
    interface Hook {
        void before(String operation, long offset, long length) throws IOException;
    }

    private final String name;
    private final byte[] data;
    private volatile Hook hook = (op, offset, length) -> { };

    final AtomicLong reads = new AtomicLong();
    final AtomicLong writes = new AtomicLong();
    final AtomicLong fuaWrites = new AtomicLong();
    final AtomicLong flushes = new AtomicLong();
    final AtomicLong trims = new AtomicLong();
    final AtomicLong zeroWrites = new AtomicLong();
    final AtomicLong fuaZeroWrites = new AtomicLong();

    MemoryBlockDevice(String name, int sizeBytes) {
        this.name = name;
        this.data = new byte[sizeBytes];
    }

    void setHook(Hook hook) {
        this.hook = hook;
    }

    @Override
    public long sizeBytes() {
        return data.length;
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
        BlockDevice.checkRange(name, data.length, SECTOR_SIZE, offset, length);
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
