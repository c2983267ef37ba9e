package pcache.segment.internal;

import java.io.IOException;
import java.nio.ByteBuffer;

import pcache.api.spi.PmemRegion;

/**
 * A region that loses power in the middle of one chosen store: the write to {@link #tearAt} keeps
 * only its first {@link #keptBytes} bytes (stores may tear at 8-byte granularity, see
 * {@link PmemRegion}) and then fails, as if the machine had stopped there.
 */
final class TearingRegion implements PmemRegion {

    private final PmemRegion delegate;
    long tearAt = -1;
    int keptBytes = 8;
    /** Stores meeting {@code [failFrom, failTo)} fail and store nothing (a media error); none by default. */
    long failFrom = -1;
    long failTo = -1;

    TearingRegion(PmemRegion delegate) {
        this.delegate = delegate;
    }

    @Override
    public void write(long offset, byte[] src, int srcOffset, int length) throws IOException {
        if (offset < failTo && offset + length > failFrom) {
            throw new IOException("simulated media error storing at " + offset);
        }
        if (offset == tearAt) {
            delegate.write(offset, src, srcOffset, Math.min(keptBytes, length));
            throw new IOException("simulated power loss while storing at " + offset);
        }
        delegate.write(offset, src, srcOffset, length);
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        byte[] b = new byte[src.remaining()];
        src.get(b);
        write(offset, b, 0, b.length);
    }

    @Override
    public long sizeBytes() {
        return delegate.sizeBytes();
    }

    @Override
    public String description() {
        return "tearing " + delegate.description();
    }

    @Override
    public boolean isDirectAccess() {
        return false;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        delegate.read(offset, dst);
    }

    @Override
    public void read(long offset, byte[] dst, int dstOffset, int length) throws IOException {
        delegate.read(offset, dst, dstOffset, length);
    }

    @Override
    public void fill(long offset, long length, byte value) throws IOException {
        delegate.fill(offset, length, value);
    }

    @Override
    public long getLong(long offset) throws IOException {
        return delegate.getLong(offset);
    }

    @Override
    public void putLong(long offset, long value) throws IOException {
        delegate.putLong(offset, value);
    }

    @Override
    public ByteBuffer view(long offset, int length) throws IOException {
        return delegate.view(offset, length);
    }

    @Override
    public void flush(long offset, long length) throws IOException {
        delegate.flush(offset, length);
    }

    @Override
    public void fence() throws IOException {
        delegate.fence();
    }

    @Override
    public void close() throws IOException {
        delegate.close();
    }
}
