package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Method;
import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;

import pcache.api.config.CacheDefinition;
import pcache.api.config.CachePart;
import pcache.api.config.TargetProperties;

/**
 * The metatype of a cache's configuration and pcache.api.config's contract name the same
 * properties, so that what the launcher and the shell write is what the target reads.
 */
class TargetConfigContractTest {

    /** DS's mapping of an annotation method name to a property name. */
    private static String property(Method m) {
        return m.getName().replace("__", "\u0000").replace('_', '.').replace('\u0000', '_');
    }

    @Test
    void everyPropertyTheContractWritesIsOneTheTargetReads() {
        Set<String> read = Arrays.stream(TargetConfig.class.getDeclaredMethods()).map(TargetConfigContractTest::property)
                .collect(Collectors.toCollection(TreeSet::new));
        Set<String> written = new TreeSet<>(CacheDefinition.parse("c", java.util.Map.of(
                pcache.api.config.CacheAttribute.CACHE_DEV, "/c", pcache.api.config.CacheAttribute.BACKING_DEV, "file:/b"),
                java.nio.file.Path.of("/")).definition().orElseThrow().targetProperties().keySet());
        assertTrue(read.containsAll(written), "written " + written + ", read " + read);
        for (String engineOnly : new String[] {TargetProperties.STREAMS, TargetProperties.KSET_FLUSH_DELAY_MS,
            TargetProperties.GC_INTERVAL_MS}) {
            assertTrue(read.contains(engineOnly), engineOnly);
        }
        for (CachePart p : CachePart.values()) {
            assertTrue(read.contains(p.targetProperty()), p.targetProperty());
        }
        assertEquals(written.size() + 3, read.size(), "read " + read);
    }
}
