package pcache.backing.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static pcache.backing.nbd.internal.NbdProtocolCornerTest.waitUntil;

import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;

import pcache.api.BackingState;
import pcache.api.spi.BackingDevice;

/** The DS shell, without a framework: a recording BundleContext and a proxied configuration. */
class NbdBackingComponentTest {

    @TempDir
    Path dir;

    /** What the component registered, and whether it was unregistered again. */
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

    private BundleContext context() {
        return (BundleContext) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {BundleContext.class}, (proxy, method, args) -> {
                    if (!method.getName().equals("registerService")) {
                        throw new UnsupportedOperationException(method.getName());
                    }
                    Registration r = new Registration(args[1], (Dictionary<String, ?>) args[2]);
                    registrations.add(r);
                    return Proxy.newProxyInstance(getClass().getClassLoader(),
                            new Class<?>[] {ServiceRegistration.class}, (p, m, a) -> {
                                if (m.getName().equals("unregister")) {
                                    r.unregistered = true;
                                    return null;
                                }
                                throw new UnsupportedOperationException(m.getName());
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
        NbdBackingComponent component = new NbdBackingComponent(context(), config(values));
        try {
            Thread.sleep(200);
            assertEquals(0, registrations.size(), "nothing to publish without a server");
            try (Nbdkit server = Nbdkit.unix(dir, "memory", "2M")) {
                waitUntil(() -> registrations.size() == 1, "the device is registered");
                Registration r = registrations.get(0);
                assertEquals("remote1", r.properties.get(BackingDevice.NAME));
                assertEquals("nbd", r.properties.get(BackingDevice.DRIVER));
                assertEquals(Boolean.TRUE, r.properties.get(NbdBackingComponent.DURABLE_FLUSH));
                BackingDevice device = (BackingDevice) r.service;
                assertEquals(2 << 20, device.sizeBytes());
                assertEquals(BackingState.ONLINE, device.state());
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
                () -> new NbdBackingComponent(context(), config(values)));
        assertTrue(e.getMessage().contains("remote2") && e.getMessage().contains("socket=PATH"),
                e.getMessage());

        values.put("uri", "nbd://h/x");
        values.put("io__timeout__ms", -1L);
        e = assertThrows(IllegalArgumentException.class,
                () -> new NbdBackingComponent(context(), config(values)));
        assertTrue(e.getMessage().contains("io_timeout_ms"), e.getMessage());

        values.remove("name");
        e = assertThrows(IllegalArgumentException.class,
                () -> new NbdBackingComponent(context(), config(values)));
        assertTrue(e.getMessage().contains("name"), e.getMessage());
        assertEquals(0, registrations.size());
    }
}
