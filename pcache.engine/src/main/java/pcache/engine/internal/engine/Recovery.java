package pcache.engine.internal.engine;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;

import pcache.api.BlockDevice;
import pcache.api.CacheConfigurationException;
import pcache.api.CachePos;
import pcache.api.format.PcacheFormat;
import pcache.api.format.PcacheLayout;
import pcache.api.spi.BackingDevice;
import pcache.api.spi.BackingIdentity;
import pcache.api.spi.CrcProvider;
import pcache.api.spi.KeyIndex;
import pcache.api.spi.KeyIndexProvider;
import pcache.api.spi.KeyLog;
import pcache.api.spi.KeyLogContext;
import pcache.api.spi.KeyLogListener;
import pcache.api.spi.KeyValidity;
import pcache.api.spi.PmemRegion;
import pcache.api.spi.SegmentAllocator;
import pcache.api.spi.SegmentAllocatorProvider;
import pcache.api.spi.SegmentContext;
import pcache.api.spi.SegmentListener;
import pcache.engine.internal.BackingHolder;
import pcache.engine.internal.media.CacheInfoCodec;
import pcache.engine.internal.media.CacheInfoCodec.CacheInfo;
import pcache.engine.internal.media.CacheMetadata;

/**
 * Opens a cache device: formats a blank one (dm-pcache formats when the superblock magic is 0), or
 * loads an existing one and replays its key log ({@link Replay}), and builds the structures of
 * the open cache ({@link OpenCache}). Used once per open; the region stays the caller's (a failed
 * open closes only the key log it created).
 */
final class Recovery {

    private final EngineConfig config;
    private final PmemRegion region;
    private final CrcProvider crc;
    private final BackingHolder backing;
    private final Stats stats;
    private final EngineSignals signals;
    private final ScheduledExecutorService scheduler;
    private final SegmentListener reclaims;

    private CacheMetadata meta;
    private SegmentAllocator segments;
    private KeyLog keyLog;

    /**
     * @param reclaims told of every segment reclaimed while the cache is open
     * @param scheduler runs the key log's delayed kset flushes
     */
    Recovery(EngineConfig config, PmemRegion region, CrcProvider crc, BackingHolder backing, Stats stats,
            EngineSignals signals, ScheduledExecutorService scheduler, SegmentListener reclaims) {
        this.config = config;
        this.region = region;
        this.crc = crc;
        this.backing = backing;
        this.stats = stats;
        this.signals = signals;
        this.scheduler = scheduler;
        this.reclaims = reclaims;
    }

    /**
     * Formats or loads and replays the device. A new cache needs a backing device (its size is the
     * logical size); an existing one records it.
     *
     * @throws pcache.api.CorruptMediaException for a foreign or damaged device, naming the structure and offset
     * @throws CacheConfigurationException when the configuration contradicts the device
     */
    OpenCache open(SegmentAllocatorProvider allocators, KeyIndexProvider keyIndexes) throws IOException {
        boolean ok = false;
        try {
            OpenCache cache = load(allocators, keyIndexes);
            ok = true;
            return cache;
        } finally {
            if (!ok && keyLog != null) {
                keyLog.close();
            }
        }
    }

    private OpenCache load(SegmentAllocatorProvider allocators, KeyIndexProvider keyIndexes) throws IOException {
        if (region.sizeBytes() < config.minimumCacheBytes()) {
            throw new CacheConfigurationException("cache device " + region.description() + " has "
                    + region.sizeBytes() + " bytes; a cache device needs at least " + config.minimumCacheBytes()
                    + " bytes (dm-pcache's minimum is 512 MiB)");
        }
        CacheMetadata.DeviceState state = CacheMetadata.probe(region, crc);
        if (state == CacheMetadata.DeviceState.BLANK) {
            CacheMetadata.writeSuperblock(region, crc, PcacheFormat.segmentsFor(region.sizeBytes()));
        }
        meta = CacheMetadata.forDevice(region, crc);
        segments = allocators.create(segmentContext());
        meta.attach(segments);
        CacheInfo info = meta.loadInfo();
        if (info == null) {
            return format(keyIndexes);
        }
        OpenCache cache = loadExisting(info, keyIndexes);
        // every start persists cache_info with INIT_DONE, as dm-pcache does
        meta.storeInfo(meta.info().withGcPercent(config.gcPercent()).withInitDone());
        return cache;
    }

    private OpenCache loadExisting(CacheInfo info, KeyIndexProvider keyIndexes) throws IOException {
        CacheMetadata.checkDataCrc(info, config.dataCrc());
        segments.load(info.firstSegment(), info.segmentCount());
        meta.loadTails(segments.segmentCount());
        meta.loadExtension();
        BackingIdentity recorded = meta.extension().backing();
        BackingDevice bound = backing.peek();
        long logicalSize;
        if (recorded != null) {
            logicalSize = recorded.sizeBytes();
        } else {
            // an image dm-pcache wrote records nothing: the backing device defines the size
            bound = backing.acquireForOpen(config.backingTimeoutMillis());
            logicalSize = bound.sizeBytes();
        }
        if (bound != null) {
            BackingPairing.check(meta, config, logicalSize, bound);
        }
        QuarantineGuard quarantine = new QuarantineGuard(config.name(), meta, meta.extension().quarantine());
        OpenCache cache = assemble(keyIndexes, logicalSize, quarantine);
        new Replay(cache, signals).run();
        return cache;
    }

