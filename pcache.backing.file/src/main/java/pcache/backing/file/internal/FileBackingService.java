package pcache.backing.file.internal;

import java.util.Map;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;

import pcache.api.spi.BackingDevice;
import pcache.api.spi.ForwardingBackingDevice;

/**
 * The registered service: a {@link BackingDevice} view of a {@link FileBackingDevice} without
 * {@code close()}, because the device's life belongs to the component that opened it.
 *
 * <p>A DS factory component ({@value #FACTORY}): {@link FileBackingComponent} opens the device
 * and then asks the {@code ComponentFactory} for an instance, handing over the open device in the
 * private component property {@value #DEVICE} (DS does not publish properties whose names start
 * with a dot) and the service properties in the others. DS registers the service when the
 * instance is created and withdraws it when the instance is disposed, so the service exists
 * exactly while the device is open. No configuration applies to the factory itself.
 */
@Component(factory = FileBackingService.FACTORY, service = BackingDevice.class,
        configurationPolicy = ConfigurationPolicy.IGNORE)
public final class FileBackingService extends ForwardingBackingDevice {

    /** The {@code component.factory} of this component. */
    public static final String FACTORY = "pcache.backing.file.device";

    /** Private component property: the open {@link FileBackingDevice} the instance serves. */
    static final String DEVICE = ".pcache.backing.file.device";

    /** Serves the device in the component property {@value #DEVICE}. */
    @Activate
    public FileBackingService(Map<String, Object> properties) {
        super(device(properties));
    }

    private static FileBackingDevice device(Map<String, Object> properties) {
        Object device = properties.get(DEVICE);
        if (!(device instanceof FileBackingDevice open)) {
            throw new IllegalArgumentException(FACTORY + ": an instance needs the open device in "
                    + "the property " + DEVICE + ", not " + device);
        }
        return open;
    }
}
