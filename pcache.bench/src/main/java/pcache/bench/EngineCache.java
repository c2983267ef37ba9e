package pcache.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import pcache.api.spi.PmemRegion;
import pcache.backing.file.internal.FileBackingDevice;
import pcache.backing.file.internal.FileBackingSettings;
import pcache.crc.internal.PcacheCrc32c;
import pcache.keyindex.internal.StripedKeyIndexProvider;
import pcache.pmem.internal.MappedPmemProvider;
import pcache.segment.internal.FifoSegmentAllocatorProvider;
import pcache.target.internal.BackingHolder;
import pcache.target.internal.CacheEngine;
import pcache.target.internal.EngineConfig;
import pcache.target.internal.OrderedWritebackPolicy;

/**
 * A real cache for benchmarks: pcache's engine on a memory-mapped cache device in memory
 * ({@link BenchFiles#memoryDir()}, tmpfs: the pmem stand-in) in front of a sparse backing file on
 * disk ({@link BenchFiles#diskDir()}), wired exactly as the DS component wires it.
 */
public final class EngineCache implements AutoCloseable {

    public final CacheEngine engine;
    public final FileBackingDevice backing;
    public final Path cacheFile;
    public final Path backingFile;
    private final BackingHolder holder;

    private EngineCache(CacheEngine engine, FileBackingDevice backing, BackingHolder holder, Path cacheFile,
            Path backingFile) {
        this.engine = engine;
        this.backing = backing;
        this.holder = holder;
        this.cacheFile = cacheFile;
        this.backingFile = backingFile;
    }

    /**
     * A freshly formatted cache of {@code cacheBytes} over a new backing file of {@code backingBytes}.
     *
     * @param writeback whether write-back runs (dm-pcache's ordered policy) or dirty data stays
     */
    public static EngineCache create(long cacheBytes, long backingBytes, boolean writeback, boolean dataCrc)
            throws IOException {
        Path cacheFile = BenchFiles.newFile(BenchFiles.memoryDir(), "pcache-bench-cache-");
        Path backingFile = BenchFiles.newFile(BenchFiles.diskDir(), "pcache-bench-backing-");
        FileBackingDevice backing = FileBackingDevice.open(new FileBackingSettings("bench", backingFile.toString(),
                backingBytes, true, false, ""));
        return open(cacheFile, cacheBytes, backing, backingFile, writeback, dataCrc);
    }

    /** The cache on an existing cache file (replays its log). */
    public static EngineCache open(Path cacheFile, long cacheBytes, FileBackingDevice backing, Path backingFile,
            boolean writeback, boolean dataCrc) throws IOException {
        BackingHolder holder = new BackingHolder("bench");
        holder.set(backing);
        PmemRegion region = new MappedPmemProvider().open(cacheFile, cacheBytes);
        OrderedWritebackPolicy policy = new OrderedWritebackPolicy();
        EngineConfig config = EngineConfig.defaults("bench").withDataCrc(dataCrc);
        CacheEngine engine = CacheEngine.open(config, region, new PcacheCrc32c(), new FifoSegmentAllocatorProvider(),
                new StripedKeyIndexProvider(), holder, () -> writeback ? policy : null);
        return new EngineCache(engine, backing, holder, cacheFile, backingFile);
    }

    /** Closes the engine only (the files stay, e.g. to replay them). */
    public void closeEngine() throws IOException {
        engine.close();
    }

    @Override
    public void close() throws IOException {
        try {
            engine.close();
        } finally {
            holder.close();
            backing.close();
            Files.deleteIfExists(cacheFile);
            Files.deleteIfExists(cacheFile.resolveSibling(cacheFile.getFileName() + ".lock"));
            Files.deleteIfExists(backingFile);
        }
    }
}
