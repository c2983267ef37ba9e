package pcache.backing.file.internal;

import java.io.IOException;
import java.util.Hashtable;
import java.util.Map;

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
 * One file backing device per factory configuration of {@value #PID}.
 *
 * <p>The component opens the device when activated and registers it as a {@link BackingDevice}
 * service itself, because the service property {@value BackingDevice#NAME} takes its value from
 * the {@code name} key of the configuration, and DS can only publish configuration keys under
 * their own names. The registration carries every public component property (as DS would), plus
 * {@value BackingDevice#NAME} and {@value BackingDevice#DRIVER}{@code =file}. It is immediate so
 * that a bad configuration fails at once, with a message in the log naming the key.
 */
@Component(configurationPid = FileBackingComponent.PID,
        configurationPolicy = ConfigurationPolicy.REQUIRE,
        immediate = true,
        property = BackingDevice.DRIVER + "=" + FileBackingComponent.DRIVER)
@Designate(ocd = FileBackingComponent.Config.class, factory = true)
public class FileBackingComponent {

    /** The factory PID of file backing devices. */
    public static final String PID = "pcache.backing.file";

    /** The value of {@link BackingDevice#DRIVER}. */
    public static final String DRIVER = "file";

    private static final System.Logger LOG = System.getLogger(FileBackingComponent.class.getName());

    /**
     * Configuration of one file backing device. Method names map to keys by the DS rules
     * ({@code __} becomes {@code _}), so the keys are {@code name}, {@code path},
     * {@code size_bytes}, {@code create}, {@code read_only}, {@code identity}.
     */
    @ObjectClassDefinition(name = "pcache file backing device",
            description = "A backing device on a regular file or a block device.")
    public @interface Config {

        @AttributeDefinition(name = "Name",
                description = "Unique name of this backing device; published as pcache.backing.name "
                        + "and used by caches to select it.")
        String name();

        @AttributeDefinition(name = "Path", description = "A regular file or a block device.")
        String path();

        @AttributeDefinition(name = "Size in bytes",
                description = "Expected size, a multiple of 512; 0 uses the size of the existing file. "
                        + "Required with create=true.")
        long size__bytes() default 0;

        @AttributeDefinition(name = "Create",
                description = "Create a missing file with size_bytes (sparse).")
        boolean create() default false;

        @AttributeDefinition(name = "Read-only",
                description = "Open for reading only: writes, trims and write-zeroes fail, flush does nothing.")
        boolean read__only() default false;

        @AttributeDefinition(name = "Identity", required = false,
                description = "Label caches record to recognise this device's data; empty derives "
                        + "file:<real path>. Set the same label where the same data is reachable "
                        + "another way (e.g. over NBD).")
        String identity() default "";
    }

    private FileBackingDevice device;
    private ServiceRegistration<BackingDevice> registration;

    @Activate
    void activate(Config config, BundleContext context, Map<String, Object> properties)
            throws IOException {
        device = FileBackingDevice.open(settings(config));
        registration = context.registerService(BackingDevice.class, new FileBackingService(device),
                serviceProperties(config.name(), properties));
        LOG.log(System.Logger.Level.INFO, () -> "backing device '" + config.name() + "': "
                + device.description() + ", " + device.sizeBytes() + " bytes");
    }

    @Deactivate
    void deactivate() throws IOException {
        try {
            if (registration != null) {
                registration.unregister();
            }
        } finally {
            registration = null;
            if (device != null) {
                device.close();
            }
        }
    }

    static FileBackingSettings settings(Config config) {
        return new FileBackingSettings(config.name(), config.path(), config.size__bytes(),
                config.create(), config.read__only(), config.identity());
    }

    /** The public component properties (as DS would publish them) plus name and driver. */
    static Hashtable<String, Object> serviceProperties(String name, Map<String, Object> properties) {
        Hashtable<String, Object> result = new Hashtable<>();
        properties.forEach((key, value) -> {
            if (!key.startsWith(".") && value != null) {
                result.put(key, value);
            }
        });
        result.put(BackingDevice.NAME, name);
        result.put(BackingDevice.DRIVER, DRIVER);
        return result;
    }
}
