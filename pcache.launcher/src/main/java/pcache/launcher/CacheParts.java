package pcache.launcher;

import java.util.List;

/**
 * The parts a cache is assembled from, each chosen by the name its service registers: nothing here
 * lists the names there may be. The configuration file names a part with one key; the cache's
 * target configuration selects it with a reference target filter; {@link ProviderCheck} finds the
 * service once the framework runs.
 *
 * @param pmem the pmem mapping ({@code pmem})
 * @param writebackPolicy the write-back policy ({@code writeback_policy})
 * @param crc the CRC provider ({@code crc})
 * @param keyIndex the key index ({@code key_index})
 * @param allocator the segment allocator ({@code allocator})
 */
public record CacheParts(String pmem, String writebackPolicy, String crc, String keyIndex, String allocator) {

    /** What a cache gets for each part its configuration does not name (the target's own defaults). */
    public static final CacheParts DEFAULTS = new CacheParts("mapped", "ordered", "crc32c-pcache", "striped", "fifo");

    /**
     * One kind of part.
     *
     * @param key the configuration key, {@code cache.<name>.<key>}
     * @param what what it is, for messages
     * @param service the service interface its providers register
     * @param property the service property holding a provider's name
     * @param reference the target configuration's reference name ({@code <reference>.target})
     */
    public record Kind(String key, String what, String service, String property, String reference) {
    }

    /** Every kind of part, in the order of this record's components. */
    public static final List<Kind> KINDS = List.of(
            new Kind(ConfigKeys.PMEM, "pmem mapping", "pcache.api.spi.PmemProvider", "pcache.pmem.type", "pmem"),
            new Kind(ConfigKeys.WRITEBACK_POLICY, "write-back policy", "pcache.api.spi.WritebackPolicy",
                    "pcache.writeback.policy", "writeback"),
            new Kind(ConfigKeys.CRC, "CRC provider", "pcache.api.spi.CrcProvider", "pcache.crc.algorithm", "crc"),
            new Kind(ConfigKeys.KEY_INDEX, "key index", "pcache.api.spi.KeyIndexProvider", "pcache.keyindex.name",
                    "keyindex"),
            new Kind(ConfigKeys.ALLOCATOR, "segment allocator", "pcache.api.spi.SegmentAllocatorProvider",
                    "pcache.allocator.name", "allocator"));

    /** The chosen names, in the order of {@link #KINDS}. */
    public List<String> names() {
        return List.of(pmem, writebackPolicy, crc, keyIndex, allocator);
    }

    /** The parts named by {@code names}, in the order of {@link #KINDS}. */
    public static CacheParts of(List<String> names) {
        return new CacheParts(names.get(0), names.get(1), names.get(2), names.get(3), names.get(4));
    }
}
