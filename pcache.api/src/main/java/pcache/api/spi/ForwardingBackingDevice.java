package pcache.api.spi;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Objects;

import pcache.api.BackingState;
import pcache.api.BlockExtent;

/**
 * A {@link BackingDevice} that forwards every call to another one. Backing bundles publish such a
 * view as their service (a DS component wrapping the device they opened), so that the device's
 * life stays with whoever opened it; a subclass adds only what differs.
 */
public abstract class ForwardingBackingDevice implements BackingDevice {

    private final BackingDevice device;

    /** @param device the device every call goes to */
    protected ForwardingBackingDevice(BackingDevice device) {
        this.device = Objects.requireNonNull(device, "device");
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

    /** @since 1.2 */
    @Override
    public List<BlockExtent> blockStatus(long offset, long length, int maxExtents) throws IOException {
        return device.blockStatus(offset, length, maxExtents);
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
