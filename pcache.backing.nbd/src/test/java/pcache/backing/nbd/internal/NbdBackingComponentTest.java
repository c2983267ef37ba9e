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
        NbdBackingComponent component = new NbdBackingComponent(config(values), factory(), null);
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
                () -> new NbdBackingComponent(config(values), factory(), null));
        assertTrue(e.getMessage().contains("remote2") && e.getMessage().contains("socket=PATH"),
                e.getMessage());

        values.put("uri", "nbd://h/x");
        values.put("io__timeout__ms", -1L);
        e = assertThrows(IllegalArgumentException.class,
                () -> new NbdBackingComponent(config(values), factory(), null));
        assertTrue(e.getMessage().contains("io_timeout_ms"), e.getMessage());

        values.remove("name");
        e = assertThrows(IllegalArgumentException.class,
                () -> new NbdBackingComponent(config(values), factory(), null));
        assertTrue(e.getMessage().contains("name"), e.getMessage());
        assertEquals(0, registrations.size());
    }

    @Test
    void aServiceInstanceNeedsTheDevice() {
        assertThrows(IllegalArgumentException.class, () -> new NbdBackingService(Map.of()));
    }
}
