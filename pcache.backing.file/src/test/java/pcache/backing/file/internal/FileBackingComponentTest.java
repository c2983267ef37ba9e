package pcache.backing.file.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import javax.xml.parsers.DocumentBuilderFactory;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import pcache.api.DeviceClosedException;
import pcache.api.spi.BackingDevice;

/**
 * The DS shell: the descriptors bnd generated (parsed from target/classes, the Oak descriptor-test
 * idea) and activation against a recording BundleContext.
 */
class FileBackingComponentTest {

    private static final String COMPONENT_XML =
            "OSGI-INF/pcache.backing.file.internal.FileBackingComponent.xml";
    private static final String METATYPE_XML =
            "OSGI-INF/metatype/pcache.backing.file.internal.FileBackingComponent$Config.xml";

    @TempDir
    Path dir;

    @Test
    void componentDescriptorRequiresAFactoryConfigurationOfThePid() throws Exception {
        Element component = parse(COMPONENT_XML).getDocumentElement();
        assertEquals("pcache.backing.file", component.getAttribute("configuration-pid"));
        assertEquals("require", component.getAttribute("configuration-policy"));
        assertEquals("true", component.getAttribute("immediate"));
        assertEquals("activate", component.getAttribute("activate"));
        assertEquals("deactivate", component.getAttribute("deactivate"));
        Map<String, String> properties = properties(component);
        assertEquals("file", properties.get("pcache.backing.driver"));
        assertEquals("0", properties.get("size_bytes"));
        assertEquals("false", properties.get("create"));
        assertEquals("false", properties.get("read_only"));
        assertEquals("", properties.get("identity"));
        assertEquals(0, component.getElementsByTagName("service").getLength(),
                "registered by the component itself, with pcache.backing.name from the config");
    }

    @Test
    void metatypeDesignatesAFactoryPidWithTheDocumentedKeys() throws Exception {
        Document metatype = parse(METATYPE_XML);
        Element designate = (Element) metatype.getElementsByTagName("Designate").item(0);
        assertEquals("pcache.backing.file", designate.getAttribute("factoryPid"));
        assertEquals("", designate.getAttribute("pid"));
        Map<String, Element> attributes = new HashMap<>();
        NodeList ads = metatype.getElementsByTagName("AD");
        for (int i = 0; i < ads.getLength(); i++) {
            Element ad = (Element) ads.item(i);
            attributes.put(ad.getAttribute("id"), ad);
        }
        assertEquals(java.util.Set.of("name", "path", "size_bytes", "create", "read_only", "identity"),
                attributes.keySet());
        assertFalse(attributes.get("name").hasAttribute("default"), "name is required");
        assertFalse(attributes.get("path").hasAttribute("default"), "path is required");
        assertEquals("Long", attributes.get("size_bytes").getAttribute("type"));
        assertEquals("0", attributes.get("size_bytes").getAttribute("default"));
        assertEquals("Boolean", attributes.get("read_only").getAttribute("type"));
        assertEquals("false", attributes.get("create").getAttribute("default"));
    }

    @Test
    void activationRegistersTheDeviceWithNameAndDriverAndDeactivationClosesIt() throws Exception {
        Path path = Files.write(dir.resolve("svc.img"), new byte[8192]);
        RecordingContext context = new RecordingContext();
        Map<String, Object> componentProperties = new HashMap<>();
        componentProperties.put("name", "disk1");
        componentProperties.put("path", path.toString());
        componentProperties.put("service.pid", "pcache.backing.file~disk1");
        componentProperties.put(".secret", "hidden");
        FileBackingComponent component = new FileBackingComponent();
        component.activate(config(Map.of("name", "disk1", "path", path.toString())),
                context.proxy(), componentProperties);

        assertEquals(BackingDevice.class.getName(), context.registeredClass.get());
        Dictionary<String, ?> properties = context.properties.get();
        assertEquals("disk1", properties.get(BackingDevice.NAME));
        assertEquals("file", properties.get(BackingDevice.DRIVER));
        assertEquals(path.toString(), properties.get("path"));
        assertEquals("pcache.backing.file~disk1", properties.get("service.pid"));
        assertNull(properties.get(".secret"), "private properties are not published");

        BackingDevice service = (BackingDevice) context.service.get();
        assertEquals(8192, service.sizeBytes());
        service.write(0, ByteBuffer.allocate(512), true);
        assertFalse(service instanceof AutoCloseable, "consumers cannot close the device");

        component.deactivate();
        assertTrue(context.unregistered.get());
        assertThrows(DeviceClosedException.class, () -> service.read(0, ByteBuffer.allocate(512)));
    }

