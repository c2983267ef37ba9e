package pcache.backing.nbd.internal;

import java.util.Dictionary;
import java.util.Hashtable;

import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

import pcache.api.spi.BackingDevice;

/**
 * One NBD backing device per factory configuration of {@value #PID}.
 *
 * <p>The device is registered as a {@link BackingDevice} service (properties
 * {@code pcache.backing.name=<name>}, {@code pcache.backing.driver=nbd}) only once the first
 * connection succeeded, because its size and identity come from the server. Until then the
 * component keeps trying in the background (see {@link ConnectLoop}) and there is no service,
 * so a cache bound to it waits instead of writing back to nothing. A bad configuration (missing
 * name, malformed URI) fails activation with a message naming the attribute.
 */
@Component(configurationPid = NbdBackingComponent.PID,
        configurationPolicy = ConfigurationPolicy.REQUIRE, service = {}, immediate = true)
@Designate(ocd = NbdBackingComponent.Config.class, factory = true)
public final class NbdBackingComponent {

    /** Factory PID of NBD backing device configurations. */
    public static final String PID = "pcache.backing.nbd";
    /** Value of {@link BackingDevice#DRIVER} for this driver. */
    public static final String DRIVER = "nbd";
    /** Service property: whether flush() makes data durable on this server. */
    public static final String DURABLE_FLUSH = "pcache.backing.durable_flush";

    /**
     * Configuration of one NBD backing device. Attribute names with underscores are spelled
     * with double underscores here, which DS maps to a single underscore, so the configuration
     * keys are literally {@code connect_timeout_ms}, {@code io_timeout_ms}, ...
     */
    @ObjectClassDefinition(name = "pcache NBD backing device",
            description = "A backing device on a remote NBD export")
    public @interface Config {
        @AttributeDefinition(name = "Name",
                description = "Name of the backing device; published as pcache.backing.name")
        String name();

        @AttributeDefinition(name = "URI",
                description = "nbd://host[:port]/[export] or nbd+unix:///[export]?socket=PATH")
        String uri();

        @AttributeDefinition(name = "Identity", required = false,
                description = "Label of the export's content recorded by caches; empty derives "
                        + "it from the URI (nbd:<normalised uri>)")
        String identity() default "";

        @AttributeDefinition(name = "Connect timeout (ms)",
                description = "Bound on connecting plus the NBD handshake, per attempt")
        long connect__timeout__ms() default NbdSettings.DEFAULT_CONNECT_TIMEOUT_MS;

        @AttributeDefinition(name = "I/O timeout (ms)",
                description = "Bound on one request, including waiting for a reconnect; 0 waits "
                        + "forever")
        long io__timeout__ms() default NbdSettings.DEFAULT_IO_TIMEOUT_MS;

        @AttributeDefinition(name = "Initial reconnect back-off (ms)")
        long reconnect__initial__backoff__ms() default NbdSettings.DEFAULT_RECONNECT_INITIAL_BACKOFF_MS;

        @AttributeDefinition(name = "Maximum reconnect back-off (ms)")
        long reconnect__max__backoff__ms() default NbdSettings.DEFAULT_RECONNECT_MAX_BACKOFF_MS;
    }

    private final BundleContext context;
    private final NbdSettings settings;
    private final ConnectLoop connectLoop;
    // guarded by this
    private ServiceRegistration<BackingDevice> registration;
    private boolean deactivated;

    /**
     * Validates the configuration and starts connecting in the background.
     *
     * @throws IllegalArgumentException naming the bad attribute (activation fails)
     */
    @Activate
    public NbdBackingComponent(BundleContext context, Config config) {
        this.context = context;
        this.settings = settings(config);
        this.connectLoop = new ConnectLoop(settings, this::publish);
        connectLoop.start();
    }

    /** Validated settings from a configuration. */
    static NbdSettings settings(Config config) {
        return NbdSettings.of(config.name(), config.uri(), config.identity(),
                config.connect__timeout__ms(), config.io__timeout__ms(),
                config.reconnect__initial__backoff__ms(), config.reconnect__max__backoff__ms());
    }

    /** Service properties of a connected device. */
    static Dictionary<String, Object> serviceProperties(NbdBackingDevice device) {
        Dictionary<String, Object> properties = new Hashtable<>();
        properties.put(BackingDevice.NAME, device.name());
        properties.put(BackingDevice.DRIVER, DRIVER);
        properties.put(DURABLE_FLUSH, device.durableFlush());
        return properties;
    }

    private synchronized void publish(NbdBackingDevice device) {
        if (deactivated) {
            return;
        }
        registration = context.registerService(BackingDevice.class, device,
                serviceProperties(device));
    }

    @Deactivate
    void deactivate() {
        synchronized (this) {
            deactivated = true;
            if (registration != null) {
                try {
                    registration.unregister();
                } catch (IllegalStateException alreadyGone) {
                    // the framework is stopping our bundle and unregistered it already
                }
                registration = null;
            }
        }
        connectLoop.close();
    }
}
