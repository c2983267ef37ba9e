package pcache.keyindex.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Supplier;

import pcache.api.CachePos;
import pcache.api.format.PcacheFormat;
import pcache.api.spi.CacheKey;
import pcache.api.spi.CrcProvider;
import pcache.api.spi.KeyLogContext;
import pcache.api.spi.KeyLogListener;
import pcache.api.spi.Kset;
import pcache.api.spi.PmemRegion;
import pcache.api.spi.SegmentAllocator;
import pcache.api.spi.SegmentContext;
import pcache.api.spi.SegmentListener;
import pcache.crc.internal.PcacheCrc32c;
import pcache.pmem.internal.HeapPmemProvider;
import pcache.segment.internal.FifoSegmentAllocator;

/**
 * A small formatted cache device for key-log tests: heap memory checked for persistence, the real
 * CRC and the real segment allocator, with segment 0 taken by the key log as on a new cache.
 * Records what the log reports.
 */
class LogDevice implements KeyLogContext, KeyLogListener {

    final PersistenceCheckingRegion region;
    final CrcProvider crc = new PcacheCrc32c();
    final FifoSegmentAllocator segments;
    final int streams;
    final long flushDelayMillis;
    final ScheduledExecutorService scheduler;
    final List<String> persisted = new CopyOnWriteArrayList<>();
    final List<IOException> failures = new CopyOnWriteArrayList<>();

    /** A device of {@code segmentCount} segments, formatted, segment 0 in use by the key log. */
    LogDevice(int segmentCount, int streams, long flushDelayMillis, ScheduledExecutorService scheduler)
            throws IOException {
        this(new HeapPmemProvider().open(Path.of("/virtual/keylog-test"), PcacheFormat.segmentOffset(segmentCount)),
                segmentCount, streams, flushDelayMillis, scheduler, true);
    }

    /** Over an existing image: the chain is loaded, not formatted. */
    LogDevice(PmemRegion image, int segmentCount, int streams, long flushDelayMillis,
            ScheduledExecutorService scheduler, boolean format) throws IOException {
        this.region = new PersistenceCheckingRegion(image);
        this.streams = streams;
        this.flushDelayMillis = flushDelayMillis;
        this.scheduler = scheduler;
        this.segments = new FifoSegmentAllocator(new SegmentContext() {
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
                return segmentCount;
            }

            @Override
            public SegmentListener listener() {
                return segment -> { };
            }
        });
        if (format) {
            segments.format(0, segmentCount);
            segments.markUsed(0);
        } else {
            segments.load(0, segmentCount);
        }
    }

    PmemKeyLog openLog() {
        return new PmemKeyLog(this);
    }

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
        return flushDelayMillis;
    }

    @Override
    public ScheduledExecutorService scheduler() {
        return scheduler;
    }

    @Override
    public KeyLogListener listener() {
        return this;
    }

    @Override
    public void ksetPersisted(CachePos position, int sizeBytes) {
        persisted.add(position + "+" + sizeBytes);
    }

    @Override
    public void flushFailed(IOException error) {
        failures.add(error);
    }

    /** Every kset from {@code from} to the end of the log, in log order. */
    static List<Kset> readLog(PmemKeyLog log, CachePos from) throws IOException {
        List<Kset> out = new ArrayList<>();
        for (Kset k = log.read(from); k != null; k = log.read(k.next())) {
            out.add(k);
            if (out.size() > 100_000) {
                throw new AssertionError("the log does not end");
            }
        }
        return out;
    }

    /** The data keys of {@code ksets} in log order. */
    static List<CacheKey> keysOf(List<Kset> ksets) {
        List<CacheKey> out = new ArrayList<>();
        for (Kset k : ksets) {
            out.addAll(k.keys());
        }
        return out;
    }

    static void assertSameKey(CacheKey expected, CacheKey actual) {
        Supplier<String> what = () -> expected + " vs " + actual;
        assertEquals(expected.offset(), actual.offset(), what);
        assertEquals(expected.length(), actual.length(), what);
        assertEquals(expected.mediaFlags() & PcacheFormat.KEY_FLAG_CLEAN, actual.mediaFlags(), what);
        assertEquals(expected.segment(), actual.segment(), what);
        assertEquals(expected.segmentOffset(), actual.segmentOffset(), what);
        assertEquals(expected.generation(), actual.generation(), what);
        assertEquals(expected.dataCrc(), actual.dataCrc(), what);
    }

    static void assertSameKeys(List<CacheKey> expected, List<CacheKey> actual) {
        assertEquals(expected.size(), actual.size(), "number of keys");
        for (int i = 0; i < expected.size(); i++) {
            assertSameKey(expected.get(i), actual.get(i));
        }
    }
}
