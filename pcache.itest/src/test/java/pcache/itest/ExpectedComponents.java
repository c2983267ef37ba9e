package pcache.itest;

import java.util.List;

/**
 * The pcache DS components the distribution must run: the one list to extend when a bundle
 * gains a component. Names are DS component names (the implementation class name unless the
 * component sets another); the test probe cannot see private packages, so they are strings.
 */
public final class ExpectedComponents {

    /**
     * Components that must be ACTIVE with no configuration at all (commands, providers such as
     * CRC and pmem mappings, write-back policies, the NBD export once it runs unconfigured).
     */
    public static final List<String> ACTIVE_WITHOUT_CONFIGURATION = List.of(
            "pcache.shell.internal.PcacheCommands",
            "pcache.crc.internal.PcacheCrc32c",
            "pcache.keyindex.internal.StripedKeyIndexProvider",
            "pcache.segment.internal.FifoSegmentAllocatorProvider",
            "pcache.pmem.internal.MappedPmemProvider",
            "pcache.pmem.internal.FileIoPmemProvider",
            "pcache.pmem.internal.HeapPmemProvider",
            "pcache.writeback.internal.OrderedWritebackPolicy",
            "pcache.writeback.internal.BatchingWritebackPolicy",
            "pcache.engine.internal.CacheImageToolComponent",
            "pcache.engine.internal.CacheMBeanComponent",
            "pcache.export.nbd.internal.NbdExportComponent",
            "pcache.tls.internal.TlsProviderComponent");

    /**
     * Components that need a configuration (one cache target or backing device per factory
     * configuration), and the DS component factories whose instances the configured components
     * create once their device is reachable or their cache is open (the registered
     * {@code BackingDevice} and {@code CacheDevice} services), or once their cache failed to open
     * ({@code CacheOpenFailure}): they must be present and enabled,
     * waiting for ConfigAdmin. Tests that create configurations check they become ACTIVE.
     */
    public static final List<String> WAITING_FOR_CONFIGURATION = List.of(
            "pcache.backing.file.internal.FileBackingComponent",
            "pcache.backing.file.internal.FileBackingService",
            "pcache.backing.nbd.internal.NbdBackingComponent",
            "pcache.backing.nbd.internal.NbdBackingService",
            "pcache.engine.internal.PcacheTargetComponent",
            "pcache.engine.internal.CacheDeviceService",
            "pcache.engine.internal.CacheOpenFailureService");

    private ExpectedComponents() {
    }
}
