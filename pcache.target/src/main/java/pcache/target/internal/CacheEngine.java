package pcache.target.internal;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

import pcache.api.BackingDeviceException;
import pcache.api.BlockDevice;
import pcache.api.CacheConfigurationException;
import pcache.api.CacheDevice.DrainProgress;
import pcache.api.CacheMode;
import pcache.api.CachePos;
import pcache.api.CacheStatistics;
import pcache.api.CacheStatus;
import pcache.api.CorruptMediaException;
import pcache.api.DataIntegrityException;
import pcache.api.DeviceClosedException;
import pcache.api.PcacheException;
import pcache.api.format.PcacheFormat;
import pcache.api.spi.BackingDevice;
import pcache.api.spi.BackingIdentity;
import pcache.api.spi.CacheKey;
import pcache.api.spi.CrcProvider;
import pcache.api.spi.ExtentVisitor;
import pcache.api.spi.KeyIndex;
import pcache.api.spi.KeyIndexProvider;
import pcache.api.spi.KeyLog;
import pcache.api.spi.KeyLogContext;
import pcache.api.spi.KeyLogListener;
import pcache.api.spi.KeySlice;
import pcache.api.spi.KeyValidity;
import pcache.api.spi.Kset;
import pcache.api.spi.PmemRegion;
import pcache.api.spi.SegmentAllocator;
import pcache.api.spi.SegmentAllocatorProvider;
import pcache.api.spi.SegmentContext;
import pcache.api.spi.SegmentListener;
import pcache.api.spi.WritebackContext;
import pcache.api.spi.WritebackOutcome;
import pcache.api.spi.WritebackPolicy;
import pcache.target.internal.image.ImageSlots;
import pcache.target.internal.media.CacheInfoCodec;
import pcache.target.internal.media.CacheInfoCodec.CacheInfo;
import pcache.target.internal.media.CacheMetadata;
import pcache.target.internal.media.ExtensionCodec;
import pcache.target.internal.media.ExtensionCodec.Range;
import pcache.target.internal.media.KsetContinuation;

/**
 * One open cache: dm-pcache's cache target (reference §2.5-§7) over a pmem region, a segment
 * allocator, a key index and key log, and a swappable backing device. Plain Java, no framework:
 * the DS component and the tests drive it directly.
 *
 * <p>The engine implements the cache in write-back form; modes, request gating and swaps are the
 * business of {@link CacheDeviceFacade}. It owns its region and closes it.
 *
 * <h2>Request path</h2>
 * Writes are cut at 4 MiB slice boundaries (and segment boundaries by allocation); each piece is
 * copied to pmem and made durable <em>before</em> its key is inserted into the slice and appended
 * to the key log under the slice lock (reference §4.1, §7.2). Reads walk the slice under its lock,
 * insert placeholders for gaps, then copy hits outside the lock and re-check the segment
 * generation after the copy (a reclaim during the copy makes the read retry), read misses from the
 * backing device and fill the cache through the placeholders (§4.2). A flush persists every open
 * kset (§4.3). When no segment is free, writers wait until GC reclaims one (§4.4).
 */
