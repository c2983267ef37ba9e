package pcache.backing.nbd.internal;

import java.util.Map;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;

import pcache.api.spi.BackingDevice;
import pcache.api.spi.ForwardingBackingDevice;

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
public final class NbdBackingService extends ForwardingBackingDevice {

    /** The {@code component.factory} of this component. */
    public static final String FACTORY = "pcache.backing.nbd.device";

    /** Private component property: the connected {@link NbdBackingDevice} the instance serves. */
    static final String DEVICE = ".pcache.backing.nbd.device";

    /** Serves the device in the component property {@value #DEVICE}. */
    @Activate
    public NbdBackingService(Map<String, Object> properties) {
        super(device(properties));
    }

    private static NbdBackingDevice device(Map<String, Object> properties) {
        Object device = properties.get(DEVICE);
        if (!(device instanceof NbdBackingDevice connected)) {
            throw new IllegalArgumentException(FACTORY + ": an instance needs the connected device "
                    + "in the property " + DEVICE + ", not " + device);
        }
        return connected;
    }
}
