package pcache.backing.file.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
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
import org.osgi.service.component.ComponentException;
import org.osgi.service.component.ComponentFactory;
import org.osgi.service.component.ComponentInstance;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import pcache.api.DeviceClosedException;
import pcache.api.spi.BackingDevice;

/**
 * The DS shell: the descriptors bnd generated (parsed from target/classes, the Oak descriptor-test
 * idea) and activation against a recording ComponentFactory that creates the service component
 * as SCR would.
 */
class FileBackingComponentTest {

    private static final String COMPONENT_XML =
            "OSGI-INF/pcache.backing.file.internal.FileBackingComponent.xml";
    private static final String SERVICE_XML =
            "OSGI-INF/pcache.backing.file.internal.FileBackingService.xml";
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
                "registered through the factory component, with pcache.backing.name from the config");
        NodeList references = component.getElementsByTagName("reference");
        assertEquals(1, references.getLength());
        Element reference = (Element) references.item(0);
        assertEquals(ComponentFactory.class.getName(), reference.getAttribute("interface"));
        assertEquals("(component.factory=pcache.backing.file.device)", reference.getAttribute("target"));
        assertEquals("", reference.getAttribute("policy"), "static: no factory, no device");
        assertEquals("", reference.getAttribute("cardinality"), "mandatory");
    }

    @Test
    void serviceDescriptorIsAFactoryComponentProvidingBackingDevice() throws Exception {
        Element component = parse(SERVICE_XML).getDocumentElement();
        assertEquals(FileBackingService.FACTORY, component.getAttribute("factory"));
        assertEquals("ignore", component.getAttribute("configuration-policy"));
        NodeList provides = component.getElementsByTagName("provide");
        assertEquals(1, provides.getLength());
        assertEquals(BackingDevice.class.getName(), ((Element) provides.item(0)).getAttribute("interface"));
        assertEquals(0, component.getElementsByTagName("reference").getLength());
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
        assertEquals(java.util.Set.of("name", "path", "size_bytes", "create", "read_only", "identity",
                "direct_writes"),
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
        RecordingFactory factory = new RecordingFactory();
        Map<String, Object> componentProperties = new HashMap<>();
        componentProperties.put("name", "disk1");
        componentProperties.put("path", path.toString());
        componentProperties.put("service.pid", "pcache.backing.file~disk1");
        componentProperties.put("service.factoryPid", "pcache.backing.file");
        componentProperties.put("component.name", FileBackingComponent.class.getName());
        componentProperties.put("component.id", 7L);
        componentProperties.put(".secret", "hidden");
        FileBackingComponent component = new FileBackingComponent();
        component.services = factory.proxy();
        component.activate(config(Map.of("name", "disk1", "path", path.toString())),
                componentProperties);

        Dictionary<String, ?> properties = factory.properties.get();
        assertEquals("disk1", properties.get(BackingDevice.NAME));
        assertEquals("file", properties.get(BackingDevice.DRIVER));
        assertEquals(path.toString(), properties.get("path"));
        assertEquals("pcache.backing.file", properties.get("service.factoryPid"));
        assertNull(properties.get("service.pid"), "Felix SCR 2.2's newInstance fails on a service.pid "
                + "when the factory component has no configuration");
        assertNull(properties.get(".secret"), "private properties are not handed on");
        assertNull(properties.get("component.name"), "DS sets the service component's own");
        assertNull(properties.get("component.id"), "DS sets the service component's own");
        assertTrue(properties.get(FileBackingService.DEVICE) instanceof FileBackingDevice,
                "the open device, in a private property DS does not publish");
        assertTrue(FileBackingService.DEVICE.startsWith("."));

        BackingDevice service = factory.service.get();
        assertEquals(8192, service.sizeBytes());
        service.write(0, ByteBuffer.allocate(512), true);
        assertFalse(service instanceof AutoCloseable, "consumers cannot close the device");

        component.deactivate();
        assertTrue(factory.disposed.get());
        assertThrows(DeviceClosedException.class, () -> service.read(0, ByteBuffer.allocate(512)));
    }

    @Test
    void activationFailsWithTheConfigurationKeyInTheMessage() {
        RecordingFactory factory = new RecordingFactory();
        Path missing = dir.resolve("missing.img");
        FileBackingComponent component = new FileBackingComponent();
        component.services = factory.proxy();
        BackingConfigurationException e = assertThrows(BackingConfigurationException.class,
                () -> component.activate(
                        config(Map.of("name", "disk2", "path", missing.toString())), Map.of()));
        assertTrue(e.getMessage().contains("path=" + missing), e.getMessage());
        assertNull(factory.properties.get(), "nothing registered");

        // string values (Karaf's etc/*.cfg): SCR would read read_only = yes as false, a writable disk
        Path image = dir.resolve("typed.img");
        e = assertThrows(BackingConfigurationException.class, () -> component.activate(
                config(Map.of("name", "disk3", "path", image.toString())),
                Map.of("read_only", "yes", "size_bytes", "4G", "create", "true")));
        assertTrue(e.getMessage().contains("'disk3': ") && e.getMessage().contains("read_only = 'yes': not true or false")
                && e.getMessage().contains("size_bytes = '4G': not a whole number")
                && !e.getMessage().contains("create ="), e.getMessage());
        assertTrue(java.nio.file.Files.notExists(image), "nothing created");
        assertNull(factory.properties.get(), "nothing registered");
    }

    @Test
    void theDeviceIsClosedWhenTheServiceCannotBeCreated() throws Exception {
        Path path = Files.write(dir.resolve("refused.img"), new byte[4096]);
        RecordingFactory factory = new RecordingFactory();
        factory.refuse = true;
        FileBackingComponent component = new FileBackingComponent();
        component.services = factory.proxy();
        assertThrows(ComponentException.class, () -> component.activate(
                config(Map.of("name", "disk3", "path", path.toString())), Map.of()));
        FileBackingDevice device = (FileBackingDevice) factory.properties.get().get(FileBackingService.DEVICE);
        assertThrows(DeviceClosedException.class, () -> device.read(0, ByteBuffer.allocate(512)));
        component.deactivate();
    }

    @Test
    void aServiceInstanceNeedsTheDevice() {
        assertThrows(IllegalArgumentException.class, () -> new FileBackingService(Map.of()));
    }

    @Test
    void configurationKeysMapToSettings() {
        FileBackingSettings settings = FileBackingComponent.settings(config(Map.of(
                "name", "n", "path", "/p", "size_bytes", 1024L, "create", true, "read_only", true,
                "identity", "label", "direct_writes", false)));
        assertEquals(new FileBackingSettings("n", "/p", 1024, true, true, "label", false), settings);
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

    /**
     * A ComponentFactory that records the one instance the component asks for and creates it as
     * SCR would: the service component gets every property, private ones included.
     */
    private static final class RecordingFactory {
        final AtomicReference<Dictionary<String, ?>> properties = new AtomicReference<>();
        final AtomicReference<FileBackingService> service = new AtomicReference<>();
        final AtomicBoolean disposed = new AtomicBoolean();
        volatile boolean refuse;

        @SuppressWarnings("unchecked")
        ComponentFactory<FileBackingService> proxy() {
            ComponentInstance<FileBackingService> instance = (ComponentInstance<FileBackingService>)
                    Proxy.newProxyInstance(getClass().getClassLoader(),
                            new Class<?>[] {ComponentInstance.class}, (p, method, args) -> {
                                switch (method.getName()) {
                                    case "dispose":
                                        disposed.set(true);
                                        return null;
                                    case "getInstance":
                                        return disposed.get() ? null : service.get();
                                    default:
                                        throw new UnsupportedOperationException(method.getName());
                                }
                            });
            return (ComponentFactory<FileBackingService>) Proxy.newProxyInstance(
                    getClass().getClassLoader(), new Class<?>[] {ComponentFactory.class},
                    (p, method, args) -> {
                        if (!method.getName().equals("newInstance")) {
                            throw new UnsupportedOperationException(method.getName());
                        }
                        Dictionary<String, ?> given = (Dictionary<String, ?>) args[0];
                        properties.set(given);
                        if (refuse) {
                            throw new ComponentException("refused for the test");
                        }
                        Map<String, Object> all = new HashMap<>();
                        for (String key : java.util.Collections.list(given.keys())) {
                            all.put(key, given.get(key));
                        }
                        service.set(new FileBackingService(all));
                        return instance;
                    });
        }
    }

    @Test
    void deactivateWithoutActivationIsHarmless() throws IOException {
        new FileBackingComponent().deactivate();
    }
}
