package pcache.backing.nbd.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Map;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;

import pcache.api.BackingState;
import pcache.api.spi.BackingDevice;
import pcache.api.spi.BackingIdentity;

/**
 * The registered service: a {@link BackingDevice} view of a connected {@link NbdBackingDevice}
 * without {@code close()}, because the device's life belongs to the component that connected it.
 *
 * <p>A DS factory component ({@value #FACTORY}): once the first connection succeeded,
 * {@link NbdBackingComponent} asks the {@code ComponentFactory} for an instance, handing over the
 * device in the private component property {@value #DEVICE} (DS does not publish properties
 * whose names start with a dot) and the service properties in the others. DS registers the
 * service when the instance is created and withdraws it when the instance is disposed. No
 * configuration applies to the factory itself.
 */
@Component(factory = NbdBackingService.FACTORY, service = BackingDevice.class,
        configurationPolicy = ConfigurationPolicy.IGNORE)
public final class NbdBackingService implements BackingDevice {

    /** The {@code component.factory} of this component. */
    public static final String FACTORY = "pcache.backing.nbd.device";

    /** Private component property: the connected {@link NbdBackingDevice} the instance serves. */
    static final String DEVICE = ".pcache.backing.nbd.device";

    private final NbdBackingDevice device;

    /** Serves the device in the component property {@value #DEVICE}. */
    @Activate
    public NbdBackingService(Map<String, Object> properties) {
        Object device = properties.get(DEVICE);
        if (!(device instanceof NbdBackingDevice connected)) {
            throw new IllegalArgumentException(FACTORY + ": an instance needs the connected device "
                    + "in the property " + DEVICE + ", not " + device);
        }
        this.device = connected;
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