public final class CacheEngine implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(CacheEngine.class.getName());
    private static final long SPACE_WAIT_SLICE_MILLIS = 1000;
    private static final int ZERO_REGION_MAX = (int) PcacheFormat.SUBTREE_SIZE;
    private static final int CLEAN_BATCH = 10;
    /** Tries of one backing write or flush within a write-back step before the step fails. */
    private static final int WRITEBACK_ATTEMPTS = 5;
    private static final long RETRY_LOG_INTERVAL_NANOS = 10_000_000_000L;

    private final EngineConfig config;
    private final PmemRegion region;
    private final CrcProvider crc;
    private final KeyIndexProvider keyIndexes;
    private final BackingHolder backing;
    private final Supplier<WritebackPolicy> policy;
    private final Stats stats = new Stats();
    private final ScheduledExecutorService scheduler;
    private final Object spaceLock = new Object();
    private final Object writebackSignal = new Object();
    private final Object gcSignal = new Object();
    private final Object drainSignal = new Object();
    private final Object gcLock = new Object();
    private final Object zeroesLock = new Object();
    private final AtomicLong reclaimEpoch = new AtomicLong();
    private final AtomicLong persistedKsets = new AtomicLong();
    private final AtomicLong passedKsets = new AtomicLong();
    private final AtomicBoolean cleanerScheduled = new AtomicBoolean();
    private final KeyValidity validity;

    private CacheMetadata meta;
    private SegmentAllocator segments;
    private KeyIndex index;
    private KeyIndex scratch;
    private KeyLog keyLog;
    private DataHeads heads;
    private Quarantine quarantine;
    private long logicalSize;
    private volatile int gcPercent;
    private volatile boolean closed;
    private final java.util.concurrent.atomic.AtomicInteger draining = new java.util.concurrent.atomic.AtomicInteger();
    private volatile boolean purging;
    private volatile boolean writebackIdle;
    private volatile IOException lastWritebackError;
    private volatile long lastWritebackErrorNanos;
    /** Requests waiting for cache space (deferred): GC then ignores gc_percent. */
    private final AtomicInteger spaceWaiters = new AtomicInteger();
    /** When a retried backing error was last logged; retries are logged at most every 10 s. */
    private volatile long lastRetryLogNanos = System.nanoTime() - RETRY_LOG_INTERVAL_NANOS;
    private volatile String logDamage;
    private ByteBuffer zeroes;
    private Thread writebackThread;
    private Thread gcThread;

    private CacheEngine(EngineConfig config, PmemRegion region, CrcProvider crc, KeyIndexProvider keyIndexes,
            BackingHolder backing, Supplier<WritebackPolicy> policy) {
        this.config = config;
        this.region = region;
        this.crc = crc;
        this.keyIndexes = keyIndexes;
        this.backing = backing;
        this.policy = policy;
        this.gcPercent = config.gcPercent();
        ScheduledThreadPoolExecutor s = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "pcache-" + config.name() + "-timer");
            t.setDaemon(true);
            return t;
        });
        s.setRemoveOnCancelPolicy(true);
        this.scheduler = s;
        this.validity = key -> key.generation() >= segments.generation(key.segment());
    }

    /**
     * Opens the cache on {@code region}: formats a blank device (dm-pcache formats when the
     * superblock magic is 0), or loads and replays an existing one. Takes ownership of the region.
     * A new cache needs a backing device (its size is the logical size); an existing one records it.
     *
     * @throws CorruptMediaException for a foreign or damaged device, naming the structure and offset
     * @throws CacheConfigurationException when the configuration contradicts the device
     */
    public static CacheEngine open(EngineConfig config, PmemRegion region, CrcProvider crc,
            SegmentAllocatorProvider allocators, KeyIndexProvider keyIndexes, BackingHolder backing,
            Supplier<WritebackPolicy> policy) throws IOException {
        EngineConfig.checkGcPercent(config.gcPercent());
        CacheEngine e = new CacheEngine(config, region, crc, keyIndexes, backing, policy);
        boolean ok = false;
        try {
            e.load(allocators);
            e.startThreads();
            ok = true;
            return e;
        } finally {
            if (!ok) {
                e.abandon();
            }
        }
    }

    // ---------------------------------------------------------------- open, format, replay

    private void load(SegmentAllocatorProvider allocators) throws IOException {
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
        segments = allocators.create(new SegmentContext() {
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
                return CacheEngine.this::segmentReclaimed;
            }
        });
        meta.attach(segments);
        CacheInfo info = meta.loadInfo();
        if (info == null) {
            format();
        } else {
            CacheMetadata.checkDataCrc(info, config.dataCrc());
            segments.load(info.firstSegment(), info.segmentCount());
            meta.loadTails(segments.segmentCount());
            meta.loadExtension();
            BackingIdentity recorded = meta.extension().backing();
            BackingDevice bound = backing.peek();
            if (recorded != null) {
                logicalSize = recorded.sizeBytes();
            } else {
                // an image dm-pcache wrote records nothing: the backing device defines the size
                bound = backing.acquire(config.backingTimeoutMillis());
                logicalSize = bound.sizeBytes();
            }
            if (bound != null) {
                checkIdentity(bound);
            }
            quarantine = new Quarantine(ExtensionCodec.QUARANTINE_MAX, meta.extension().quarantine());
            createIndexAndLog();
            replay();
        }
        if (info != null) {
            // every start persists cache_info with INIT_DONE, as dm-pcache does
            meta.storeInfo(meta.info().withGcPercent(gcPercent).withInitDone());
        }
    }

    private void format() throws IOException {
        BackingDevice dev = backing.acquire(config.backingTimeoutMillis());
        int segNum = meta.segNum();
        LOG.log(System.Logger.Level.INFO, "cache {0}: formatting {1} ({2} segments) for backing device {3}",
                config.name(), region.description(), segNum, dev.description());
        segments.format(0, segNum);
        // the first key segment: zero its data area so no stale log can ever be replayed from it
        long data = segments.dataOffset(0);
        region.fill(data, PcacheFormat.SEG_DATA_SIZE, (byte) 0);
        region.flush(data, PcacheFormat.SEG_DATA_SIZE);
        region.fence();
        meta.formatTails();
        meta.loadExtension();
        logicalSize = dev.sizeBytes();
        meta.storeBackingIdentity(dev.identity());
        quarantine = new Quarantine(ExtensionCodec.QUARANTINE_MAX, List.of());
        int flags = CacheInfoCodec.flags(config.dataCrc(), true, CacheInfoCodec.MODE_WRITEBACK, gcPercent);
        createIndexAndLog();
        segments.markUsed(0);
        keyLog.start(new CachePos(0, 0));
        meta.formatInfo(new CacheInfo(0, segNum, flags));
    }

    private void createIndexAndLog() {
        if (logicalSize <= 0 || logicalSize % BlockDevice.SECTOR_SIZE != 0) {
            throw new IllegalStateException("logical size " + logicalSize + " is not a positive multiple of 512");
        }
        index = keyIndexes.createIndex(logicalSize);
        scratch = keyIndexes.createIndex(logicalSize);
        int streams = config.effectiveStreams();
        heads = new DataHeads(segments, streams);
        keyLog = keyIndexes.openLog(new KeyLogContext() {
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
                        persistedKsets.incrementAndGet();
                        // wake write-back only when it sleeps for lack of work: one wake-up per
                        // idle period, not one per kset (a context switch on every FUA write)
                        if (writebackIdle) {
                            signal(writebackSignal);
                        }
                    }

                    @Override
                    public void flushFailed(IOException error) {
                        LOG.log(System.Logger.Level.WARNING, "cache " + config.name()
                                + ": background kset flush failed, retrying: " + error.getMessage());
                    }
                };
            }
        });
    }

    /**
     * Replays the key log from key_tail (reference §3.6): every key record takes a reference on
     * its segment; keys of a current generation go into the index (later ones win); keys before
     * dirty_tail are already on the backing device.
     */
    private void replay() throws IOException {
        CachePos keyTail = meta.keyTail();
        CachePos dirtyTail = meta.dirtyTail();
        CachePos pos = keyTail;
        segments.markUsed(pos.segment());
        boolean dirty = pos.equals(dirtyTail);
        long dirtyKsets = 0;
        long keys = 0;
        long stale = 0;
        java.util.BitSet keySegments = new java.util.BitSet(segments.segmentCount());
        keySegments.set(pos.segment());
        while (true) {
            if (pos.equals(dirtyTail)) {
                dirty = true;
            }
            Kset k = keyLog.read(pos);
            if (k == null) {
                break;
            }
            if (dirty) {
                dirtyKsets++;
            }
            if (k.last()) {
                if (keySegments.get(k.nextSegment())) {
                    throw new CorruptMediaException("kset", kPosOffset(pos), "the LAST kset at " + pos
                            + " links the key log back to cache segment " + k.nextSegment()
                            + ", which is already on it: the log would loop");
                }
                keySegments.set(k.nextSegment());
                pos = k.next();
                segments.markUsed(pos.segment());
                continue;
            }
            for (int i = 0; i < k.keys().size(); i++) {
                CacheKey key = k.keys().get(i);
                checkReplayedKey(k, i, key);
                segments.markUsed(key.segment());
                segments.get(key.segment());
                keys++;
                if (key.generation() > segments.generation(key.segment())) {
                    throw generationWentBack(k, i, key);
                }
                if (key.generation() < segments.generation(key.segment())) {
                    stale++;
                    continue;
                }
                if (!dirty) {
                    key.markClean();
                } else if (!key.isClean()) {
                    stats.dirtyBytes.add(key.length());
                }
                KeySlice slice = index.slice(key.offset());
                slice.lock();
                try {
                    slice.insert(key, validity);
                } finally {
                    slice.unlock();
                }
            }
            pos = k.next();
        }
        if (!dirty) {
            if (!zeroHeaderAt(pos)) {
                // dirty_tail only ever passes persisted ksets: a log that breaks off at a damaged
                // kset before reaching it lost that kset and everything after it
                throw new CorruptMediaException("kset", kPosOffset(pos), "the key log from key_tail " + keyTail
                        + " breaks off at " + pos + ", where the kset fails its magic or CRC check, before it"
                        + " reaches dirty_tail " + dirtyTail + ": the ksets after it cannot be found (the data they"
                        + " describe is not written back); pcache:fsck shows the damage");
            }
            throw new CorruptMediaException("dirty_tail", PcacheFormat.DIRTY_TAIL_OFF, "points to " + dirtyTail
                    + ", which is not on the key log from key_tail " + keyTail + " to its end " + pos
                    + "; the cache cannot tell what is written back");
        }
        if (!zeroHeaderAt(pos)) {
            int following = validKsetsAfter(pos);
            if (following > 0) {
                // dm-pcache's ksets carry no sequence number: a kset torn by a power cut while later
                // ones were being written (never acknowledged) looks the same as one damaged later
                LOG.log(System.Logger.Level.ERROR, "cache " + config.name() + ": the key log ends at " + pos
                        + " (device offset " + kPosOffset(pos) + "), where the kset fails its magic or CRC check,"
                        + " but " + following + " valid kset(s) follow it. After a power cut this is a kset torn"
                        + " while later ones were written (nothing there was acknowledged); otherwise the cache"
                        + " device is damaged there and the writes recorded from there on are lost. The log"
                        + " continues from " + pos + "; keep a copy of the device before writing to it if the"
                        + " cache was not stopped by a crash");
            }
        }
        persistedKsets.set(dirtyKsets);
        passedKsets.set(0);
        keyLog.start(pos);
        LOG.log(System.Logger.Level.INFO, "cache {0}: replayed {1} keys ({2} stale) from {3} to {4}, dirty from {5}",
                config.name(), keys, stale, keyTail, pos, dirtyTail);
    }

    private long kPosOffset(CachePos pos) {
        return segments.dataOffset(pos.segment()) + pos.offset();
    }

    /**
     * A key newer than its segment: a segment's generation is persisted before the segment is
     * reused (reference §7.2), so the record lost its newest copy and went back. Opening anyway
     * would let the key outlive the segment's next reclaim and read its next occupant's data.
     */
    private CorruptMediaException generationWentBack(Kset k, int i, CacheKey key) {
        int seg = key.segment();
        return new CorruptMediaException("segment generation",
                PcacheFormat.segmentOffset(segments.physicalId(seg)) + PcacheFormat.SEG_GEN_OFF, "cache segment " + seg
                        + " records generation " + segments.generation(seg) + ", but key " + i + " of the kset at "
                        + k.position() + " was written under generation " + key.generation() + ": the generation"
                        + " record went back (its newest copy is damaged), and stale keys could come back;"
                        + " pcache:fsck shows the damage");
    }

    /**
     * How many valid ksets follow the damaged kset at {@code pos} ({@link KsetContinuation}); 0
     * when there is none. Counts at most 1,000.
     */
    private int validKsetsAfter(CachePos pos) throws IOException {
        byte[] header = new byte[PcacheFormat.KSET_HEADER_SIZE];
        region.read(kPosOffset(pos), header, 0, header.length);
        int keyNum = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN).getInt(KsetContinuation.KEY_NUM_OFF);
        List<CachePos> candidates = KsetContinuation.candidates(pos, keyNum, s -> s >= 0 && s < segments.segmentCount());
        for (CachePos c : candidates) {
            int count = 0;
            CachePos p = c;
            try {
                while (count < 1000) {
                    Kset k = keyLog.read(p);
                    if (k == null) {
                        break;
                    }
                    count++;
                    p = k.next();
                }
            } catch (IOException | RuntimeException e) {
                // a bogus link: what was counted so far stands
            }
            if (count > 0) {
                return count;
            }
        }
        return 0;
    }

    /** Whether the log ends at {@code pos} cleanly: zeroes (or no room for a header) there. */
    private boolean zeroHeaderAt(CachePos pos) throws IOException {
        if ((long) pos.offset() + PcacheFormat.KSET_HEADER_SIZE > PcacheFormat.SEG_DATA_SIZE) {
            return true;
        }
        byte[] header = new byte[PcacheFormat.KSET_HEADER_SIZE];
        region.read(kPosOffset(pos), header, 0, header.length);
        return ImageSlots.allZero(header);
    }

    /** Keys are validated before use: dm-pcache indexes arrays with them unchecked (§3.6). */
    private void checkReplayedKey(Kset k, int i, CacheKey key) throws CorruptMediaException {
        String problem = null;
        if (key.length() <= 0 || key.length() > PcacheFormat.SUBTREE_SIZE) {
            problem = "has length " + key.length();
        } else if (key.offset() < 0 || key.end() > logicalSize) {
            problem = "covers [" + key.offset() + ", " + key.end() + ") outside the logical device of "
                    + logicalSize + " bytes";
        } else if ((key.offset() >>> PcacheFormat.SUBTREE_SHIFT) != ((key.end() - 1) >>> PcacheFormat.SUBTREE_SHIFT)) {
            problem = "crosses a 4 MiB boundary";
        } else if (key.segment() < 0 || key.segment() >= segments.segmentCount()) {
            problem = "points to cache segment " + key.segment() + ", outside the cache's "
                    + segments.segmentCount() + " segments";
        } else if (key.segmentOffset() < 0 || (long) key.segmentOffset() + key.length() > PcacheFormat.SEG_DATA_SIZE) {
            problem = "points to [" + key.segmentOffset() + ", +" + key.length() + ") outside a segment's data area";
        } else if (key.isEmpty()) {
            problem = "is marked EMPTY (placeholders never reach media)";
        }
        if (problem != null) {
            long at = kPosOffset(k.position()) + PcacheFormat.KSET_HEADER_SIZE + (long) i * PcacheFormat.KEY_SIZE;
            throw new CorruptMediaException("key", at, "key " + i + " of the kset at " + k.position() + " " + problem);
        }
    }

    /**
     * Checks that {@code device} is the backing device this cache belongs to; records it on first
     * pairing (or when forced).
     */
    public void checkIdentity(BackingDevice device) throws IOException {
        BackingIdentity offered = device.identity();
        BackingIdentity recorded = meta.extension().backing();
        if (offered.sizeBytes() != logicalSize) {
            throw new CacheConfigurationException("backing device " + device.description() + " has "
                    + offered.sizeBytes() + " bytes but cache " + config.name() + " caches a device of "
                    + logicalSize + " bytes; a cache cannot change size: use a backing device of that size");
        }
        if (recorded == null) {
            meta.storeBackingIdentity(offered);
            return;
        }
        if (!recorded.equals(offered)) {
            if (!config.forceIdentity()) {
                throw new CacheConfigurationException("backing device " + device.description() + " has identity "
                        + offered + ", but cache " + config.name() + " belongs to " + recorded
                        + "; refusing it, because dirty data would be written onto the wrong disk. If this is"
                        + " the same data reached another way, set the backing device's identity label to '"
                        + recorded.id() + "', or set force_identity=true to re-pair the cache");
            }
            LOG.log(System.Logger.Level.WARNING, "cache {0}: re-pairing with backing device {1} ({2}) instead of {3}"
                    + " because force_identity is set", config.name(), device.description(), offered, recorded);
            meta.storeBackingIdentity(offered);
        }
    }

    private void startThreads() {
        writebackThread = new Thread(this::writebackLoop, "pcache-" + config.name() + "-writeback");
        writebackThread.setDaemon(true);
        gcThread = new Thread(this::gcLoop, "pcache-" + config.name() + "-gc");
        gcThread.setDaemon(true);
        writebackThread.start();
        gcThread.start();
    }

    // ---------------------------------------------------------------- accessors

    public String name() {
        return config.name();
    }

    public long logicalSize() {
        return logicalSize;
    }

    public EngineConfig config() {
        return config;
    }

    public int gcPercent() {
        return gcPercent;
    }

    /** Sets and persists the GC threshold. */
    public synchronized void setGcPercent(int percent) throws IOException {
        EngineConfig.checkGcPercent(percent);
        meta.storeInfo(meta.info().withGcPercent(percent));
        gcPercent = percent;
        signal(gcSignal);
    }

    /** The status line fields plus pcache's; {@code mode} comes from the facade. */
    public CacheStatus status(CacheMode mode) {
        return new CacheStatus(config.name(), meta.sbFlags(), meta.segNum(), segments.segmentCount(),
                segments.usedCount(), gcPercent, meta.info().flags(), keyLog.head(), meta.dirtyTail(),
                meta.keyTail(), mode, config.dataCrc(), backing.state(), backing.describe(),
                region.description());
    }

    public CacheStatistics statistics() {
        return new CacheStatistics(stats.readRequests.sum(), stats.readHits.sum(), stats.readMisses.sum(),
                stats.readPartialHits.sum(), stats.bytesRead.sum(), stats.bytesReadFromCache.sum(),
                stats.bytesWritten.sum(), stats.writeRequests.sum(), stats.fuaWrites.sum(), stats.flushes.sum(),
                stats.trims.sum(), stats.deferredRequests.sum(), stats.dirtyBytes.sum(), index.keyCount(),
                segments.usedCount(), segments.segmentCount(), stats.writebackKsets.sum(),
                stats.writebackBytes.sum(), stats.writebackErrors.sum(), stats.gcKsets.sum(),
                stats.gcSegmentsReclaimed.sum(), stats.crcErrors.sum(), stats.crcRecovered.sum(),
                quarantine.snapshot().size(), stats.backingErrors.sum());
    }

    /** A description of damage found in the key log by write-back or GC, or null. */
    public String logDamage() {
        return logDamage;
    }

    /** The quarantined ranges (for tools and tests). */
    List<Range> quarantined() {
        return quarantine.snapshot();
    }

    KeyIndex index() {
        return index;
    }

    SegmentAllocator segments() {
        return segments;
    }

    // ---------------------------------------------------------------- writes

    /** Writes {@code src} at {@code offset} into the cache (write-back semantics). */
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        checkOpen();
        BlockDevice.checkRange(config.name(), logicalSize, BlockDevice.SECTOR_SIZE, offset, src.remaining());
        stats.writeRequests.increment();
        if (fua) {
            stats.fuaWrites.increment();
        }
        int total = src.remaining();
        long pos = offset;
        while (src.hasRemaining()) {
            int want = (int) Math.min(src.remaining(), sliceEnd(pos) - pos);
            Allocation a = allocateWaiting(want);
            ByteBuffer part = src.slice(src.position(), a.length());
            long at = segments.dataOffset(a.segment()) + a.offset();
            try {
                region.write(at, part.duplicate());
                region.flush(at, a.length());
                region.fence();
            } catch (IOException e) {
                segments.put(a.segment());
                throw e;
            }
            CacheKey key = new CacheKey(pos, a.length()).place(a.segment(), a.offset(), a.generation());
            if (config.dataCrc()) {
                key.setDataCrc(crc.checksum(part));
            }
            insertAndLog(key, a, fua);
            stats.dirtyBytes.add(a.length());
            src.position(src.position() + a.length());
            pos += a.length();
        }
        clearQuarantine(offset, total);
        stats.bytesWritten.add(total);
    }

    /** Inserts a key whose data is durable and appends it to the log, under its slice lock. */
    private void insertAndLog(CacheKey key, Allocation a, boolean fua) throws IOException {
        KeySlice slice = index.slice(key.offset());
        slice.lock();
        try {
            slice.insert(key, validity);
            keyLog.append(key, fua);
        } catch (IOException | RuntimeException e) {
            // the key is not in the log: nothing will drop its reference later
            slice.remove(key);
            segments.put(a.segment());
            throw e;
        } finally {
            slice.unlock();
        }
    }

    /** Makes {@code [offset, offset + length)} read as zeroes: keys pointing at one zeroed region. */
    public void writeZeroes(long offset, long length, boolean fua) throws IOException {
        checkOpen();
        BlockDevice.checkRange(config.name(), logicalSize, BlockDevice.SECTOR_SIZE, offset, length);
        stats.writeRequests.increment();
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            int want = (int) Math.min(end - pos, ZERO_REGION_MAX);
            Allocation a = allocateWaiting(want);
            long at = segments.dataOffset(a.segment()) + a.offset();
            try {
                region.fill(at, a.length(), (byte) 0);
                region.flush(at, a.length());
                region.fence();
            } catch (IOException e) {
                segments.put(a.segment());
                throw e;
            }
            // a short allocation (end of a segment) is used for one key only
            boolean reuse = a.length() >= Math.min(want, 1 << 20);
            boolean first = true;
            do {
                int len = (int) Math.min(Math.min(a.length(), sliceEnd(pos) - pos), end - pos);
                if (!first) {
                    segments.get(a.segment());
                }
                first = false;
                CacheKey key = new CacheKey(pos, len).place(a.segment(), a.offset(), a.generation());
                if (config.dataCrc()) {
                    key.setDataCrc(crcOfZeroes(len));
                }
                insertAndLog(key, new Allocation(a.segment(), a.offset(), a.generation(), len), false);
                stats.dirtyBytes.add(len);
                pos += len;
            } while (reuse && pos < end);
        }
        if (fua) {
            keyLog.flush();
        }
        clearQuarantine(offset, length);
        stats.bytesWritten.add(length);
    }

    private int crcOfZeroes(int length) {
        synchronized (zeroesLock) {
            if (zeroes == null) {
                zeroes = ByteBuffer.allocateDirect(ZERO_REGION_MAX);
            }
        }
        return crc.checksum(zeroes.duplicate().limit(length));
    }

    /** Drops {@code [offset, offset + length)} from the cache index (trim). */
    public void trim(long offset, long length) throws IOException {
        checkOpen();
        BlockDevice.checkRange(config.name(), logicalSize, BlockDevice.SECTOR_SIZE, offset, length);
        stats.trims.increment();
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            long len = Math.min(end - pos, sliceEnd(pos) - pos);
            KeySlice slice = index.slice(pos);
            slice.lock();
            try {
                slice.removeRange(pos, len);
            } finally {
                slice.unlock();
            }
            pos += len;
        }
        clearQuarantine(offset, length);
    }

    /** Persists every open kset: every write acknowledged before this call is durable after it. */
    public void flush() throws IOException {
        checkOpen();
        stats.flushes.increment();
        keyLog.flush();
    }

    private long sliceEnd(long pos) {
        return Math.min(logicalSize, (pos & ~(PcacheFormat.SUBTREE_SIZE - 1)) + PcacheFormat.SUBTREE_SIZE);
    }

    /**
     * Takes cache space, waiting (deferral, §4.4) while none is free. While anyone waits, GC
     * reclaims whatever is written back even below gc_percent: the allocator keeps a segment in
     * reserve for the key log, so with a high gc_percent on a small cache the threshold could
     * otherwise never be reached and the writer would wait forever.
     */
    private Allocation allocateWaiting(int wanted) throws IOException {
        boolean counted = false;
        try {
            while (true) {
                long epoch = reclaimEpoch.get();
                try {
                    return heads.allocate(wanted);
                } catch (DataHeads.NoSpace e) {
                    if (!counted) {
                        stats.deferredRequests.increment();
                        spaceWaiters.incrementAndGet();
                        counted = true;
                    }
                    signal(gcSignal);
                    signal(writebackSignal);
                    synchronized (spaceLock) {
                        checkOpen();
                        if (reclaimEpoch.get() == epoch) {
                            // woken by a reclaim; the timeout is only a safety net, not a poll loop
                            try {
                                spaceLock.wait(SPACE_WAIT_SLICE_MILLIS);
                            } catch (InterruptedException ie) {
                                Thread.currentThread().interrupt();
                                throw new InterruptedIOException("interrupted while waiting for free cache space in "
                                        + config.name());
                            }
                        }
                    }
                    checkOpen();
                }
            }
        } finally {
            if (counted) {
                spaceWaiters.decrementAndGet();
            }
        }
    }

    private void segmentReclaimed(int segment) {
        stats.gcSegmentsReclaimed.increment();
        reclaimEpoch.incrementAndGet();
        synchronized (spaceLock) {
            spaceLock.notifyAll();
        }
        scheduleCleaner();
    }

    // ---------------------------------------------------------------- reads

    /** One piece of a read: a hit to copy, or a miss to read from the backing device. */
    private static final class Piece {
        final long position;
        final int length;
        final CacheKey key; // hit: the key; miss: the placeholder (ours or another reader's)
        final boolean hit;
        final boolean ownPlaceholder;
        int segment;
        int segmentOffset;
        long generation;
        boolean clean;
        int dataCrc;
        int crcSegmentOffset;
        int crcLength;

        Piece(long position, int length, CacheKey key, boolean hit, boolean ownPlaceholder) {
            this.position = position;
            this.length = length;
            this.key = key;
            this.hit = hit;
            this.ownPlaceholder = ownPlaceholder;
        }
    }

    /** Collects the pieces of one slice's part of a read (called under the slice lock). */
    private static final class ReadPlan implements ExtentVisitor {
        final List<Piece> pieces = new ArrayList<>(4);

        @Override
        public boolean hit(CacheKey key, long position, int length) {
            Piece p = new Piece(position, length, key, !key.isEmpty(), false);
            if (p.hit) {
                p.segment = key.segment();
                p.segmentOffset = key.segmentOffset() + (int) (position - key.offset());
                p.generation = key.generation();
                p.clean = key.isClean();
                p.dataCrc = key.dataCrc();
                p.crcSegmentOffset = key.crcSegmentOffset();
                p.crcLength = key.crcLength();
            }
            pieces.add(p);
            return true;
        }

        @Override
        public boolean gap(long position, int length) {
            pieces.add(new Piece(position, length, CacheKey.placeholder(position, length), false, true));
            return true;
        }
    }

    /** Reads {@code dst.remaining()} bytes at {@code offset} through the cache. */
    public void read(long offset, ByteBuffer dst) throws IOException {
        checkOpen();
        int total = dst.remaining();
        BlockDevice.checkRange(config.name(), logicalSize, BlockDevice.SECTOR_SIZE, offset, total);
        checkQuarantine(offset, total);
        stats.readRequests.increment();
        long fromCache = 0;
        long pos = offset;
        int base = dst.position();
        while (pos < offset + total) {
            int len = (int) Math.min(offset + total - pos, sliceEnd(pos) - pos);
            fromCache += readSlicePart(pos, dst.slice(base + (int) (pos - offset), len));
            pos += len;
        }
        dst.position(base + total);
        stats.bytesRead.add(total);
        stats.bytesReadFromCache.add(fromCache);
        if (fromCache == total) {
            stats.readHits.increment();
        } else if (fromCache == 0) {
            stats.readMisses.increment();
        } else {
            stats.readPartialHits.increment();
        }
    }

    /** Reads one slice's part; {@code out} covers exactly it. Returns the bytes served from pmem. */
    private long readSlicePart(long pos, ByteBuffer out) throws IOException {
        int len = out.remaining();
        KeySlice slice = index.slice(pos);
        while (true) {
            ReadPlan plan = new ReadPlan();
            slice.lock();
            try {
                slice.walk(pos, len, validity, plan);
                for (Piece p : plan.pieces) {
                    if (p.ownPlaceholder) {
                        slice.insertPlaceholder(p.key);
                    }
                }
            } finally {
                slice.unlock();
            }
            try {
                Long served = serve(slice, pos, out, plan);
                if (served != null) {
                    return served;
                }
            } catch (IOException | RuntimeException e) {
                removeOwnPlaceholders(slice, plan);
                throw e;
            }
        }
    }

    /** Copies the hits and reads the misses of a plan; null when the plan went stale and must be redone. */
    private Long serve(KeySlice slice, long pos, ByteBuffer out, ReadPlan plan) throws IOException {
        {
            long fromCache = 0;
            List<Piece> bad = null;
            for (Piece p : plan.pieces) {
                if (!p.hit) {
                    continue;
                }
                ByteBuffer target = out.slice((int) (p.position - pos), p.length);
                region.read(segments.dataOffset(p.segment) + p.segmentOffset, target);
                // the copy is valid only if the segment was not reclaimed meanwhile
                if (segments.generation(p.segment) != p.generation) {
                    if (bad == null) {
                        bad = new ArrayList<>();
                    }
                    bad.add(p);
                    continue;
                }
                if (config.dataCrc() && !verifyHit(p)) {
                    if (bad == null) {
                        bad = new ArrayList<>();
                    }
                    bad.add(p);
                    continue;
                }
                fromCache += p.length;
            }
            if (bad != null) {
                removeOwnPlaceholders(slice, plan);
                slice.lock();
                try {
                    for (Piece p : bad) {
                        slice.remove(p.key);
                    }
                } finally {
                    slice.unlock();
                }
                return null;
            }
            for (Piece p : plan.pieces) {
                if (!p.hit) {
                    readMiss(slice, p, out.slice((int) (p.position - pos), p.length));
                }
            }
            return fromCache;
        }
    }

    private static void removeOwnPlaceholders(KeySlice slice, ReadPlan plan) {
        slice.lock();
        try {
            for (Piece p : plan.pieces) {
                if (p.ownPlaceholder && p.key.isEmpty()) {
                    slice.remove(p.key);
                }
            }
        } finally {
            slice.unlock();
        }
    }

    /**
     * Verifies the data CRC of a hit (beyond dm-pcache, which never checks on reads). A clean
     * extent that fails is dropped and re-read from the backing device (the caller retries); a
     * dirty one is the only copy of its data, so the read fails and the range is quarantined.
     *
     * @return true when the data is good
     */
    private boolean verifyHit(Piece p) throws IOException {
        int storedCrc = p.dataCrc;
        int actual = crc.checksum(region.view(segments.dataOffset(p.segment) + p.crcSegmentOffset, p.crcLength));
        if (actual == storedCrc || segments.generation(p.segment) != p.generation) {
            return segments.generation(p.segment) == p.generation;
        }
        stats.crcErrors.increment();
        if (p.clean) {
            stats.crcRecovered.increment();
            LOG.log(System.Logger.Level.WARNING, "cache {0}: clean extent at [{1}, +{2}) failed its data CRC; "
                    + "re-reading it from the backing device", config.name(), p.position, p.length);
            return false;
        }
        long qOff = p.position;
        long qLen = p.length;
        addQuarantine(qOff, qLen);
        throw new DataIntegrityException("cache " + config.name() + ": dirty extent [" + qOff + ", +" + qLen
                + ") failed its data CRC (stored 0x" + Integer.toHexString(storedCrc) + ", computed 0x"
                + Integer.toHexString(actual) + "); its newest data is lost and the range is quarantined:"
                + " reads fail until it is written again", qOff, qLen);
    }

    /** Reads a miss from the backing device into {@code out} and fills the cache through our placeholder. */
    private void readMiss(KeySlice slice, Piece p, ByteBuffer out) throws IOException {
        backingRead(p.position, out.duplicate());
        if (p.ownPlaceholder) {
            fill(slice, p.key, out);
        }
    }

    /**
     * Caches the bytes just read for a placeholder (reference §4.2 "miss completion"). A data head
     * near the end of its segment gives a short allocation; the rest goes to further allocations,
     * one key each, so a large miss is cached whole while there is space.
     */
    private void fill(KeySlice slice, CacheKey placeholder, ByteBuffer data) throws IOException {
        List<Allocation> pieces = new ArrayList<>(2);
        int total = 0;
        try {
            while (total < data.remaining()) {
                Allocation a;
                try {
                    a = heads.allocate(data.remaining() - total);
                } catch (DataHeads.NoSpace e) {
                    break; // no more space: cache what was allocated, the read is served anyway
                }
                pieces.add(a);
                long at = segments.dataOffset(a.segment()) + a.offset();
                int from = data.position() + total;
                region.write(at, data.duplicate().position(from).limit(from + a.length()));
                region.flush(at, a.length());
                total += a.length();
            }
            if (pieces.isEmpty()) {
                removePlaceholder(slice, placeholder);
                return;
            }
            region.fence();
        } catch (IOException e) {
            for (Allocation a : pieces) {
                segments.put(a.segment());
            }
            removePlaceholder(slice, placeholder);
            return;
        }
        slice.lock();
        try {
            if (!placeholder.isLinked() || !placeholder.isEmpty()) {
                for (Allocation a : pieces) { // overtaken by a write: never install older data
                    segments.put(a.segment());
                }
                return;
            }
            // a concurrent write may have cut the placeholder's back: cache only what it still covers
            int length = Math.min(placeholder.length(), total);
            slice.remove(placeholder);
            int done = 0;
            for (Allocation a : pieces) {
                int n = Math.min(a.length(), length - done);
                if (n <= 0) {
                    segments.put(a.segment());
                    continue;
                }
                CacheKey key = new CacheKey(placeholder.offset() + done, n).place(a.segment(), a.offset(), a.generation());
                key.markClean();
                if (config.dataCrc()) {
                    int from = data.position() + done;
                    key.setDataCrc(crc.checksum(data.duplicate().position(from).limit(from + n)));
                }
                slice.insert(key, validity);
                try {
                    keyLog.append(key, false);
                } catch (IOException e) {
                    slice.remove(key);
                    segments.put(a.segment());
                }
                done += n;
            }
        } finally {
            slice.unlock();
        }
    }

    private void removePlaceholder(KeySlice slice, CacheKey placeholder) {
        slice.lock();
        try {
            slice.remove(placeholder);
        } finally {
            slice.unlock();
        }
    }

    // ---------------------------------------------------------------- backing I/O

    private void backingRead(long offset, ByteBuffer dst) throws IOException {
        int pos = dst.position();
        long deadline = System.nanoTime() + config.backingTimeoutMillis() * 1_000_000L;
        while (true) {
            BackingDevice dev = backing.acquire(Math.max(1, (deadline - System.nanoTime()) / 1_000_000L));
            try {
                dev.read(offset, dst);
                return;
            } catch (DeviceClosedException e) {
                // the device went away under us (a swap): re-issue on its successor
                if (backing.peek() == dev || System.nanoTime() > deadline) {
                    stats.backingErrors.increment();
                    throw new BackingDeviceException("cache " + config.name() + ": backing device "
                            + dev.description() + " closed during a read: " + e.getMessage(), e);
                }
                dst.position(pos);
            } catch (IOException e) {
                stats.backingErrors.increment();
                throw e;
            }
        }
    }

    /** The bound backing device for write-back, waiting as requests do. */
    private BackingDevice backingForWriteback() throws IOException {
        return backing.acquire(config.backingTimeoutMillis());
    }

    // ---------------------------------------------------------------- quarantine

    private void checkQuarantine(long offset, long length) throws DataIntegrityException {
        if (quarantine.isEmpty()) {
            return;
        }
        Range r = quarantine.overlapping(offset, length);
        if (r != null) {
            throw new DataIntegrityException("cache " + config.name() + ": range [" + r.offset() + ", +" + r.length()
                    + ") is quarantined: its newest data failed its CRC and is lost; write or trim it to"
                    + " use it again", r.offset(), r.length());
        }
    }

    private void addQuarantine(long offset, long length) throws IOException {
        if (quarantine.add(offset, length)) {
            meta.storeQuarantine(quarantine.snapshot());
        }
    }

    private void clearQuarantine(long offset, long length) throws IOException {
        if (!quarantine.isEmpty() && quarantine.clear(offset, length)) {
            meta.storeQuarantine(quarantine.snapshot());
        }
    }

    // ---------------------------------------------------------------- write-back

    private void writebackLoop() {
        long backoff = 100;
        WritebackContextImpl ctx = new WritebackContextImpl();
        while (!closed) {
            WritebackPolicy p = policy.get();
            try {
                long seen = persistedKsets.get();
                if (p == null) {
                    // nothing can be written back until a policy is bound: new ksets need not wake us
                    await(writebackSignal, config.gcIntervalMillis());
                    continue;
                }
                WritebackOutcome outcome = p.step(ctx);
                if (lastWritebackError != null) {
                    LOG.log(System.Logger.Level.INFO, "cache {0}: write-back works again", config.name());
                    lastWritebackError = null;
                }
                backing.setFailing(false);
                backoff = 100;
                if (outcome == WritebackOutcome.IDLE) {
                    idleUntilNewKsets(seen);
                } else if (outcome == WritebackOutcome.DEFERRED) {
                    await(writebackSignal, Math.min(100, config.gcIntervalMillis()));
                }
            } catch (InterruptedException e) {
                if (closed) {
                    return;
                }
            } catch (IOException | RuntimeException e) {
                if (closed) {
                    return;
                }
                stats.writebackErrors.increment();
                if (e instanceof IOException io) {
                    if (lastWritebackError == null) {
                        LOG.log(System.Logger.Level.WARNING, "cache " + config.name() + ": write-back failed, will"
                                + " retry with back-off (dirty data stays safe in the cache): " + e.getMessage());
                    }
                    lastWritebackError = io;
                    lastWritebackErrorNanos = System.nanoTime();
                    backing.setFailing(true);
                } else {
                    LOG.log(System.Logger.Level.ERROR, "cache " + config.name() + ": write-back step failed", e);
                }
                try {
                    await(writebackSignal, backoff);
                } catch (InterruptedException ie) {
                    if (closed) {
                        return;
                    }
                }
                backoff = Math.min(backoff * 2, 5000);
            }
            synchronized (drainSignal) {
                drainSignal.notifyAll();
            }
        }
    }

    /**
     * Sleeps until a kset is persisted after {@code seen} (or the idle interval passes). The flag
     * is set under the monitor and the count re-checked, so a kset persisted just before the wait
     * is not missed.
     */
    private void idleUntilNewKsets(long seen) throws InterruptedException {
        synchronized (writebackSignal) {
            writebackIdle = true;
            try {
                if (persistedKsets.get() == seen) {
                    writebackSignal.wait(Math.max(1, config.gcIntervalMillis()));
                }
            } finally {
                writebackIdle = false;
            }
        }
    }

    /** One backing operation of a write-back step. */
    @FunctionalInterface
    private interface BackingStep {
        void run() throws IOException;
    }

    /** What policies see: the engine's log, index provider and backing device for one step at a time. */
    private final class WritebackContextImpl implements WritebackContext {
        private final ByteBuffer bounce = ByteBuffer.allocateDirect(8 << 20);

        @Override
        public CachePos dirtyTail() {
            return meta.dirtyTail();
        }

        @Override
        public CachePos keyHead() {
            return keyLog.persistedHead();
        }

        @Override
        public Kset readKset(CachePos position) throws IOException {
            CachePos durable = keyLog.persistedHead();
            if (position.equals(durable)) {
                return null;
            }
            Kset k = keyLog.read(position);
            if (k == null) {
                String damage = "cache " + config.name() + ": the kset at " + position
                        + " (before the durable end of the log " + durable + ") is unreadable; write-back"
                        + " cannot pass it";
                if (!damage.equals(logDamage)) {
                    logDamage = damage;
                    LOG.log(System.Logger.Level.ERROR, damage);
                }
            }
            return k;
        }

        @Override
        public KeyIndex scratchIndex() {
            scratch.clear();
            return scratch;
        }

        @Override
        public void writeBack(List<CacheKey> extent) throws IOException {
            List<CacheKey> run = new ArrayList<>(extent.size());
            for (CacheKey k : extent) {
                if (config.dataCrc() && !verifyForWriteback(k)) {
                    writeRun(run);
                    run.clear();
                    continue;
                }
                run.add(k);
            }
            writeRun(run);
        }

        private boolean verifyForWriteback(CacheKey k) throws IOException {
            int actual = crc.checksum(region.view(segments.dataOffset(k.segment()) + k.crcSegmentOffset(), k.crcLength()));
            if (actual == k.dataCrc()) {
                return true;
            }
            stats.crcErrors.increment();
            LOG.log(System.Logger.Level.ERROR, "cache {0}: dirty extent [{1}, +{2}) failed its data CRC during"
                    + " write-back; quarantined (reads of it fail until it is rewritten)", config.name(),
                    k.offset(), k.length());
            addQuarantine(k.offset(), k.length());
            return false;
        }

        /**
         * Writes one run, retrying it a few times with a short back-off before giving up the
         * step: a backing device that fails some writes (a flaky link, an overloaded server)
         * would otherwise make a step of many writes fail almost always, and write-back would
         * retry whole ksets forever without progress.
         */
        private void writeRun(List<CacheKey> run) throws IOException {
            retrying(() -> writeRunOnce(run));
        }

        private void writeRunOnce(List<CacheKey> run) throws IOException {
            if (run.isEmpty()) {
                return;
            }
            BackingDevice dev = backingForWriteback();
            try {
                if (run.size() == 1) {
                    CacheKey k = run.get(0);
                    dev.write(k.offset(), region.view(segments.dataOffset(k.segment()) + k.segmentOffset(), k.length()), false);
                    stats.writebackBytes.add(k.length());
                    return;
                }
                long start = run.get(0).offset();
                bounce.clear();
                for (CacheKey k : run) {
                    if (bounce.remaining() < k.length()) {
                        bounce.flip();
                        dev.write(start, bounce, false);
                        start += bounce.limit();
                        bounce.clear();
                    }
                    region.read(segments.dataOffset(k.segment()) + k.segmentOffset(), bounce.slice(bounce.position(), k.length()));
                    bounce.position(bounce.position() + k.length());
                    stats.writebackBytes.add(k.length());
                }
                bounce.flip();
                if (bounce.hasRemaining()) {
                    dev.write(start, bounce, false);
                }
            } catch (IOException e) {
                stats.backingErrors.increment();
                throw e;
            }
        }

        @Override
        public void flushBacking() throws IOException {
            retrying(() -> {
                try {
                    backingForWriteback().flush();
                } catch (IOException e) {
                    stats.backingErrors.increment();
                    throw e;
                }
            });
        }

        private void retrying(BackingStep step) throws IOException {
            long backoff = 10;
            for (int attempt = 1; ; attempt++) {
                try {
                    step.run();
                    return;
                } catch (DeviceClosedException | pcache.api.BackingUnavailableException e) {
                    throw e; // no device: the write-back loop waits for one
                } catch (IOException e) {
                    if (attempt >= WRITEBACK_ATTEMPTS || closed) {
                        throw e;
                    }
                    long now = System.nanoTime();
                    if (now - lastRetryLogNanos >= RETRY_LOG_INTERVAL_NANOS) {
                        lastRetryLogNanos = now;
                        LOG.log(System.Logger.Level.WARNING, "cache " + config.name() + ": backing device error"
                                + " during write-back (attempt " + attempt + " of " + WRITEBACK_ATTEMPTS + "), will retry"
                                + " with back-off (dirty data stays safe in the cache; further retries are counted in"
                                + " backing_errors and logged at most every 10 s): " + e.getMessage());
                    }
                    try {
                        Thread.sleep(backoff);
                    } catch (InterruptedException ie) {
                        Thread.currentThread().interrupt();
                        throw new InterruptedIOException("write-back of cache " + config.name() + " interrupted");
                    }
                    backoff = Math.min(backoff * 4, 1000);
                }
            }
        }

        @Override
        public void advanceDirtyTail(List<Kset> passed) throws IOException {
            if (passed.isEmpty()) {
                return;
            }
            if (!passed.get(0).position().equals(meta.dirtyTail())) {
                throw new IllegalStateException("write-back policy passed ksets from " + passed.get(0).position()
                        + " but dirty_tail is " + meta.dirtyTail());
            }
            CachePos next = passed.get(passed.size() - 1).next();
            meta.storeDirtyTail(next);
            long bytes = 0;
            for (Kset k : passed) {
                bytes += k.dirtyBytes();
                if (!k.last()) {
                    stats.writebackKsets.increment();
                    markClean(k);
                }
            }
            stats.dirtyBytes.add(-bytes);
            passedKsets.addAndGet(passed.size());
            logDamage = null;
            signal(gcSignal);
        }

        @Override
        public long dirtyBytes() {
            return stats.dirtyBytes.sum();
        }

        @Override
        public int usedPercent() {
            return (int) (100L * segments.usedCount() / segments.segmentCount());
        }

        @Override
        public long capacityBytes() {
            return (long) segments.segmentCount() * PcacheFormat.SEG_DATA_SIZE;
        }

        @Override
        public boolean draining() {
            return draining.get() > 0 || purging;
        }
    }

    /** After write-back: index keys holding exactly the written data are now clean in memory. */
    private void markClean(Kset k) {
        for (CacheKey written : k.keys()) {
            if (written.isClean()) {
                continue;
            }
            KeySlice slice = index.slice(written.offset());
            slice.lock();
            try {
                slice.walk(written.offset(), written.length(), validity, new ExtentVisitor() {
                    @Override
                    public boolean hit(CacheKey t, long position, int length) {
                        if (!t.isEmpty() && t.segment() == written.segment() && t.generation() == written.generation()
                                && t.segmentOffset() - (t.offset() - written.offset()) == written.segmentOffset()) {
                            t.markClean();
                        }
                        return true;
                    }

                    @Override
                    public boolean gap(long position, int length) {
                        return true;
                    }
                });
            } finally {
                slice.unlock();
            }
        }
    }

    /**
     * Writes back everything dirty now (after persisting open ksets), waiting for it.
     *
     * @throws BackingDeviceException when write-back fails for longer than the backing timeout
     */
    public void drain(DrainProgress progress) throws IOException {
        checkOpen();
        keyLog.flush();
        long target = persistedKsets.get();
        long initial = stats.dirtyBytes.sum();
        draining.incrementAndGet();
        try {
            signal(writebackSignal);
            long lastPassed = passedKsets.get();
            long lastProgress = System.nanoTime();
            while (passedKsets.get() < target) {
                checkOpen();
                if (progress != null) {
                    progress.progress(Math.max(0, stats.dirtyBytes.sum()), initial);
                }
                synchronized (drainSignal) {
                    try {
                        drainSignal.wait(200);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new InterruptedIOException("drain of cache " + config.name() + " interrupted;"
                                + " write-back goes on in the background");
                    }
                }
                long passedNow = passedKsets.get();
                if (passedNow != lastPassed) {
                    lastPassed = passedNow;
                    lastProgress = System.nanoTime();
                } else if (policy.get() == null) {
                    long waitedMillis = (System.nanoTime() - lastProgress) / 1_000_000L;
                    if (waitedMillis > config.backingTimeoutMillis()) {
                        throw new PcacheException("drain of cache " + config.name() + ": no write-back policy is"
                                + " bound (writeback.target matches no WritebackPolicy service) for " + waitedMillis
                                + " ms, so nothing is written back; bind one, e.g."
                                + " (pcache.writeback.policy=ordered)");
                    }
                } else {
                    IOException err = lastWritebackError;
                    long stalledMillis = (System.nanoTime() - lastProgress) / 1_000_000L;
                    if (err != null && stalledMillis > config.backingTimeoutMillis()) {
                        throw new BackingDeviceException("drain of cache " + config.name() + " stalled for "
                                + stalledMillis + " ms: write-back keeps failing (" + err.getMessage()
                                + "); dirty data stays safe in the cache", err);
                    }
                    if (logDamage != null && stalledMillis > config.backingTimeoutMillis()) {
                        throw new CorruptMediaException("kset", 0, logDamage);
                    }
                }
            }
        } finally {
            draining.decrementAndGet();
        }
        if (progress != null) {
            progress.progress(Math.max(0, stats.dirtyBytes.sum()), initial);
        }
    }

    /** Whether everything persisted has been written back. */
    public boolean isClean() {
        return meta.dirtyTail().equals(keyLog.persistedHead()) && keyLog.head().equals(keyLog.persistedHead())
                && keyLog.pendingKeys() == 0;
    }

    // ---------------------------------------------------------------- GC

    private void gcLoop() {
        while (!closed) {
            try {
                gcPass(false);
                await(gcSignal, config.gcIntervalMillis());
            } catch (InterruptedException e) {
                if (closed) {
                    return;
                }
            } catch (IOException | RuntimeException e) {
                if (closed) {
                    return;
                }
                LOG.log(System.Logger.Level.ERROR, "cache " + config.name() + ": GC failed; retrying", e);
                try {
                    await(gcSignal, config.gcIntervalMillis());
                } catch (InterruptedException ie) {
                    if (closed) {
                        return;
                    }
                }
            }
        }
    }

    /**
     * Reclaims ksets from key_tail while usage is at or above gc_percent (or unconditionally when
     * {@code all}), never passing dirty_tail (reference §6).
     */
    private void gcPass(boolean all) throws IOException {
        synchronized (gcLock) {
            gcPassLocked(all);
        }
    }

    private void gcPassLocked(boolean all) throws IOException {
        while (!closed || all) {
            CachePos keyTail = meta.keyTail();
            CachePos dirtyTail = meta.dirtyTail();
            if (keyTail.equals(dirtyTail)) {
                return;
            }
            if (!all && spaceWaiters.get() == 0
                    && (long) segments.usedCount() * 100 < (long) segments.segmentCount() * gcPercent) {
                return;
            }
            Kset k = keyLog.read(keyTail);
            if (k == null) {
                String damage = "cache " + config.name() + ": the kset at key_tail " + keyTail
                        + " is unreadable; GC cannot pass it";
                if (!damage.equals(logDamage)) {
                    logDamage = damage;
                    LOG.log(System.Logger.Level.ERROR, damage);
                }
                return;
            }
            if (k.last()) {
                if (dirtyTail.segment() == keyTail.segment()) {
                    return;
                }
                meta.storeKeyTail(k.next());
                // the older copy of key_tail still points into the segment being released: store
                // the new position in both slots first, so that a damaged newest copy can never
                // make replay start in a segment that has since been reused for other data
                meta.storeKeyTail(k.next());
                segments.release(keyTail.segment());
            } else {
                for (CacheKey key : k.keys()) {
                    segments.put(key.segment());
                }
                meta.storeKeyTail(k.next());
                stats.gcKsets.increment();
            }
        }
    }

    /** Removes invalid keys in the background, a few per lock hold (reference §6.4). */
    private void scheduleCleaner() {
        if (closed || !cleanerScheduled.compareAndSet(false, true)) {
            return;
        }
        try {
            scheduler.schedule(this::cleanInvalidKeys, 10, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            cleanerScheduled.set(false);
        }
    }

    private void cleanInvalidKeys() {
        cleanerScheduled.set(false);
        for (int i = 0; i < index.sliceCount() && !closed; i++) {
            KeySlice s = index.existingSlice(i);
            if (s == null) {
                continue;
            }
            int removed;
            do {
                s.lock();
                try {
                    removed = s.removeInvalid(validity, CLEAN_BATCH);
                } finally {
                    s.unlock();
                }
            } while (removed == CLEAN_BATCH && !closed);
        }
    }

    /**
     * Empties the cache: everything must already be written back (drain first, with requests
     * quiesced). Drops every key and releases every segment, as entering pass-through requires.
     */
    public void purge() throws IOException {
        checkOpen();
        keyLog.flush();
        if (!meta.dirtyTail().equals(keyLog.persistedHead())) {
            throw new IllegalStateException("cache " + config.name() + " is not clean: dirty_tail "
                    + meta.dirtyTail() + ", key_head " + keyLog.head());
        }
        purging = true;
        try {
            heads.retireAll();
            gcPass(true);
            index.clear();
        } finally {
            purging = false;
        }
    }

    // ---------------------------------------------------------------- life cycle

    private void checkOpen() throws DeviceClosedException {
        if (closed) {
            throw new DeviceClosedException("cache " + config.name() + " is closed");
        }
    }

    private static void signal(Object monitor) {
        synchronized (monitor) {
            monitor.notifyAll();
        }
    }

    private static void await(Object monitor, long millis) throws InterruptedException {
        synchronized (monitor) {
            monitor.wait(Math.max(1, millis));
        }
    }

    /**
     * Closes the cache: stops write-back and GC, persists every open kset (so every acknowledged
     * write survives), flushes the backing device (best effort) and releases the region. Dirty data
     * stays in the cache for the next open. Requests must have stopped (the facade quiesces them).
     */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        synchronized (spaceLock) {
            spaceLock.notifyAll();
        }
        stopThread(writebackThread);
        stopThread(gcThread);
        IOException failure = null;
        try {
            keyLog.flush();
        } catch (IOException e) {
            failure = e;
        }
        keyLog.close();
        BackingDevice dev = backing.peek();
        // a device that is reconnecting would hold the stop for its whole I/O timeout; its
        // written-back data is covered by dirty_tail anyway (advanced only after a flush)
        if (dev != null && dev.state() == pcache.api.BackingState.ONLINE) {
            try {
                dev.flush();
            } catch (IOException e) {
                LOG.log(System.Logger.Level.WARNING, "cache {0}: flushing the backing device at close failed: {1}",
                        config.name(), e.getMessage());
            }
        }
        scheduler.shutdownNow();
        try {
            region.close();
        } catch (IOException e) {
            if (failure == null) {
                failure = e;
            } else {
                failure.addSuppressed(e);
            }
        }
        synchronized (drainSignal) {
            drainSignal.notifyAll();
        }
        if (failure != null) {
            throw failure;
        }
    }

    /**
     * Stops the engine without persisting anything: waiting writers are woken, the write-back and
     * GC threads and the timers stop, open key sets are dropped and the region is closed. This
     * releases what a failed open created; it is also what a power cut does to a running cache,
     * which is how the crash tests stop one.
     */
    void abandon() {
        closed = true;
        synchronized (spaceLock) {
            spaceLock.notifyAll();
        }
        stopThread(writebackThread);
        stopThread(gcThread);
        if (keyLog != null) {
            keyLog.close();
        }
        scheduler.shutdownNow();
        try {
            region.close();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "closing the region of a failed open: {0}", e.getMessage());
        }
    }

    private static void stopThread(Thread t) {
        if (t == null) {
            return;
        }
        t.interrupt();
        try {
            t.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
