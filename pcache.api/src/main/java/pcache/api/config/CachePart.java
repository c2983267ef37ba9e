package pcache.api.config;

import java.util.Collection;

import pcache.api.spi.CrcProvider;
import pcache.api.spi.KeyIndexProvider;
import pcache.api.spi.PmemProvider;
import pcache.api.spi.SegmentAllocatorProvider;
import pcache.api.spi.WritebackPolicy;

/**
 * The parts a cache is assembled from, each chosen by the name its service registers: nothing
 * here lists the names there may be. A definition names a part with one attribute; the cache's
 * configuration selects it with a reference target filter ({@code <reference>.target}).
 */
public enum CachePart {
    PMEM(CacheAttribute.PMEM, "pmem mapping", PmemProvider.class.getName(), PmemProvider.TYPE, "pmem",
            TargetProperties.PMEM_DEFAULT),
    WRITEBACK_POLICY(CacheAttribute.WRITEBACK_POLICY, "write-back policy", WritebackPolicy.class.getName(),
            WritebackPolicy.NAME, "writeback", TargetProperties.WRITEBACK_POLICY_DEFAULT),
    CRC(CacheAttribute.CRC, "CRC provider", CrcProvider.class.getName(), CrcProvider.ALGORITHM, "crc",
            TargetProperties.CRC_DEFAULT),
    KEY_INDEX(CacheAttribute.KEY_INDEX, "key index", KeyIndexProvider.class.getName(), KeyIndexProvider.NAME,
            "keyindex", TargetProperties.KEY_INDEX_DEFAULT),
    ALLOCATOR(CacheAttribute.ALLOCATOR, "segment allocator", SegmentAllocatorProvider.class.getName(),
            SegmentAllocatorProvider.NAME, "allocator", TargetProperties.ALLOCATOR_DEFAULT);

    private final CacheAttribute attribute;
    private final String what;
    private final String service;
    private final String property;
    private final String reference;
    private final String defaultName;

    CachePart(CacheAttribute attribute, String what, String service, String property, String reference,
            String defaultName) {
        this.attribute = attribute;
        this.what = what;
        this.service = service;
        this.property = property;
        this.reference = reference;
        this.defaultName = defaultName;
    }

    /** The definition attribute that names it. */
    public CacheAttribute attribute() {
        return attribute;
    }

    /** What it is, for messages ("pmem mapping"). */
    public String what() {
        return what;
    }

    /** The SPI service interface its providers register. */
    public String service() {
        return service;
    }

    /** The service property holding a provider's name. */
    public String property() {
        return property;
    }

    /** The target configuration's property selecting it: {@code <reference>.target}. */
    public String targetProperty() {
        return reference + ".target";
    }

    /** What a cache gets when its definition names none. */
    public String defaultName() {
        return defaultName;
    }

    /** The reference target filter selecting the provider named {@code name}. */
    public String filter(String name) {
        return LdapFilters.equal(property, name);
    }

    /**
     * The problem when no registered provider is named {@code name}, or null when one is.
     *
     * @param registered the names the registered services of this kind give
     * @param whenNone what to suggest when nothing of this kind is registered
     */
    public Problem notRegistered(String name, Collection<String> registered, String whenNone) {
        if (registered.contains(name)) {
            return null;
        }
        return new Problem(attribute, name, "no " + what + " named '" + name + "' is registered; "
                + (registered.isEmpty() ? "none is (" + whenNone + ")" : "registered: "
                + String.join(", ", registered.stream().sorted().toList())));
    }
}