    private OpenCache format(KeyIndexProvider keyIndexes) throws IOException {
        BackingDevice dev = backing.acquireForOpen(config.backingTimeoutMillis());
        long logicalSize = dev.sizeBytes();
        checkLogicalSize(logicalSize, "backing device " + dev.description()); // before anything is written
        int segNum = meta.segNum();
        CacheEngine.LOG.log(System.Logger.Level.INFO, "cache {0}: formatting {1} ({2} segments) for backing device {3}",
                config.name(), region.description(), segNum, dev.description());
        segments.format(0, segNum);
        // the first key segment: zero its data area so no stale log can ever be replayed from it
        long data = segments.dataOffset(0);
        region.fill(data, PcacheFormat.SEG_DATA_SIZE, (byte) 0);
        region.flush(data, PcacheFormat.SEG_DATA_SIZE);
        region.fence();
        meta.formatTails();
        meta.loadExtensionToReplace();
        meta.storeFormattedExtension(dev.identity());
        QuarantineGuard quarantine = new QuarantineGuard(config.name(), meta, List.of());
        int flags = CacheInfoCodec.flags(config.dataCrc(), true, PcacheLayout.CacheInfo.MODE_WRITEBACK, config.gcPercent());
        OpenCache cache = assemble(keyIndexes, logicalSize, quarantine);
        segments.markUsed(0);
        keyLog.start(new CachePos(0, 0));
        meta.formatInfo(new CacheInfo(0, segNum, flags));
        return cache;
    }

    /** A cache's logical size ({@code whose}) must be whole sectors. */
    private static void checkLogicalSize(long logicalSize, String whose) throws CacheConfigurationException {
        if (logicalSize <= 0 || logicalSize % BlockDevice.SECTOR_SIZE != 0) {
            throw new CacheConfigurationException(whose + " has " + logicalSize + " bytes: a cache needs a backing"
                    + " device of a positive multiple of " + BlockDevice.SECTOR_SIZE + " bytes");
        }
    }

    /** Creates the index, its scratch copy, the data heads and the key log for a device of {@code logicalSize}. */
    private OpenCache assemble(KeyIndexProvider keyIndexes, long logicalSize, QuarantineGuard quarantine)
            throws CacheConfigurationException {
        checkLogicalSize(logicalSize, "the cache's backing device");
        KeyIndex index = keyIndexes.createIndex(logicalSize);
        KeyIndex scratch = keyIndexes.createIndex(logicalSize);
        int streams = config.effectiveStreams();
        DataHeads heads = new DataHeads(segments, streams);
        keyLog = keyIndexes.openLog(keyLogContext(streams));
        SegmentAllocator s = segments;
        KeyValidity validity = key -> Long.compareUnsigned(key.generation(), s.generation(key.segment())) >= 0;
        return new OpenCache(config, region, crc, backing, stats, meta, segments, index, scratch, keyLog, heads,
                quarantine, logicalSize, validity, new PendingTrims(), new WriteThroughOrder(config.name()));
    }

    private SegmentContext segmentContext() {
        return new SegmentContext() {
            @Override
            public PmemRegion region() {
                return region;
            }

            @Override
            public CrcProvider crc() {
                return crc;
            }

            @Override
            public int deviceSegments() {
                return meta.segNum();
            }

            @Override
            public SegmentListener listener() {
                return reclaims;
            }
        };
    }

    private KeyLogContext keyLogContext(int streams) {
        return new KeyLogContext() {
            @Override
            public PmemRegion region() {
                return region;
            }

            @Override
            public CrcProvider crc() {
                return crc;
            }

            @Override
            public SegmentAllocator segments() {
                return segments;
            }

            @Override
            public int streams() {
                return streams;
            }

            @Override
            public long flushDelayMillis() {
                return config.ksetFlushDelayMillis();
            }

            @Override
            public ScheduledExecutorService scheduler() {
                return scheduler;
            }

            @Override
            public KeyLogListener listener() {
                return new KeyLogListener() {
                    @Override
                    public void ksetPersisted(CachePos position, int sizeBytes) {
                        signals.ksetPersisted();
                    }

                    @Override
                    public void flushFailed(IOException error) {
                        CacheEngine.LOG.log(System.Logger.Level.WARNING, "cache " + config.name()
                                + ": background kset flush failed, retrying: " + error.getMessage());
                    }
                };
            }
        };
    }
}
