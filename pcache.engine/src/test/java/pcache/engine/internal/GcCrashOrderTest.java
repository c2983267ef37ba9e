package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
