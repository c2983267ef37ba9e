package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import pcache.api.CacheDevice;
import pcache.api.CacheMode;
import pcache.engine.internal.engine.CacheEngine;

/** The registered {@link CacheDevice} of a cache: a delegate of its facade. */
class CacheDeviceServiceTest {

    private static final long LOGICAL = 64 * Harness.MIB;

    private CacheDeviceFacade facade;

    @AfterEach
    void close() throws Exception {
        if (facade != null) {
            facade.close();
        }
    }

    @Test
    void anInstanceWithoutAFacadeIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new CacheDeviceService(Map.of(CacheDevice.NAME, "c")));
        assertTrue(e.getMessage().contains(CacheDeviceService.FACADE), e.getMessage());
    }

    @Test
    void everyCacheDeviceMethodIsDelegatedNotInherited() throws Exception {
        for (Method m : CacheDevice.class.getMethods()) {
            if (Modifier.isStatic(m.getModifiers())) {
                continue;
            }
            Method own = CacheDeviceService.class.getMethod(m.getName(), m.getParameterTypes());
            assertEquals(CacheDeviceService.class, own.getDeclaringClass(), m.toString());
        }
    }

    @Test
    void servesTheFacadesCache() throws Exception {
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine engine = Harness.open(Harness.config("svc0"), new SimulatedPmem(Harness.deviceBytes(6), false),
                Harness.holder(backing), Harness.drainOnlyPolicy());
        facade = new CacheDeviceFacade(engine, Harness.holder(backing), CacheMode.WRITEBACK);
        CacheDevice service = new CacheDeviceService(Map.of(CacheDevice.NAME, "svc0", CacheDeviceService.FACADE, facade));

        assertEquals("svc0", service.name());
        assertEquals(facade.sizeBytes(), service.sizeBytes());
        assertEquals(facade.logicalBlockSize(), service.logicalBlockSize());
        service.write(8192, Harness.pattern(8192, 4096, 7), false);
        service.flush();
        assertArrayEquals(Harness.pattern(8192, 4096, 7).array(), Harness.read(facade, 8192, 4096));
        assertArrayEquals(Harness.read(facade, 8192, 4096), Harness.read(service, 8192, 4096));
        service.setGcPercent(50);
        assertEquals(50, facade.gcPercent());
        assertEquals(50, service.gcPercent());
        assertEquals(CacheMode.WRITEBACK, service.mode());
        assertEquals(1, service.statistics().writeRequests());
        service.drain(null);
        assertTrue(service.status().clean(), service.status().toString());
        assertEquals(facade.statistics().writeRequests(), service.statistics().writeRequests());
    }
}
