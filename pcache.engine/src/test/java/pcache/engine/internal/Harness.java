package pcache.engine.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Random;

import pcache.api.format.PcacheFormat;
import pcache.api.spi.CrcProvider;
import pcache.api.spi.PmemRegion;
import pcache.api.spi.WritebackContext;
import pcache.api.spi.WritebackOutcome;
import pcache.api.spi.WritebackPolicy;
import pcache.crc.internal.PcacheCrc32c;
import pcache.engine.internal.engine.CacheEngine;
import pcache.engine.internal.engine.EngineConfig;
import pcache.keyindex.internal.StripedKeyIndexProvider;
import pcache.segment.internal.FifoSegmentAllocatorProvider;
import pcache.writeback.internal.BatchingWritebackPolicy;

/** Builds engines over simulated devices for tests. */
final class Harness {

    static final CrcProvider CRC = new PcacheCrc32c();
    static final long MIB = 1L << 20;

    private Harness() {
    }

    /** A cache device of {@code segments} segments (tests may go below dm-pcache's 512 MiB). */
    static long deviceBytes(int segments) {
        return PcacheFormat.SEGMENTS_OFF + (long) segments * PcacheFormat.SEG_SIZE;
    }

    /** Fast-moving settings for tests: small devices allowed, quick timers, two streams. */
    /**
     * A batching write-back policy that writes back only when drained (watermarks and age out of
     * reach): for tests whose assertions a background write-back would race.
     */
    static WritebackPolicy drainOnlyPolicy() {
        // the gate keeps any background step out, whatever a policy's thresholds
        return onlyWhenDraining(
                new BatchingWritebackPolicy(new BatchingWritebackPolicy.Settings(100, 90, 600_000, 64L << 20, 0)));
    }

    /**
     * {@code policy}, stepping only while a drain or purge runs: for tests that damage dirty data
     * after writing it, which a background write-back could otherwise take first.
     */
    static WritebackPolicy onlyWhenDraining(WritebackPolicy policy) {
        return new WritebackPolicy() {
            @Override
            public String name() {
                return policy.name();
            }

            /** One view per context: a policy may keep its state per context (batching does). */
            private volatile WhileDraining view;

            @Override
            public WritebackOutcome step(WritebackContext context) throws IOException, InterruptedException {
                if (!context.draining()) {
                    return WritebackOutcome.IDLE;
                }
                WhileDraining v = view;
                if (v == null || v.context() != context) {
                    v = new WhileDraining(context);
                    view = v;
                }
                return policy.step(v);
            }
        };
    }

    /**
     * A step's view of the log that ends once no drain runs: a kset read after the drain ended is
     * not handed to the policy. A step that began while a drain ran, its thread then held up (a
     * loaded machine), could otherwise read and write back what the test wrote after the drain
     * returned (found by `BlockStatusModelTest` under load: sectors written after a drain were
     * reported clean).
     */
    private static final class WhileDraining extends ForwardingWritebackContext {
        WhileDraining(WritebackContext context) {
            super(context);
        }

        @Override
        public pcache.api.spi.Kset readKset(pcache.api.CachePos position) throws IOException {
            pcache.api.spi.Kset kset = context().readKset(position);
            return context().draining() ? kset : null; // asked after the read: a drain ended before it
        }
    }

    static EngineConfig config(String name) {
        return EngineConfig.defaults(name).withMinimumCacheBytes(0).withStreams(2).withKsetFlushDelayMillis(20)
                .withGcIntervalMillis(50).withBackingTimeoutMillis(2000);
    }

    static CacheEngine open(EngineConfig config, PmemRegion region, BackingHolder backing, WritebackPolicy policy)
            throws IOException {
        return CacheEngine.open(config, region, CRC, new FifoSegmentAllocatorProvider(),
                new StripedKeyIndexProvider(), backing, () -> policy);
    }

    static BackingHolder holder(MemoryBacking backing) {
        BackingHolder h = new BackingHolder("test");
        h.set(backing);
        return h;
    }

    /** Deterministic content for a write: every 8 bytes name the offset and a tag. */
    static ByteBuffer pattern(long offset, int length, long tag) {
        ByteBuffer b = ByteBuffer.allocate(length);
        for (int i = 0; i < length; i += 8) {
            b.putLong(i, (offset + i) * 31 + tag);
        }
        return b;
    }

    static ByteBuffer random(Random r, int length) {
        byte[] b = new byte[length];
        r.nextBytes(b);
        return ByteBuffer.wrap(b);
    }

    static byte[] read(pcache.api.BlockDevice dev, long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        dev.read(offset, b);
        return b.array();
    }

    /**
     * Where the key covering {@code offset} keeps its data: its cache segment and the device
     * offset of the byte at {@code offset}. Fails the test when no key covers it.
     */
    record DataPlace(int segment, long deviceOffset) {
    }

    static DataPlace dataPlace(CacheEngine e, long offset) {
        pcache.api.spi.KeySlice slice = e.index().slice(offset);
        DataPlace[] at = {null};
        slice.lock();
        try {
            slice.forEach(k -> {
                if (k.offset() <= offset && offset < k.end() && !k.isEmpty()) {
                    at[0] = new DataPlace(k.segment(),
                            e.segments().dataOffset(k.segment()) + k.segmentOffset() + (offset - k.offset()));
                }
            });
        } finally {
            slice.unlock();
        }
        if (at[0] == null) {
            throw new AssertionError("no key covers " + offset);
        }
        return at[0];
    }

    static byte[] read(CacheEngine e, long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        e.read(offset, b);
        return b.array();
    }
}
