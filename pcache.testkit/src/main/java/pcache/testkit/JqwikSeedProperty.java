package pcache.testkit;

import java.lang.reflect.AnnotatedElement;
import java.util.Optional;

import net.jqwik.api.lifecycle.AroundPropertyHook;
import net.jqwik.api.lifecycle.PropagationMode;
import net.jqwik.api.lifecycle.PropertyExecutionResult;
import net.jqwik.api.lifecycle.PropertyExecutor;
import net.jqwik.api.lifecycle.PropertyLifecycleContext;

/**
 * Replays a jqwik property with the seed its failure report printed: {@code -Dpcache.jqwik.seed=S}
 * (for example {@code ./mvnw -pl pcache.crc test -Dtest=PcacheCrc32cTest -Dpcache.jqwik.seed=S}).
 * Registered for every property through {@code META-INF/services}, so no test has to name it.
 * Without the system property nothing changes: each run draws a new seed and jqwik prints it
 * when a property fails.
 */
public final class JqwikSeedProperty implements AroundPropertyHook {

    /** The system property naming the seed. */
    public static final String PROPERTY = "pcache.jqwik.seed";

    @Override
    public PropertyExecutionResult aroundProperty(PropertyLifecycleContext context, PropertyExecutor property) {
        String seed = System.getProperty(PROPERTY);
        if (seed != null && !seed.isBlank()) {
            context.attributes().setSeed(seed.trim());
        }
        return property.execute();
    }

    @Override
    public boolean appliesTo(Optional<AnnotatedElement> element) {
        return true;
    }

    @Override
    public PropagationMode propagateTo() {
        return PropagationMode.ALL_DESCENDANTS;
    }
}
