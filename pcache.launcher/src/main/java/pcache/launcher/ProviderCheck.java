package pcache.launcher;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.EnumMap;
import java.util.Map;
import java.util.TreeSet;

import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;

import pcache.api.config.CacheDefinition;
import pcache.api.config.CachePart;
import pcache.api.config.Problem;

/**
 * Checks, once the bundles run, that every part a cache names ({@link CachePart}) is provided by
 * a registered service, so that a misspelt or missing provider is a configuration error naming the
 * key, the value and the names that are registered, instead of a cache that waits forever for its
 * pmem mapping or never writes back. The names come from the services alone: a provider bundle
 * added to the distribution is accepted without any list to edit.
 *
 * <p>Declarative Services registers providers asynchronously after their bundles start, so the
 * check waits until every named part is there, or until every kind has at least one provider and
 * the set of providers has not changed for {@link #SETTLED} (nothing more is coming), at most
 * {@link #WAIT}.
 */
final class ProviderCheck {

    static final Duration WAIT = Duration.ofSeconds(30);
    static final Duration SETTLED = Duration.ofSeconds(2);

    private ProviderCheck() {
    }

    /**
     * The problems, one per part that no registered service provides (empty when all are there).
     */
    static List<String> verify(BundleContext context, List<CacheDefinition> caches) {
        if (caches.isEmpty()) {
            return List.of();
        }
        long start = System.nanoTime();
        long lastChange = start;
        Map<CachePart, TreeSet<String>> seen = registered(context);
        while (true) {
            List<String> problems = problems(caches, seen);
            long now = System.nanoTime();
            boolean settled = now - lastChange > SETTLED.toNanos() && seen.values().stream().noneMatch(TreeSet::isEmpty);
            if (problems.isEmpty() || settled || now - start > WAIT.toNanos()) {
                return problems;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return problems;
            }
            Map<CachePart, TreeSet<String>> current = registered(context);
            if (!current.equals(seen)) {
                seen = current;
                lastChange = System.nanoTime();
            }
        }
    }

    /** For each kind of part, the names its registered services give. */
    static Map<CachePart, TreeSet<String>> registered(BundleContext context) {
        Map<CachePart, TreeSet<String>> names = new EnumMap<>(CachePart.class);
        for (CachePart kind : CachePart.values()) {
            TreeSet<String> set = new TreeSet<>();
            try {
                ServiceReference<?>[] refs = context.getAllServiceReferences(kind.service(), null);
                if (refs != null) {
                    for (ServiceReference<?> ref : refs) {
                        Object name = ref.getProperty(kind.property());
                        if (name != null) {
                            set.add(name.toString());
                        }
                    }
                }
            } catch (InvalidSyntaxException e) {
                throw new IllegalStateException("a null filter is always valid", e);
            }
            names.put(kind, set);
        }
        return names;
    }

    static List<String> problems(List<CacheDefinition> caches, Map<CachePart, TreeSet<String>> registered) {
        List<String> problems = new ArrayList<>();
        for (CacheDefinition cache : caches) {
            for (CachePart kind : CachePart.values()) {
                Problem p = kind.notRegistered(cache.part(kind), registered.getOrDefault(kind, new TreeSet<>()),
                        "is the bundle that provides it in the distribution's bundles/ folder?");
                if (p != null) {
                    problems.add(p.render(ConfigKeys.CACHE_PREFIX + cache.name() + "." + p.attribute().key()));
                }
            }
        }
        return problems;
    }
}
