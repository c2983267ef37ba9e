package pcache.export.nbd.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import pcache.api.BlockDevice;
import pcache.api.BlockExtent;
import pcache.api.CacheDevice;
import pcache.api.CacheMode;
import pcache.api.CacheStatistics;
import pcache.api.CacheStatus;

/**
 * A {@link CacheDevice} for block-status tests: I/O goes to a {@link MemoryBlockDevice}; the
 * allocation and dirty status of each 4 KiB block are set by the test, and both status calls
 * answer with merged runs of them, honouring the extent limit.
 */
final class StatusCacheDevice implements CacheDevice {
    static final int BLOCK = 4096;

    private final MemoryBlockDevice data;
    private final int[] allocation;
    private final boolean[] dirty;
    volatile IOException statusFailure;

    StatusCacheDevice(String name, int sizeBytes) {
        this.data = new MemoryBlockDevice(name, sizeBytes);
        this.allocation = new int[sizeBytes / BLOCK];
        this.dirty = new boolean[sizeBytes / BLOCK];
    }

    synchronized void setAllocation(long offset, long length, int flags) {
        for (long p = offset; p < offset + length; p += BLOCK) {
            allocation[(int) (p / BLOCK)] = flags;
        }
    }

    synchronized void setDirty(long offset, long length, boolean isDirty) {
        for (long p = offset; p < offset + length; p += BLOCK) {
            dirty[(int) (p / BLOCK)] = isDirty;
        }
    }

    @Override
    public synchronized List<BlockExtent> blockStatus(long offset, long length, int maxExtents) throws IOException {
        return runs(offset, length, maxExtents, p -> allocation[p]);
    }

    @Override
    public synchronized List<BlockExtent> dirtyStatus(long offset, long length, int maxExtents) throws IOException {
        return runs(offset, length, maxExtents, p -> dirty[p] ? BlockExtent.DIRTY : 0);
    }

    private List<BlockExtent> runs(long offset, long length, int maxExtents, java.util.function.IntUnaryOperator flags)
            throws IOException {
        BlockDevice.checkRange(name(), sizeBytes(), SECTOR_SIZE, offset, length);
        if (statusFailure != null) {
            throw statusFailure;
        }
        List<BlockExtent> out = new ArrayList<>();
        long pos = offset;
        long end = offset + length;
        while (pos < end && out.size() < Math.max(1, maxExtents)) {
            int f = flags.applyAsInt((int) (pos / BLOCK));
            long runEnd = pos;
            while (runEnd < end && flags.applyAsInt((int) (runEnd / BLOCK)) == f) {
                runEnd = Math.min(end, (runEnd / BLOCK + 1) * BLOCK);
            }
            out.add(new BlockExtent(pos, runEnd - pos, f));
            pos = runEnd;
        }
        return out;
    }

    @Override
    public String name() {
        return "cache";
    }

    @Override
    public long sizeBytes() {
        return data.sizeBytes();
    }

    private final java.util.concurrent.atomic.AtomicLong bytesRead = new java.util.concurrent.atomic.AtomicLong();

    /** Bytes clients read so far. */
    long bytesReadForTest() {
        return bytesRead.get();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        bytesRead.addAndGet(dst.remaining());
        data.read(offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        data.write(offset, src, fua);
    }

    @Override
    public void flush() throws IOException {
        data.flush();
    }

    @Override
    public void trim(long offset, long length) throws IOException {
        data.trim(offset, length);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean fua) throws IOException {
        data.writeZeroes(offset, length, fua);
    }

    @Override
    public CacheStatus status() {
        throw new UnsupportedOperationException();
    }

    @Override
    public CacheStatistics statistics() {
        throw new UnsupportedOperationException();
    }

    @Override
    public CacheMode mode() {
        return CacheMode.WRITEBACK;
    }

    @Override
    public void setMode(CacheMode mode) {
        throw new UnsupportedOperationException();
    }

    @Override
    public int gcPercent() {
        return GC_PERCENT_DEFAULT;
    }

    @Override
    public void setGcPercent(int percent) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void drain(DrainProgress progress) {
        throw new UnsupportedOperationException();
    }
}
