package pcache.export.nbd.internal;

import static pcache.export.nbd.internal.NbdProtocol.META_BASE_ALLOCATION;
import static pcache.export.nbd.internal.NbdProtocol.META_BASE_ALLOCATION_ID;
import static pcache.export.nbd.internal.NbdProtocol.META_PCACHE_DIRTY;
import static pcache.export.nbd.internal.NbdProtocol.META_PCACHE_DIRTY_ID;

import java.util.ArrayList;
import java.util.List;

import pcache.api.CacheDevice;

/**
 * The metadata contexts a connection selected with SET_META_CONTEXT (design doc §2.3), in the
 * order of their ids, which is the order of the chunks of a BLOCK_STATUS reply.
 *
 * @param allocation {@code base:allocation} (id {@value NbdProtocol#META_BASE_ALLOCATION_ID})
 * @param dirty {@code pcache:dirty} (id {@value NbdProtocol#META_PCACHE_DIRTY_ID})
 */
record MetaContexts(boolean allocation, boolean dirty) {

    /** Nothing selected. */
    static final MetaContexts NONE = new MetaContexts(false, false);

    /** A context the server offers: its name and the id SET_META_CONTEXT hands out. */
    record Context(String name, int id) {
    }

    /** Whether any context is selected (BLOCK_STATUS is allowed). */
    boolean any() {
        return allocation || dirty;
    }

    /** The contexts {@code device} offers: {@code pcache:dirty} only on a cache. */
    static List<Context> offered(Export export) {
        List<Context> all = new ArrayList<>(2);
        all.add(new Context(META_BASE_ALLOCATION, META_BASE_ALLOCATION_ID));
        if (export.device instanceof CacheDevice) {
            all.add(new Context(META_PCACHE_DIRTY, META_PCACHE_DIRTY_ID));
        }
        return all;
    }

    /**
     * The offered contexts a query names. For LIST, an empty query list names all, and a
     * namespace alone ({@code "base:"}, {@code "pcache:"}) names all of its contexts; SET takes
     * exact names only.
     */
    static List<Context> matching(Export export, List<String> queries, boolean set) {
        List<Context> matched = new ArrayList<>(2);
        for (Context c : offered(export)) {
            boolean named = queries.isEmpty() && !set;
            for (String q : queries) {
                named |= q.equals(c.name()) || !set && q.endsWith(":") && c.name().startsWith(q)
                        && q.indexOf(':') == q.length() - 1;
            }
            if (named) {
                matched.add(c);
            }
        }
        return matched;
    }

    /** The selection made of {@code contexts}. */
    static MetaContexts of(List<Context> contexts) {
        boolean allocation = false;
        boolean dirty = false;
        for (Context c : contexts) {
            allocation |= c.id() == META_BASE_ALLOCATION_ID;
            dirty |= c.id() == META_PCACHE_DIRTY_ID;
        }
        return new MetaContexts(allocation, dirty);
    }
}
