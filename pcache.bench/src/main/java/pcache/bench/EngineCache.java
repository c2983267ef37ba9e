package pcache.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

import pcache.api.spi.PmemRegion;
import pcache.backing.file.internal.FileBackingDevice;
import pcache.backing.file.internal.FileBackingSettings;
import pcache.crc.internal.PcacheCrc32c;
import pcache.engine.internal.BackingHolder;
import pcache.engine.internal.engine.CacheEngine;
import pcache.engine.internal.engine.EngineConfig;
import pcache.keyindex.internal.StripedKeyIndexProvider;
import pcache.pmem.internal.MappedPmemProvider;
import pcache.segment.internal.FifoSegmentAllocatorProvider;
import pcache.writeback.internal.OrderedWritebackPolicy;


/**
 * A real cache for benchmarks: pcache's engine on a memory-mapped cache device in memory
 * ({@link BenchFiles#memoryDir()}, tmpfs: the pmem stand-in) in front of a sparse backing file on
 * disk ({@link BenchFiles#diskDir()}), wired exactly as the DS component wires it.
 *
 * <p>The mapping is made once and its pages faulted in before measuring (as the floor
 * benchmarks' mappings are); {@link #reformat()} starts a fresh cache on it without unmapping.
 */
public final class EngineCache implements AutoCloseable {

    public CacheEngine engine;
    public final FileBackingDevice backing;
    public final Path cacheFile;
    public final Path backingFile;
    private final PmemRegion region;
    private final BackingHolder holder;
    private volatile boolean writeback;
    private final boolean dataCrc;

    private EngineCache(PmemRegion region, FileBackingDevice backing, Path cacheFile, Path backingFile,
            boolean writeback, boolean dataCrc) {
        this.region = region;
        this.backing = backing;
        this.cacheFile = cacheFile;
        this.backingFile = backingFile;
        this.writeback = writeback;
        this.dataCrc = dataCrc;
        this.holder = new BackingHolder("bench");
        holder.set(backing);
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
                backingBytes, true, false, "", true));
        PmemRegion region = new MappedPmemProvider(MappedPmemProvider.Prefault.SYNC).open(cacheFile, cacheBytes);
        EngineCache c = new EngineCache(region, backing, cacheFile, backingFile, writeback, dataCrc);
        c.engine = c.openEngine();
        return c;
    }

    private CacheEngine openEngine() throws IOException {
        OrderedWritebackPolicy policy = new OrderedWritebackPolicy();
        EngineConfig config = EngineConfig.defaults("bench").withDataCrc(dataCrc);
        return CacheEngine.open(config, new KeepOpen(region), new PcacheCrc32c(), new FifoSegmentAllocatorProvider(),
                new StripedKeyIndexProvider(), holder, () -> writeback ? policy : null);
    }

    /** Starts or stops write-back (the policy is consulted before every step). */
    public void writeback(boolean on) {
        this.writeback = on;
    }

    /** Starts write-back and waits until everything dirty is written back. */
    public void drain() throws IOException {
        writeback(true);
        engine.drain(null);
    }

    /** Closes the engine and opens it again on the same device: its log is replayed. */
    public void reopen() throws IOException {
        if (engine != null) {
            engine.close();
        }
        engine = openEngine();
    }

    /** Closes the engine, erases the superblock and opens a freshly formatted cache. */
    public void reformat() throws IOException {
        engine.close();
        region.fill(0, 24 * 1024, (byte) 0);
        region.flush(0, 24 * 1024);
        region.fence();
        engine = openEngine();
    }

    @Override
    public void close() throws IOException {
        try {
            engine.close();
        } finally {
            region.close();
            holder.close();
            backing.close();
            Files.deleteIfExists(cacheFile);
            Files.deleteIfExists(backingFile);
        }
    }

    /** The region, with close() left to this class (engines close their region). */
    private static final class KeepOpen implements PmemRegion {
        private final PmemRegion r;

        KeepOpen(PmemRegion r) {
            this.r = r;
        }

        @Override
        public long sizeBytes() {
            return r.sizeBytes();
        }

        @Override
        public String description() {
            return r.description();
        }

        @Override
        public boolean isDirectAccess() {
            return r.isDirectAccess();
        }

        @Override
        public void read(long offset, ByteBuffer dst) throws IOException {
            r.read(offset, dst);
        }

        @Override
        public void read(long offset, byte[] dst, int dstOffset, int length) throws IOException {
            r.read(offset, dst, dstOffset, length);
        }

        @Override
        public void write(long offset, ByteBuffer src) throws IOException {
            r.write(offset, src);
        }

        @Override
        public void write(long offset, byte[] src, int srcOffset, int length) throws IOException {
            r.write(offset, src, srcOffset, length);
        }

        @Override
        public void fill(long offset, long length, byte value) throws IOException {
            r.fill(offset, length, value);
        }

        @Override
        public long getLong(long offset) throws IOException {
            return r.getLong(offset);
        }

        @Override
        public void putLong(long offset, long value) throws IOException {
            r.putLong(offset, value);
        }

        @Override
        public ByteBuffer view(long offset, int length) throws IOException {
            return r.view(offset, length);
        }

        @Override
        public boolean hasWritableViews() {
            return r.hasWritableViews();
        }

        @Override
        public ByteBuffer writableView(long offset, int length) throws IOException {
            return r.writableView(offset, length);
        }

        @Override
        public void flush(long offset, long length) throws IOException {
            r.flush(offset, length);
        }

        @Override
        public void fence() throws IOException {
            r.fence();
        }

        @Override
        public void close() {
            // the owner closes the real region
        }
    }
}
