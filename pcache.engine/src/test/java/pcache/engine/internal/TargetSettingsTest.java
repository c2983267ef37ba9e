package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Proxy;
import java.util.Map;

import org.junit.jupiter.api.Test;

/** Which configuration changes a running cache takes. */
class TargetSettingsTest {

    /** A configuration with {@code values} (by method name) and the annotation's defaults for the rest. */
    private static TargetConfig config(Map<String, Object> values) {
        return (TargetConfig) Proxy.newProxyInstance(TargetConfig.class.getClassLoader(),
                new Class<?>[] {TargetConfig.class}, (proxy, method, args) -> {
                    Object v = values.get(method.getName());
                    return v != null ? v : method.getDefaultValue();
                });
    }

    /**
     * A new cache_dev is refused while the cache runs, saying how to move a cache. Before, the
     * engine was re-opened on the new device, without the data not yet written back.
     */
    @Test
    void aNewCacheDeviceIsRefusedWhileTheCacheRuns() {
        TargetConfig was = config(Map.of("name", "c", "cache__dev", "/dev/shm/a.cache", "gc__percent", 70));
        String problem = TargetSettings.runtimeChangeProblem(was,
                config(Map.of("name", "c", "cache__dev", "/dev/shm/b.cache", "gc__percent", 70)));
        assertTrue(problem != null && problem.contains("cache_dev cannot change while the cache runs")
                && problem.contains("cache_mode=passthrough"), problem);
        assertNull(TargetSettings.runtimeChangeProblem(was,
                config(Map.of("name", "c", "cache__dev", "/dev/shm/a.cache", "gc__percent", 50))));
    }

    /** A new name is refused while the cache runs: its service and statistics would keep the old one. */
    @Test
    void aNewNameIsRefusedWhileTheCacheRuns() {
        TargetConfig was = config(Map.of("name", "c", "cache__dev", "/dev/shm/a.cache"));
        String problem = TargetSettings.runtimeChangeProblem(was,
                config(Map.of("name", "d", "cache__dev", "/dev/shm/a.cache")));
        assertTrue(problem != null && problem.contains("name cannot change while the cache runs (from c to d)"),
                problem);
    }
}
