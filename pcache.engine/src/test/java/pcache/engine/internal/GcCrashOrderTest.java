package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.Arrays;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import pcache.api.CacheStatistics;
import pcache.api.format.PcacheFormat;
import pcache.engine.internal.engine.CacheEngine;
import pcache.engine.internal.engine.EngineConfig;
import pcache.writeback.internal.OrderedWritebackPolicy;

/**
 * A power cut while GC passes a kset: what replay finds must never bring back an older version of
 * a range over a newer one.
 */
class GcCrashOrderTest {

    private static final long LOGICAL = 64 * Harness.MIB;
    private static final int BLOCK = 4096;

    /** The versions a range had: O, older, in segment E; N, newer, as the last allocation of segment D. */
    private record Scenario(SimulatedPmem pmem, MemoryBacking disk, BackingHolder holder, EngineConfig config,
            CacheEngine engine, long z, int d) {
    }

    /**
     * One kset holds an older version O of a range (its data in segment E, which another stream
     * still writes into) and the newer version N (the last allocation of segment D), flushed, with
     * GC at gc_percent 0 and write-back only when drained; {@code whenDrained} runs just before the
     * drain that writes both back and lets GC pass the kset.
     */
    private static Scenario drainedScenario(java.util.function.Consumer<Scenario> whenDrained) throws Exception {
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(8), false);
        MemoryBacking disk = new MemoryBacking(LOGICAL, "disk", false);
        BackingHolder holder = Harness.holder(disk);
        EngineConfig config = Harness.config("gc-order").withGcPercent(0).withKsetFlushDelayMillis(600_000);
        CacheEngine e = Harness.open(config, pmem, holder, Harness.onlyWhenDraining(new OrderedWritebackPolicy()));
        ExecutorService streamB = Executors.newSingleThreadExecutor();
        ExecutorService streamA = Executors.newSingleThreadExecutor();
        long z = 40 * Harness.MIB; // a slice of its own: O and N share its kset buffer
        try {
            // stream B (the first to write: its own data head) fills its segment D but for one block
            long fill = PcacheFormat.SEG_DATA_SIZE - BLOCK;
            streamB.submit(() -> {
                for (long off = 0; off < fill; off += Harness.MIB) {
                    int len = (int) Math.min(Harness.MIB, fill - off);
                    e.write(off, Harness.pattern(off, len, 7), false);
                }
                return null;
            }).get(30, TimeUnit.SECONDS);
            e.flush(); // the fill's ksets come before the one of O and N
            int d = Harness.dataPlace(e, 0).segment();
            // stream A writes O into its own head's segment E, which stays in use
            streamA.submit(() -> {
                e.write(z, Harness.pattern(z, BLOCK, 1), false);
                return null;
            }).get(30, TimeUnit.SECONDS);
            int segE = Harness.dataPlace(e, z).segment();
            // stream B writes N over it: D's last block, so N holds D's last reference
            streamB.submit(() -> {
                e.write(z, Harness.pattern(z, BLOCK, 2), false);
                return null;
            }).get(30, TimeUnit.SECONDS);
            assertTrue(Harness.dataPlace(e, z).segment() == d && segE != d, "N in D, O in E: " + d + ", " + segE);
            e.flush();
            Scenario s = new Scenario(pmem, disk, holder, config, e, z, d);
            whenDrained.accept(s);
            e.drain(null); // both versions written back, in order; GC may pass the kset now
            assertArrayEquals(Harness.pattern(z, BLOCK, 2).array(), disk.content(z, BLOCK), "N was written back");
            return s;
        } catch (Exception | Error x) {
            e.abandon();
            throw x;
        } finally {
            streamA.shutdownNow();
            streamB.shutdownNow();
        }
    }

    private static void await(String what, java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 30 s: " + what);
            }
            Thread.sleep(5);
        }
    }

    /** Opens the device again with GC kept from passing the kset again (which would hide an older version replayed) and reads the range. */
    private static void assertNewerVersionRead(Scenario s, SimulatedPmem device) throws IOException {
        CacheEngine again = Harness.open(s.config().withGcPercent(90), device, s.holder(), new OrderedWritebackPolicy());
        try {
            byte[] got = Harness.read(again, s.z(), BLOCK);
            assertFalse(Arrays.equals(Harness.pattern(s.z(), BLOCK, 1).array(), got),
                    "the older version O came back over N");
            assertArrayEquals(Harness.pattern(s.z(), BLOCK, 2).array(), got);
        } finally {
            again.close();
        }
    }

    /**
     * GC passes the kset: N's reference is D's last, so D is reclaimed (a new generation, N's key
     * turns stale), while O's key stays valid. A power cut before key_tail has passed the kset
     * would make replay start at it again and serve O, clean, over N. Before, key_tail was stored
     * after the references were given back, and the range read back O.
     */
    @Test
    @Timeout(60)
    void aPowerCutWhileGcReclaimsASegmentNeverBringsBackAnOlderVersion() throws Exception {
        AtomicBoolean reclaimed = new AtomicBoolean();
        Scenario s = drainedScenario(sc -> {
            // the power cut: once D's new generation is stored, no key_tail store reaches the device
            long genAt = PcacheFormat.segmentOffset(0) + (long) sc.d() * PcacheFormat.SEG_SIZE
                    + PcacheFormat.SEG_GEN_OFF;
            long genEnd = genAt + 2L * PcacheFormat.SEG_GEN_STRUCT_SIZE;
            long tailAt = PcacheFormat.KEY_TAIL_OFF;
            long tailEnd = tailAt + 2L * PcacheFormat.POS_STRUCT_SIZE;
            sc.pmem().failWritesWhere(at -> {
                if (at >= genAt && at < genEnd) {
                    reclaimed.set(true);
                    return false;
                }
                return reclaimed.get() && at >= tailAt && at < tailEnd;
            });
        });
        try {
            // until the reclaim is on the device, then the power cut
            await("GC reclaims segment " + s.d(), () -> s.engine().statistics().gcSegmentsReclaimed() == 1);
            assertTrue(reclaimed.get());
        } finally {
            s.engine().abandon();
        }
        assertNewerVersionRead(s, s.pmem().reopen());
    }

    /**
     * A cache closed with one kset whose only key is then re-pointed into segment 0, which holds
     * the key log: under {@code keyGeneration} while segment 0 is at generation 1.
     */
    private static SimulatedPmem keyIntoTheLogsSegment(long keyGeneration) throws Exception {
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(6), false);
        CacheEngine e = Harness.open(Harness.config("log-seg"), pmem, Harness.holder(new MemoryBacking(LOGICAL, "disk",
                false)), null);
        e.write(0, Harness.pattern(0, 65536, 1), false);
        e.close();
        SimulatedPmem device = pmem.reopen();
        long kset0 = PcacheFormat.segmentOffset(0) + PcacheFormat.SEG_DATA_OFF;
        byte[] header = new byte[PcacheFormat.KSET_HEADER_SIZE];
        device.read(kset0, header, 0, header.length);
        java.nio.ByteBuffer h = java.nio.ByteBuffer.wrap(header).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertEquals(1, h.getInt(4), "one key in the first kset");
        byte[] kset = new byte[PcacheFormat.KSET_HEADER_SIZE + PcacheFormat.KEY_SIZE];
        device.read(kset0, kset, 0, kset.length);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(kset).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putInt(PcacheFormat.KSET_HEADER_SIZE + pcache.api.format.PcacheLayout.Key.SEG, 0);
        b.putLong(PcacheFormat.KSET_HEADER_SIZE + pcache.api.format.PcacheLayout.Key.GEN, keyGeneration);
        b.putInt(0, Harness.CRC.checksum(kset, 4, kset.length - 4));
        device.write(kset0, kset, 0, kset.length);
        long gen = PcacheFormat.segmentOffset(0) + PcacheFormat.SEG_GEN_OFF;
        for (int slot = 0; slot < 2; slot++) {
            byte[] record = new byte[PcacheFormat.SEG_GEN_STRUCT_SIZE];
            java.nio.ByteBuffer r = java.nio.ByteBuffer.wrap(record).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            r.putLong(8, 1);
            record[4] = (byte) (90 + slot); // seq
            r.putInt(0, Harness.CRC.checksum(record, 4, record.length - 4));
            device.write(gen + (long) slot * PcacheFormat.SEG_GEN_STRUCT_SIZE, record, 0, record.length);
        }
        return device;
    }

    /**
     * The kernel gives a kset's references back before it stores key_tail past it, and its key
     * log may take a segment so reclaimed as its next key segment: a power cut then leaves a
     * stale key into a segment of the log at key_tail. Replay must take no reference for it, or
     * GC, passing the kset, reclaims the key segment under the log (and data written into it
     * later overwrites ksets). Before, replay took one for every key, and segment 0 was reclaimed.
     */
    @Test
    @Timeout(60)
    void aStaleKeyIntoASegmentOfTheKeyLogTakesNoReference() throws Exception {
        SimulatedPmem device = keyIntoTheLogsSegment(0);
        MemoryBacking disk = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine e = Harness.open(Harness.config("log-seg").withGcPercent(0), device, Harness.holder(disk),
                new OrderedWritebackPolicy());
        try {
            await("GC passes the kset", () -> e.statistics().gcKsets() >= 1);
            assertTrue(e.segments().isUsed(0), "segment 0 holds the key log");
            assertEquals(0, e.segments().references(0));
            assertEquals(0, e.statistics().gcSegmentsReclaimed(), "nothing held data");
            e.write(0, Harness.pattern(0, 65536, 2), true);
        } finally {
            e.close();
        }
        // the log replays whole; the write is in the cache or, written back and passed by GC, on the disk
        CacheEngine again = Harness.open(Harness.config("log-seg"), device.reopen(), Harness.holder(disk), null);
        try {
            assertArrayEquals(Harness.pattern(0, 65536, 2).array(), Harness.read(again, 0, 65536));
        } finally {
            again.close();
        }
    }

    /** A key of the current generation into a segment of the key log cannot be what a cache wrote. */
    @Test
    @Timeout(60)
    void aCurrentKeyIntoASegmentOfTheKeyLogIsDamage() throws Exception {
        SimulatedPmem device = keyIntoTheLogsSegment(1);
        pcache.api.CorruptMediaException refused = org.junit.jupiter.api.Assertions.assertThrows(
                pcache.api.CorruptMediaException.class, () -> Harness.open(Harness.config("log-seg"), device,
                        Harness.holder(new MemoryBacking(LOGICAL, "disk", false)), null));
        long key0 = PcacheFormat.segmentOffset(0) + PcacheFormat.SEG_DATA_OFF + PcacheFormat.KSET_HEADER_SIZE;
        assertEquals("key", refused.structure(), refused.getMessage());
        assertEquals(key0, refused.deviceOffset());
        assertEquals("the key at device offset " + key0 + " points into cache segment 0 under its current generation"
                + " 1, but that segment holds the key log: the key or the log is damaged; pcache:fsck shows the damage",
                refused.getMessage().substring(refused.getMessage().indexOf("the key at")));
    }

    /**
     * After GC passed the kset, either copy of key_tail may be the one replay uses (the other
     * damaged): neither may point at the kset. Before, GC stored key_tail past a kset of keys in
     * one slot, the older copy still pointed at the kset, and with the newest one damaged the
     * range read back O.
     */
    @ParameterizedTest
    @ValueSource(ints = {0, 1})
    @Timeout(60)
    void eitherCopyOfKeyTailStartsReplayPastAKsetGcPassed(int damagedSlot) throws Exception {
        Scenario s = drainedScenario(sc -> { });
        try {
            CacheStatistics[] last = new CacheStatistics[1];
            await("GC passes every kset written back and reclaims segment " + s.d(), () -> {
                last[0] = s.engine().statistics();
                return last[0].gcSegmentsReclaimed() == 1 && last[0].gcKsets() == last[0].writebackKsets();
            });
        } finally {
            s.engine().close();
        }
        SimulatedPmem device = s.pmem().reopen();
        device.corrupt(PcacheFormat.KEY_TAIL_OFF + (long) damagedSlot * PcacheFormat.POS_STRUCT_SIZE + 8, 0x5a);
        assertNewerVersionRead(s, device);
    }
}
