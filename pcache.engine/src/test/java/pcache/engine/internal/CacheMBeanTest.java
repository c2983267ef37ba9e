package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import javax.management.Attribute;
import javax.management.AttributeList;
import javax.management.AttributeNotFoundException;
import javax.management.MBeanAttributeInfo;
import javax.management.MBeanException;
import javax.management.MBeanInfo;
import javax.management.MBeanServer;
import javax.management.ObjectName;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import pcache.api.CacheDevice;
import pcache.api.CacheMode;
import pcache.api.CacheStatistics;
import pcache.api.CacheStatus;
import pcache.engine.internal.engine.CacheEngine;

/** Cache MBeans in the platform MBeanServer, over a real cache. */
class CacheMBeanTest {

    private static final long LOGICAL = 64 * Harness.MIB;

    private final MBeanServer server = ManagementFactory.getPlatformMBeanServer();
    private final CacheMBeanComponent component = new CacheMBeanComponent();
    private CacheDeviceFacade cache;
    private MemoryBacking backing;

    private CacheDeviceFacade open(String name) throws Exception {
        backing = new MemoryBacking(LOGICAL, "disk", false);
        // write-back only when drained: with a policy that starts at once, status fields and
        // "clean" would change under the assertions
        CacheEngine engine = Harness.open(Harness.config(name), new SimulatedPmem(Harness.deviceBytes(6), false),
                Harness.holder(backing), Harness.drainOnlyPolicy());
        return new CacheDeviceFacade(engine, Harness.holder(backing), CacheMode.WRITEBACK);
    }

    @AfterEach
    void close() throws Exception {
        component.deactivate();
        if (cache != null) {
            cache.close();
        }
    }

    @Test
    void everyStatusFieldAndCounterIsAReadOnlyAttribute() throws Exception {
        cache = open("jmx0");
        component.bindCache(cache, Map.of(CacheDevice.NAME, "jmx0"));
        ObjectName name = new ObjectName("pcache:type=Cache,name=jmx0");
        assertTrue(server.isRegistered(name));

        cache.write(0, Harness.pattern(0, 65536, 1), false);
        cache.read(0, java.nio.ByteBuffer.allocate(4096));
        cache.flush();
        CacheStatus status = cache.status();
        assertEquals(status.dmStatusLine(), server.getAttribute(name, "DmStatusLine"));
        assertEquals(status.keyHead().toString(), server.getAttribute(name, "KeyHead"));
        assertEquals(status.segTotal(), server.getAttribute(name, "SegTotal"));
        assertEquals("writeback", server.getAttribute(name, "Mode"));
        assertEquals("online", server.getAttribute(name, "BackingState"));
        assertEquals(65536L, server.getAttribute(name, "BytesWritten"));
        assertEquals(1L, server.getAttribute(name, "ReadHits"));
        assertEquals(1.0, server.getAttribute(name, "HitRatio"));
        assertEquals(LOGICAL, server.getAttribute(name, "SizeBytes"));

        MBeanInfo info = server.getMBeanInfo(name);
        Set<String> names = Arrays.stream(info.getAttributes()).map(MBeanAttributeInfo::getName).collect(Collectors.toSet());
        for (var c : CacheStatus.class.getRecordComponents()) {
            assertTrue(names.contains(Character.toUpperCase(c.getName().charAt(0)) + c.getName().substring(1)), c.getName());
        }
        for (var c : CacheStatistics.class.getRecordComponents()) {
            assertTrue(names.contains(Character.toUpperCase(c.getName().charAt(0)) + c.getName().substring(1)), c.getName());
        }
        for (MBeanAttributeInfo a : info.getAttributes()) {
            assertTrue(a.isReadable() && !a.isWritable(), a.getName());
            assertTrue(Set.of("long", "int", "boolean", "double", "java.lang.String").contains(a.getType()), a.getType());
        }
        AttributeList all = server.getAttributes(name, names.toArray(String[]::new));
        assertEquals(names.size(), all.size());
        assertThrows(AttributeNotFoundException.class,
                () -> server.setAttribute(name, new Attribute("GcPercent", 10)));
    }

    @Test
    void flushAndDrainAreOperations() throws Exception {
        cache = open("jmx1");
        component.bindCache(cache, Map.of(CacheDevice.NAME, "jmx1"));
        ObjectName name = CacheMBeanComponent.objectName("jmx1");
        cache.write(4096, Harness.pattern(4096, 8192, 2), false);
        assertEquals(null, server.invoke(name, "flush", null, null));
        assertFalse((Boolean) server.getAttribute(name, "Clean"));
        String summary = (String) server.invoke(name, "drain", null, null);
        assertTrue(summary.startsWith("cache jmx1 drained in "), summary);
        assertTrue(summary.endsWith("(8192 bytes were dirty)"), summary);
        assertTrue((Boolean) server.getAttribute(name, "Clean"));
        assertEquals(0L, server.getAttribute(name, "DirtyBytes"));
        assertArrayEqualsContent(Harness.pattern(4096, 8192, 2).array(), backing.content(4096, 8192));
        assertThrows(javax.management.ReflectionException.class, () -> server.invoke(name, "format", null, null));
    }

    private static void assertArrayEqualsContent(byte[] want, byte[] got) {
        org.junit.jupiter.api.Assertions.assertArrayEquals(want, got);
    }

    @Test
    void aFailingOperationIsAPlainException() throws Exception {
        cache = open("jmx2");
        component.bindCache(cache, Map.of(CacheDevice.NAME, "jmx2"));
        cache.close();
        MBeanException e = assertThrows(MBeanException.class,
                () -> server.invoke(CacheMBeanComponent.objectName("jmx2"), "flush", null, null));
        assertEquals(java.io.IOException.class, e.getCause().getClass());
        assertTrue(e.getMessage().startsWith("flush of cache 'jmx2' failed: "), e.getMessage());
        cache = null;
    }

    @Test
    void theMBeanGoesWithTheService() throws Exception {
        cache = open("jmx3");
        component.bindCache(cache, Map.of(CacheDevice.NAME, "jmx3"));
        ObjectName name = CacheMBeanComponent.objectName("jmx3");
        assertTrue(server.isRegistered(name));
        component.unbindCache(cache);
        assertFalse(server.isRegistered(name));
        component.bindCache(cache, Map.of(CacheDevice.NAME, "jmx3"));
        component.bindCache(cache, Map.of(CacheDevice.NAME, "jmx3")); // a second cache of that name: refused, logged
        component.deactivate();
        assertFalse(server.isRegistered(name));
        assertEquals(new ObjectName("pcache:type=Cache,name=\"a,b\""), CacheMBeanComponent.objectName("a,b"));
    }
}
