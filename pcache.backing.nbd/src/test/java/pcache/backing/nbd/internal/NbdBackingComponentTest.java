package pcache.backing.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static pcache.backing.nbd.internal.NbdProtocolCornerTest.waitUntil;

import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.service.component.ComponentFactory;
import org.osgi.service.component.ComponentInstance;

import pcache.api.BackingState;
import pcache.api.spi.BackingDevice;
import pcache.api.tls.TlsConfigurationException;
import pcache.api.tls.TlsEndpoint;
import pcache.api.tls.TlsProvider;
import pcache.api.tls.TlsSettings;
import pcache.tls.internal.DefaultTlsProvider;

/**
 * The DS shell, without a framework: a recording ComponentFactory that creates the service
 * component as SCR would, and a proxied configuration.
 */
class NbdBackingComponentTest {

    @TempDir
    Path dir;

    /** What the component had registered, and whether it was disposed again. */
    static final class Registration {
        final Object service;
        final Dictionary<String, ?> properties;
        volatile boolean unregistered;

        Registration(Object service, Dictionary<String, ?> properties) {
            this.service = service;
            this.properties = properties;
        }
    }

    private final List<Registration> registrations = new CopyOnWriteArrayList<>();

    /** Creates instances as SCR would: the service component gets every property. */
    @SuppressWarnings("unchecked")
    private ComponentFactory<NbdBackingService> factory() {
        return (ComponentFactory<NbdBackingService>) Proxy.newProxyInstance(
                getClass().getClassLoader(), new Class<?>[] {ComponentFactory.class},
                (proxy, method, args) -> {
                    if (!method.getName().equals("newInstance")) {
                        throw new UnsupportedOperationException(method.getName());
                    }
                    Dictionary<String, ?> given = (Dictionary<String, ?>) args[0];
                    Map<String, Object> all = new HashMap<>();
                    for (String key : Collections.list(given.keys())) {
                        all.put(key, given.get(key));
                    }
                    Registration r = new Registration(new NbdBackingService(all), given);
                    registrations.add(r);
                    return Proxy.newProxyInstance(getClass().getClassLoader(),
                            new Class<?>[] {ComponentInstance.class}, (p, m, a) -> {
                                switch (m.getName()) {
                                    case "dispose":
                                        r.unregistered = true;
                                        return null;
                                    case "getInstance":
                                        return r.unregistered ? null : r.service;
                                    default:
                                        throw new UnsupportedOperationException(m.getName());
                                }
                            });
                });
    }

    static NbdBackingComponent.Config config(Map<String, Object> values) {
        return (NbdBackingComponent.Config) Proxy.newProxyInstance(
                NbdBackingComponentTest.class.getClassLoader(),
                new Class<?>[] {NbdBackingComponent.Config.class}, (proxy, method, args) -> {
                    if (values.containsKey(method.getName())) {
                        return values.get(method.getName());
                    }
                    return method.getDefaultValue();
                });
    }

    @Test
    void deviceIsPublishedOnceTheServerAnswers() throws Exception {
        Path socket = dir.resolve("nbd.sock");
        Map<String, Object> values = new HashMap<>();
        values.put("name", "remote1");
        values.put("uri", "nbd+unix:///?socket=" + socket);
        values.put("reconnect__initial__backoff__ms", 20L);
        values.put("reconnect__max__backoff__ms", 50L);
        NbdBackingComponent component = new NbdBackingComponent(config(values), Map.of(), factory(), null);
        try {
            Thread.sleep(200);
            assertEquals(0, registrations.size(), "nothing to publish without a server");
            try (Nbdkit server = Nbdkit.unix(dir, "memory", "2M")) {
                waitUntil(() -> registrations.size() == 1, "the device is registered");
                Registration r = registrations.get(0);
                assertEquals("remote1", r.properties.get(BackingDevice.NAME));
                assertEquals("nbd", r.properties.get(BackingDevice.DRIVER));
                assertEquals(Boolean.TRUE, r.properties.get(NbdBackingComponent.DURABLE_FLUSH));
                assertTrue(r.properties.get(NbdBackingService.DEVICE) instanceof NbdBackingDevice,
                        "the connected device, in a private property DS does not publish");
                assertTrue(NbdBackingService.DEVICE.startsWith("."));
                assertEquals(4, r.properties.size(), "nothing else is handed on");
                BackingDevice device = (BackingDevice) r.service;
                assertEquals(2 << 20, device.sizeBytes());
                assertEquals(BackingState.ONLINE, device.state());
                assertTrue(!(device instanceof AutoCloseable), "consumers cannot close the device");
                component.deactivate();
                assertTrue(r.unregistered);
                assertEquals(BackingState.UNAVAILABLE, device.state(), "closed on deactivation");
            }
        } finally {
            component.deactivate();
        }
    }

    @Test
    void badConfigurationFailsActivationWithTheReason() {
        Map<String, Object> values = new HashMap<>();
        values.put("name", "remote2");
        values.put("uri", "nbd+unix:///disk");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new NbdBackingComponent(config(values), Map.of(), factory(), null));
        assertTrue(e.getMessage().contains("remote2") && e.getMessage().contains("socket=PATH"),
                e.getMessage());

        values.put("uri", "nbd://h/x");
        values.put("io__timeout__ms", -1L);
        e = assertThrows(IllegalArgumentException.class,
                () -> new NbdBackingComponent(config(values), Map.of(), factory(), null));
        assertTrue(e.getMessage().contains("io_timeout_ms"), e.getMessage());

        values.remove("name");
        e = assertThrows(IllegalArgumentException.class,
                () -> new NbdBackingComponent(config(values), Map.of(), factory(), null));
        assertTrue(e.getMessage().contains("name"), e.getMessage());

