package pcache.backing.nbd.internal;

import java.lang.System.Logger.Level;
import java.util.EnumMap;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;

import org.osgi.service.component.ComponentConstants;
import org.osgi.service.component.ComponentFactory;
import org.osgi.service.component.ComponentInstance;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

import pcache.api.config.TypedProperties;
import pcache.api.spi.BackingDevice;
import pcache.api.tls.TlsConfigurationException;
import pcache.api.tls.TlsEndpoint;
import pcache.api.tls.TlsProvider;
import pcache.backing.nbd.internal.NbdTlsOptions.Key;
import pcache.io.log.Log;

/**
 * One NBD backing device per factory configuration of {@value #PID}.
 *
 * <p>The device is registered as a {@link BackingDevice} service (properties
 * {@code pcache.backing.name=<name>}, {@code pcache.backing.driver=nbd}) only once the first
 * connection succeeded, because its size and identity come from the server. Until then the
 * component keeps trying in the background (see {@link ConnectLoop}) and there is no service,
 * so a cache bound to it waits instead of writing back to nothing. A bad configuration (missing
 * name, malformed URI) fails activation with a message naming the attribute. Deactivation
 * withdraws the service, then disconnects.
 *
 * <p>Why a component factory: the service must appear only once a connection succeeded, which
 * happens in the background after activation, and its {@value BackingDevice#NAME} comes from
 * the configuration's {@code name} key, which DS would publish only under its own name. So this
 * configured component registers no service itself; when {@link ConnectLoop} hands over the
 * connected device, it creates an instance of the factory component {@link NbdBackingService}
 * through DS's {@code ComponentFactory}, and DS registers that instance's service; deactivation
 * disposes the instance (DS withdraws the service). A component whose activation is gated by a
 * reference would need some other service to appear on connect, which only moves the hand
 * registration elsewhere. The service properties are {@value BackingDevice#NAME},
 * {@value BackingDevice#DRIVER} and {@value #DURABLE_FLUSH}, plus the {@code component.name} and
 * {@code component.id} DS gives the factory component's instance.
 *
 * <p>TLS ({@code nbds://} URIs): the credentials are loaded once, at activation, through the
 * {@link TlsProvider} service, and serve every connection and reconnect of the device; a file
 * that is missing or malformed fails activation with the provider's message, which names it.
 * The provider is an optional, greedy reference, so that clear-text devices work without a TLS
 * bundle: a TLS device activated without one logs an error and waits, and DS activates it again
 * when a provider appears.
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

        @AttributeDefinition(name = "TLS certificates", required = false,
                description = "nbds:// with X.509 certificates: absolute path of a directory with "
                        + "ca-cert.pem, which must have signed the server's certificate, and "
                        + "optionally client-cert.pem and client-key.pem; the same as the URI "
                        + "parameter tls-certificates")
        String tls__certificates() default "";

        @AttributeDefinition(name = "TLS PSK file", required = false,
                description = "nbds:// with pre-shared keys: absolute path of a file of "
                        + "identity:hexkey lines (psktool's format); the same as the URI "
                        + "parameter tls-psk-file")
        String tls__psk__file() default "";

        @AttributeDefinition(name = "TLS user name", required = false,
                description = "The PSK identity to present; empty takes the file's first; the "
                        + "same as the URI's user part (nbds://alice@host/...) or tls-username")
        String tls__username() default "";

        @AttributeDefinition(name = "Verify the TLS server", required = false,
                description = "With certificates: verify the server's certificate against "
                        + "ca-cert.pem and the host name; false only where the network is "
                        + "trusted; the same as the URI parameter tls-verify-peer")
        boolean tls__verify__peer() default true;

        @AttributeDefinition(name = "TLS host name", required = false,
                description = "The name the server's certificate must carry, when it is not the "
                        + "URI's host (or over a unix socket); the same as tls-hostname")
        String tls__hostname() default "";
    }

    private static final System.Logger LOG = Log.of(NbdBackingComponent.class);

    private final ComponentFactory<NbdBackingService> services;
    private final NbdSettings settings;
    /** Null while a TLS device waits for a {@link TlsProvider}. */
    private final ConnectLoop connectLoop;
    // guarded by this
    private ComponentInstance<NbdBackingService> service;
    private boolean deactivated;

    /**
     * Validates the configuration, loads the TLS credentials if the URI asks for TLS, and starts
     * connecting in the background.
     *
     * @param services creates the registered {@link NbdBackingService} of a connected device
     * @param tlsProvider loads TLS credentials; null if no provider is registered
     * @throws IllegalArgumentException naming the bad attribute or credentials file (activation
     *         fails)
     */
    @Activate
    public NbdBackingComponent(Config config, Map<String, Object> properties,
            @Reference(target = "(" + ComponentConstants.COMPONENT_FACTORY + "="
                    + NbdBackingService.FACTORY + ")") ComponentFactory<NbdBackingService> services,
            @Reference(cardinality = ReferenceCardinality.OPTIONAL,
                    policyOption = ReferencePolicyOption.GREEDY) TlsProvider tlsProvider) {
        this.services = services;
        // a string value SCR would misread (tls_verify_peer = no as false) is refused, naming its key
        List<String> typeProblems = TypedProperties.problems(Config.class, properties);
        if (!typeProblems.isEmpty()) {
            throw new IllegalArgumentException(config.name() + ": " + String.join("; ", typeProblems));
        }
        this.settings = settings(config);
        if (settings.tls() != null && tlsProvider == null) {
            LOG.log(Level.ERROR, settings.name() + ": " + settings.uri().location() + " needs TLS, "
                    + "and no TLS provider is registered: install the bundle pcache.tls; the "
                    + "device connects once it is there");
            this.connectLoop = null;
            return;
        }
        TlsEndpoint tls = settings.tls() == null ? null : credentials(settings, tlsProvider);
        this.connectLoop = new ConnectLoop(settings, tls, this::publish);
        connectLoop.start();
    }

    /** Validated settings from a configuration. */
    static NbdSettings settings(Config config) {
        Map<Key, String> tls = new EnumMap<>(Key.class);
        tls.put(Key.CERTIFICATES, config.tls__certificates());
        tls.put(Key.PSK_FILE, config.tls__psk__file());
        tls.put(Key.USERNAME, config.tls__username());
        // true is the default: only a false counts as given
        tls.put(Key.VERIFY_PEER, config.tls__verify__peer() ? null : "false");
        tls.put(Key.HOSTNAME, config.tls__hostname());
        return NbdSettings.of(config.name(), config.uri(), config.identity(),
                config.connect__timeout__ms(), config.io__timeout__ms(),
                config.reconnect__initial__backoff__ms(), config.reconnect__max__backoff__ms(),
                tls);
    }

    /**
     * Loads the client's TLS credentials once for all connections of the device.
     *
     * @throws IllegalArgumentException with the provider's message, which names the file and
     *         what to do
     */
    static TlsEndpoint credentials(NbdSettings settings, TlsProvider provider) {
        try {
            TlsEndpoint endpoint = provider.client(settings.tls().settings(settings.uri()));
            LOG.log(Level.INFO, () -> settings.name() + ": " + settings.uri().location()
                    + " with " + endpoint.describe());
            return endpoint;
        } catch (TlsConfigurationException e) {
            throw new IllegalArgumentException(settings.name() + ": cannot load the TLS "
                    + "credentials for " + settings.uri().location() + ": " + e.getMessage(), e);
        }
    }

    /** Service properties of a connected device. */
    static Hashtable<String, Object> serviceProperties(NbdBackingDevice device) {
        Hashtable<String, Object> properties = new Hashtable<>();
        properties.put(BackingDevice.NAME, device.name());
        properties.put(BackingDevice.DRIVER, DRIVER);
        properties.put(DURABLE_FLUSH, device.durableFlush());
        return properties;
    }

    private synchronized void publish(NbdBackingDevice device) {
        if (deactivated) {
            return;
        }
        Hashtable<String, Object> properties = serviceProperties(device);
        properties.put(NbdBackingService.DEVICE, device);
        try {
            service = services.newInstance(properties);
        } catch (RuntimeException e) {
            // the factory went away (its bundle is stopping): deactivation follows and disconnects
            LOG.log(Level.WARNING, settings.name() + ": the connected NBD backing device could "
                    + "not be registered: " + e);
        }
    }

    @Deactivate
    void deactivate() {
        synchronized (this) {
            deactivated = true;
            if (service != null) {
                service.dispose(); // does nothing if DS disposed it already (bundle stopping)
                service = null;
            }
        }
        if (connectLoop != null) {
            connectLoop.close();
        }
    }
}
