package pcache.backing.file.internal;

import java.io.IOException;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.osgi.framework.Constants;
import org.osgi.service.component.ComponentConstants;
import org.osgi.service.component.ComponentFactory;
import org.osgi.service.component.ComponentInstance;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

import pcache.api.config.TypedProperties;
import pcache.api.spi.BackingDevice;
import pcache.io.log.Log;

/**
 * One file backing device per factory configuration of {@value #PID}.
 *
 * <p>The component opens the device when activated and only then has it registered as a
 * {@link BackingDevice} service, so the service exists exactly while the device is open; a bad
 * configuration fails activation at once (the component is immediate), with a message in the
 * log naming the key, and nothing is registered.
 *
 * <p>Why a component factory: the service property {@value BackingDevice#NAME} takes its value
 * from the {@code name} key of the configuration, and DS publishes configuration keys only under
 * their own names; and the service must appear only after the device opened, while DS registers
 * a component's service before activating it. So this configured component registers no service
 * itself: once the device is open it creates an instance of the factory component
 * {@link FileBackingService} (through DS's {@code ComponentFactory}), with the service
 * properties it computes, and DS registers that instance's service; deactivation disposes the
 * instance (DS withdraws the service) and then closes the device. A component whose activation
 * is gated by a reference would need some other service to appear when the device opens, which
 * only moves the hand registration elsewhere. The registration carries every public component
 * property of this component (as DS would publish them), plus {@value BackingDevice#NAME} and
 * {@value BackingDevice#DRIVER}{@code =file}; {@code component.name} and {@code component.id}
 * are the factory component's, set by DS. The configuration's {@code service.pid} is not handed
 * on: it names the configuration of this component, not of the service's, and Felix SCR 2.2
 * fails {@code newInstance} (a NullPointerException) when the properties carry a
 * {@code service.pid} and the factory component has no configuration of its own. Nothing reads
 * it from the service; {@code service.factoryPid} is still published.
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

    /** Component properties the service's component does not take over (see the class comment). */
    private static final Set<String> NOT_HANDED_ON = Set.of(ComponentConstants.COMPONENT_NAME,
            ComponentConstants.COMPONENT_ID, Constants.SERVICE_PID);

    private static final System.Logger LOG = Log.of(FileBackingComponent.class);

    /**
     * Configuration of one file backing device. Method names map to keys by the DS rules
     * ({@code __} becomes {@code _}), so the keys are {@code name}, {@code path},
     * {@code size_bytes}, {@code create}, {@code read_only}, {@code identity},
     * {@code direct_writes}.
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

        @AttributeDefinition(name = "Direct writes",
                description = "Write aligned data past the page cache (O_DIRECT) where the file system "
                        + "allows it: write-back copies from the cache device straight to the disk instead "
                        + "of into the page cache and out again at the next flush. Unaligned writes and "
                        + "all reads use the page cache either way.")
        boolean direct__writes() default true;
    }

    /** Creates the registered {@link FileBackingService} of an open device. */
    @Reference(target = "(" + ComponentConstants.COMPONENT_FACTORY + "="
            + FileBackingService.FACTORY + ")")
    ComponentFactory<FileBackingService> services;

    private FileBackingDevice device;
    private ComponentInstance<FileBackingService> service;

    @Activate
    void activate(Config config, Map<String, Object> properties) throws IOException {
        // a string value SCR would misread (read_only = yes as false) is refused, naming its key
        List<String> typeProblems = TypedProperties.problems(Config.class, properties);
        if (!typeProblems.isEmpty()) {
            throw new BackingConfigurationException(PID + " '" + config.name() + "': "
                    + String.join("; ", typeProblems));
        }
        FileBackingDevice opened = FileBackingDevice.open(settings(config));
        Hashtable<String, Object> instanceProperties = serviceProperties(config.name(), properties);
        instanceProperties.put(FileBackingService.DEVICE, opened);
        try {
            service = services.newInstance(instanceProperties);
        } catch (RuntimeException | Error e) { // an Error too: the device and its lock would stay held
            try {
                opened.close();
            } catch (IOException | RuntimeException c) {
                e.addSuppressed(c);
            }
            throw e;
        }
        device = opened;
        LOG.log(System.Logger.Level.INFO, () -> "backing device '" + config.name() + "': "
                + opened.description() + ", " + opened.sizeBytes() + " bytes");
    }

    @Deactivate
    void deactivate() throws IOException {
        try {
            if (service != null) {
                service.dispose();
            }
        } finally {
            service = null;
            if (device != null) {
                device.close();
            }
        }
    }

    static FileBackingSettings settings(Config config) {
        return new FileBackingSettings(config.name(), config.path(), config.size__bytes(),
                config.create(), config.read__only(), config.identity(), config.direct__writes());
    }

    /**
     * The public component properties (as DS would publish them) plus name and driver, without
     * {@code component.name} and {@code component.id}, which DS sets for the service's component,
     * and without {@code service.pid} (see the class comment).
     */
    static Hashtable<String, Object> serviceProperties(String name, Map<String, Object> properties) {
        Hashtable<String, Object> result = new Hashtable<>();
        properties.forEach((key, value) -> {
            if (!key.startsWith(".") && value != null && !NOT_HANDED_ON.contains(key)) {
                result.put(key, value);
            }
        });
        result.put(BackingDevice.NAME, name);
        result.put(BackingDevice.DRIVER, DRIVER);
        return result;
    }
}