        // string values (Karaf's etc/*.cfg) that SCR would read as false, or fail on without naming the key
        values.put("name", "remote3");
        values.put("io__timeout__ms", 1000L);
        e = assertThrows(IllegalArgumentException.class, () -> new NbdBackingComponent(config(values),
                Map.of("tls_verify_peer", "no", "connect_timeout_ms", "30s"), factory(), null));
        assertTrue(e.getMessage().startsWith("remote3: ")
                && e.getMessage().contains("connect_timeout_ms = '30s': not a whole number")
                && e.getMessage().contains("tls_verify_peer = 'no': not true or false"), e.getMessage());
        assertEquals(0, registrations.size());
    }

    @Test
    void tlsKeysAndUriParametersAreOneSetOfSettings() {
        Map<String, Object> values = new HashMap<>();
        values.put("name", "remote3");
        values.put("uri", "nbds://alice@10.0.0.5/disk");
        values.put("tls__psk__file", "/etc/pcache/keys.psk");
        NbdSettings settings = NbdBackingComponent.settings(config(values));
        assertEquals(new NbdTlsOptions(null, Path.of("/etc/pcache/keys.psk"), "alice", true, null),
                settings.tls());

        values.put("uri", "nbds://10.0.0.5/disk?tls-certificates=/etc/pki/nbd");
        values.remove("tls__psk__file");
        values.put("tls__verify__peer", false);
        values.put("tls__hostname", "nbd.example");
        assertEquals(new NbdTlsOptions(Path.of("/etc/pki/nbd"), null, null, false, "nbd.example"),
                NbdBackingComponent.settings(config(values)).tls());

        values.put("uri", "nbd://10.0.0.5/disk");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new NbdBackingComponent(config(values), Map.of(), factory(), null));
        assertTrue(e.getMessage().startsWith("remote3: nbd://10.0.0.5:10809/disk: ")
                && e.getMessage().contains("but the URI is clear text: write nbds://"),
                e.getMessage());
    }

    @Test
    void tlsCredentialsAreLoadedOnceAndTheirErrorsFailActivation() {
        Map<String, Object> values = new HashMap<>();
        values.put("name", "remote4");
        values.put("uri", "nbds+unix:///?socket=" + dir.resolve("nbd.sock")
                + "&tls-psk-file=/etc/pcache/missing.psk");
        List<TlsSettings> loaded = new CopyOnWriteArrayList<>();
        TlsProvider failing = new TlsProvider() {
            @Override
            public TlsEndpoint server(TlsSettings settings) {
                throw new AssertionError("a backing device is a client");
            }

            @Override
            public TlsEndpoint client(TlsSettings settings) throws TlsConfigurationException {
                loaded.add(settings);
                throw new TlsConfigurationException(settings.pskFile() + " does not exist; "
                        + "make it with: psktool -u USER -p " + settings.pskFile());
            }
        };
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new NbdBackingComponent(config(values), Map.of(), factory(), failing));
        assertEquals("remote4: cannot load the TLS credentials for nbds+unix:///?socket="
                + dir.resolve("nbd.sock") + ": /etc/pcache/missing.psk does not exist; make it "
                + "with: psktool -u USER -p /etc/pcache/missing.psk", e.getMessage());
        assertEquals(List.of(TlsSettings.psk(Path.of("/etc/pcache/missing.psk"), null)), loaded);
    }

    @Test
    void aTlsDeviceWithoutATlsProviderWaitsForOne() throws Exception {
        Map<String, Object> values = new HashMap<>();
        values.put("name", "remote5");
        values.put("uri", "nbds+unix:///?socket=" + dir.resolve("nbd.sock")
                + "&tls-psk-file=/etc/pcache/keys.psk");
        NbdBackingComponent component = new NbdBackingComponent(config(values), Map.of(), factory(), null);
        try (Nbdkit server = Nbdkit.unix(dir, "memory", "1M")) {
            Thread.sleep(300);
            assertEquals(0, registrations.size(), "never connects in clear text");
        } finally {
            component.deactivate();
        }
    }

    @Test
    void aTlsDeviceIsPublishedOnceItsTlsHandshakeSucceeded() throws Exception {
        TestCredentials.X509 ca = TestCredentials.x509(dir, "ca");
        Map<String, Object> values = new HashMap<>();
        values.put("name", "remote6");
        values.put("uri", "nbds+unix:///?socket=" + dir.resolve("nbd.sock"));
        values.put("tls__certificates", ca.caOnly().toString());
        values.put("tls__hostname", "localhost");
        values.put("reconnect__initial__backoff__ms", 20L);
        values.put("reconnect__max__backoff__ms", 50L);
        NbdBackingComponent component = new NbdBackingComponent(config(values), Map.of(), factory(),
                new DefaultTlsProvider());
        try (Nbdkit server = Nbdkit.unix(dir, "--tls=require", "--tls-certificates=" + ca.server(),
                "memory", "2M")) {
            waitUntil(() -> registrations.size() == 1, "the device is registered");
            BackingDevice device = (BackingDevice) registrations.get(0).service;
            assertEquals(2 << 20, device.sizeBytes());
            assertTrue(device.description().startsWith("nbds+unix:///?socket="),
                    device.description());
            assertEquals("nbd:nbd+unix:///?socket=" + dir.resolve("nbd.sock"),
                    device.identity().id(), "the identity is spelled without TLS");
            component.deactivate(); // before nbdkit stops: it waits for its clients
            assertEquals(BackingState.UNAVAILABLE, device.state());
        } finally {
            component.deactivate();
        }
    }

    @Test
    void aServiceInstanceNeedsTheDevice() {
        assertThrows(IllegalArgumentException.class, () -> new NbdBackingService(Map.of()));
    }
}