    @Test
    void activationFailsWithTheConfigurationKeyInTheMessage() {
        RecordingContext context = new RecordingContext();
        Path missing = dir.resolve("missing.img");
        BackingConfigurationException e = assertThrows(BackingConfigurationException.class,
                () -> new FileBackingComponent().activate(
                        config(Map.of("name", "disk2", "path", missing.toString())),
                        context.proxy(), Map.of()));
        assertTrue(e.getMessage().contains("path=" + missing), e.getMessage());
        assertNull(context.service.get(), "nothing registered");
    }

    @Test
    void configurationKeysMapToSettings() {
        FileBackingSettings settings = FileBackingComponent.settings(config(Map.of(
                "name", "n", "path", "/p", "size_bytes", 1024L, "create", true, "read_only", true,
                "identity", "label")));
        assertEquals(new FileBackingSettings("n", "/p", 1024, true, true, "label"), settings);
        FileBackingSettings defaults = FileBackingComponent.settings(config(Map.of("name", "n", "path", "/p")));
        assertEquals(FileBackingSettings.of("n", "/p"), defaults);
    }

    /**
     * A Config as SCR builds it: each method reads the key its name maps to ({@code __} → {@code _}),
     * else the annotation default.
     */
    private static FileBackingComponent.Config config(Map<String, Object> values) {
        return (FileBackingComponent.Config) Proxy.newProxyInstance(
                FileBackingComponent.Config.class.getClassLoader(),
                new Class<?>[] {FileBackingComponent.Config.class},
                (proxy, method, args) -> {
                    String key = method.getName().replace("__", "_");
                    if (values.containsKey(key)) {
                        return values.get(key);
                    }
                    return method.getDefaultValue();
                });
    }

    private static Document parse(String resource) throws Exception {
        try (InputStream in = FileBackingComponent.class.getClassLoader().getResourceAsStream(resource)) {
            assertNotNull(in, resource + " not generated (bnd-process writes it to target/classes)");
            return DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(in);
        }
    }

    private static Map<String, String> properties(Element component) {
        Map<String, String> result = new HashMap<>();
        NodeList list = component.getElementsByTagName("property");
        for (int i = 0; i < list.getLength(); i++) {
            Element property = (Element) list.item(i);
            result.put(property.getAttribute("name"), property.getAttribute("value"));
        }
        return result;
    }

    /** A BundleContext that records the one registration the component makes. */
    private static final class RecordingContext {
        final AtomicReference<String> registeredClass = new AtomicReference<>();
        final AtomicReference<Object> service = new AtomicReference<>();
        final AtomicReference<Dictionary<String, ?>> properties = new AtomicReference<>();
        final AtomicBoolean unregistered = new AtomicBoolean();

        @SuppressWarnings("unchecked")
        BundleContext proxy() {
            ServiceRegistration<?> registration = (ServiceRegistration<?>) Proxy.newProxyInstance(
                    getClass().getClassLoader(), new Class<?>[] {ServiceRegistration.class},
                    (p, method, args) -> {
                        if (method.getName().equals("unregister")) {
                            unregistered.set(true);
                            return null;
                        }
                        throw new UnsupportedOperationException(method.getName());
                    });
            return (BundleContext) Proxy.newProxyInstance(getClass().getClassLoader(),
                    new Class<?>[] {BundleContext.class}, (p, method, args) -> {
                        if (isRegisterService(method)) {
                            registeredClass.set(((Class<?>) args[0]).getName());
                            service.set(args[1]);
                            properties.set((Dictionary<String, ?>) args[2]);
                            return registration;
                        }
                        throw new UnsupportedOperationException(method.getName());
                    });
        }

        private static boolean isRegisterService(Method method) {
            return method.getName().equals("registerService")
                    && method.getParameterTypes()[0] == Class.class;
        }
    }

    @Test
    void deactivateWithoutActivationIsHarmless() throws IOException {
        new FileBackingComponent().deactivate();
    }
}
