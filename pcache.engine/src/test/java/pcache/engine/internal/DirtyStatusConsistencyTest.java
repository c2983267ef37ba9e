package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import pcache.api.BlockExtent;
import pcache.engine.internal.engine.CacheEngine;
import pcache.writeback.internal.OrderedWritebackPolicy;

/**
 * {@code pcache:dirty} under concurrent writes and write-back: a writer stamps every sector it
 * writes with a rising version, write-back runs all the time (ordered policy), and a checker
 * asks the dirty status of the whole device again and again. Every sector reported clean must
 * hold on the backing device at least the version acknowledged before the question was asked:
 * "clean" means the backing device already has the newest data. The seed is printed and
 * replayed with {@code -Dpcache.blockstatus.seed=N}.
 */
class DirtyStatusConsistencyTest {

    private static final int SECTOR = 512;
    private static final long LOGICAL = 8L << 20;
    private static final int SECTORS = (int) (LOGICAL / SECTOR);
    private static final long RUN_MILLIS = 3000;
    /** On a loaded machine the run goes on past RUN_MILLIS until it has seen both kinds, up to this. */
    private static final long MAX_RUN_MILLIS = 60_000;

    @Test
    @Timeout(60)
    void sectorsReportedCleanAreOnTheBackingDevice() throws Exception {
        long seed = Long.getLong("pcache.blockstatus.seed", new Random().nextLong());
        System.out.println("DirtyStatusConsistencyTest seed " + seed + " (-Dpcache.blockstatus.seed=" + seed + ")");
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(5), false);
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine engine = Harness.open(Harness.config("dirty"), pmem, Harness.holder(backing),
                new OrderedWritebackPolicy());
        AtomicLongArray acknowledged = new AtomicLongArray(SECTORS);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> writerFailure = new AtomicReference<>();
        Thread writer = new Thread(() -> {
            Random random = new Random(seed);
            long version = 0;
            try {
                while (!stop.get()) {
                    int first = random.nextInt(SECTORS);
                    int count = Math.min(SECTORS - first, 1 + random.nextInt(random.nextBoolean() ? 8 : 256));
                    version++;
                    ByteBuffer data = ByteBuffer.allocate(count * SECTOR);
                    for (int i = 0; i < count; i++) {
                        data.putLong(i * SECTOR, version).putLong(i * SECTOR + 8, first + i);
                    }
                    engine.write((long) first * SECTOR, data, random.nextInt(16) == 0);
                    for (int i = 0; i < count; i++) {
                        acknowledged.set(first + i, version);
                    }
                    if (random.nextInt(64) == 0) {
                        engine.flush();
                    }
                }
            } catch (Throwable t) {
                writerFailure.set(t);
            }
        }, "dirty-status-writer");
        long cleanSectorsChecked = 0;
        long dirtySectorsSeen = 0;
        try {
            writer.start();
            long start = System.nanoTime();
            long end = start + RUN_MILLIS * 1_000_000L;
            long cap = start + MAX_RUN_MILLIS * 1_000_000L;
            while (writerFailure.get() == null && System.nanoTime() < cap
                    && (System.nanoTime() < end || cleanSectorsChecked == 0 || dirtySectorsSeen == 0)) {
                long[] before = new long[SECTORS];
                for (int s = 0; s < SECTORS; s++) {
                    before[s] = acknowledged.get(s);
                }
                List<BlockExtent> status = engine.dirtyStatus(0, LOGICAL, Integer.MAX_VALUE);
                long pos = 0;
                for (BlockExtent e : status) {
                    assertEquals(pos, e.offset());
                    pos = e.end();
                    if (e.has(BlockExtent.DIRTY)) {
                        dirtySectorsSeen += e.lengthBytes() / SECTOR;
                        continue;
                    }
                    ByteBuffer onBacking = ByteBuffer.allocate((int) e.lengthBytes());
                    backing.read(e.offset(), onBacking);
                    for (int i = 0; i < e.lengthBytes() / SECTOR; i++) {
                        int s = (int) (e.offset() / SECTOR) + i;
                        long version = onBacking.getLong(i * SECTOR);
                        assertTrue(version >= before[s], "sector " + s + " reported clean, but the backing device"
                                + " holds version " + version + " and version " + before[s]
                                + " was acknowledged before the question (seed " + seed + ")");
                        cleanSectorsChecked += before[s] > 0 ? 1 : 0;
                    }
                }
                assertEquals(LOGICAL, pos);
            }
        } finally {
            stop.set(true);
            writer.join(10_000);
            engine.close();
        }
        if (writerFailure.get() != null) {
            throw new AssertionError("writer failed (seed " + seed + ")", writerFailure.get());
        }
        assertTrue(cleanSectorsChecked > 0 && dirtySectorsSeen > 0, "the run saw written sectors both clean ("
                + cleanSectorsChecked + ") and dirty (" + dirtySectorsSeen + ")");
    }
}
