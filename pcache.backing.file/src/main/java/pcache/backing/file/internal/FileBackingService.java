package pcache.backing.file.internal;

import java.io.IOException;
import java.nio.ByteBuffer;

import pcache.api.BackingState;
import pcache.api.spi.BackingDevice;
import pcache.api.spi.BackingIdentity;

/**
 * The registered service object: a {@link BackingDevice} view of a {@link FileBackingDevice}
 * without {@code close()}, because the device's life belongs to the component that opened it.
 */
final class FileBackingService implements BackingDevice {

    private final FileBackingDevice device;

    FileBackingService(FileBackingDevice device) {
        this.device = device;
    }

    @Override
    public long sizeBytes() {
        return device.sizeBytes();
    }

    @Override
    public int logicalBlockSize() {
        return device.logicalBlockSize();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        device.read(offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        device.write(offset, src, fua);
    }

    @Override
    public void flush() throws IOException {
        device.flush();
    }

    @Override
    public void trim(long offset, long length) throws IOException {
        device.trim(offset, length);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean fua) throws IOException {
        device.writeZeroes(offset, length, fua);
    }

    @Override
    public BackingIdentity identity() {
        return device.identity();
    }

    @Override
    public String description() {
        return device.description();
    }

    @Override
    public BackingState state() {
        return device.state();
    }

    @Override
    public String toString() {
        return device.toString();
    }
}
