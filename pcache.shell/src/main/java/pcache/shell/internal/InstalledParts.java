package pcache.shell.internal;

import java.util.List;
import java.util.TreeSet;

import pcache.api.config.CachePart;

/**
 * The names of the parts a cache can be assembled from, as the registered services give them:
 * nothing in the shell lists them, so a provider bundle installed later is selectable at once.
 *
 * @param pmem pmem mappings ({@code pcache.pmem.type})
 * @param policies write-back policies ({@code pcache.writeback.policy})
 * @param crcs CRC providers ({@code pcache.crc.algorithm})
 * @param keyIndexes key index providers ({@code pcache.keyindex.name})
 * @param allocators segment allocator providers ({@code pcache.allocator.name})
 */
record InstalledParts(List<String> pmem, List<String> policies, List<String> crcs, List<String> keyIndexes,
        List<String> allocators) {

    InstalledParts {
        pmem = sorted(pmem);
        policies = sorted(policies);
        crcs = sorted(crcs);
        keyIndexes = sorted(keyIndexes);
        allocators = sorted(allocators);
    }

    static final InstalledParts NONE = new InstalledParts(List.of(), List.of(), List.of(), List.of(), List.of());

    /** The names registered for {@code part}. */
    List<String> of(CachePart part) {
        return switch (part) {
            case PMEM -> pmem;
            case WRITEBACK_POLICY -> policies;
            case CRC -> crcs;
            case KEY_INDEX -> keyIndexes;
            case ALLOCATOR -> allocators;
        };
    }

    private static List<String> sorted(List<String> names) {
        return List.copyOf(new TreeSet<>(names));
    }
}
