package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import pcache.engine.internal.engine.CacheEngine;
import pcache.engine.internal.engine.EngineConfig;
import pcache.writeback.internal.OrderedWritebackPolicy;

/**
 * What the power-cut tests ({@link CrashTest}, {@link ConcurrentCrashTest}) set up and check the
 * same way: the engine on a {@link SimulatedPmem} and a forgetting {@link MemoryBacking}, the
 * watchdog that stops a crashed engine, the content of the sectors and the comparison with the
 * backing device after write-back.
 */
final class CrashTrials {

    static final int SECTOR = SectorHistory.SECTOR;

    private CrashTrials() {
    }

    /**
     * Silences logging for the test class: every trial crashes the engine's threads on purpose,
     * their complaints are expected.
     */
    static final class QuietLogging implements BeforeAllCallback, AfterAllCallback {
        private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(QuietLogging.class);

        @Override
        public void beforeAll(ExtensionContext context) {
            Logger root = Logger.getLogger("");
            context.getStore(NS).put("level", new Level[] {root.getLevel()});
            root.setLevel(Level.OFF);
        }

        @Override
        public void afterAll(ExtensionContext context) {
            Level[] saved = context.getStore(NS).get("level", Level[].class);
            Logger.getLogger("").setLevel(saved[0]);
        }
    }

    /**
     * Fast-moving settings with random gc_percent (0-59), kset flush delay (1-10 ms) and streams
     * (1-2), drawn from {@code r} in that order.
     */
    static EngineConfig config(String name, boolean dataCrc, Random r) {
        return Harness.config(name).withDataCrc(dataCrc).withGcPercent(r.nextInt(60))
                .withKsetFlushDelayMillis(1 + r.nextInt(10)).withGcIntervalMillis(5).withStreams(1 + r.nextInt(2))
                .withBackingTimeoutMillis(500);
    }

    /**
     * The engine on these devices, with the ordered write-back policy in groups of at most
     * 256 KiB (its default is 64 MiB, more than a trial writes): a flush interval then spans
     * several groups, so dirty_tail also moves inside intervals and past versions that the look
     * ahead left out because a later kset of the interval replaces them.
     */
    static CacheEngine open(EngineConfig cfg, SimulatedPmem pmem, MemoryBacking backing) throws IOException {
        return Harness.open(cfg, pmem, Harness.holder(backing), new OrderedWritebackPolicy(256 << 10, 1 << 16));
    }

    /** Stops the engine's waits once the device has crashed (a crashed device never frees space). */
    static Thread watchdog(SimulatedPmem pmem, CacheEngine engine) {
        Thread t = new Thread(() -> {
            while (!pmem.crashed()) {
                try {
                    Thread.sleep(2);
                } catch (InterruptedException e) {
                    return;
                }
            }
            engine.abandon();
        }, "crash-watchdog");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Waits for the crashed engine's watchdog to end, then abandons the engine. */
    static void stopCrashed(Thread watchdog, CacheEngine engine, String where) throws InterruptedException {
        watchdog.join(60_000); // it ends once it has stopped the crashed engine's threads
        assertTrue(!watchdog.isAlive(), where + ": the crash watchdog did not end");
        engine.abandon();
    }

    /** Waits up to {@code millis} for the armed crash to strike (in a background thread). */
    static void awaitCrash(SimulatedPmem pmem, long millis) throws InterruptedException {
        long end = System.nanoTime() + millis * 1_000_000L;
        while (!pmem.crashed() && System.nanoTime() < end) {
            Thread.sleep(1);
        }
    }

    /** The cache as recovered at last, and the backing device it was recovered with. */
    record Recovered(CacheEngine engine, MemoryBacking backing) {
    }

    /** A recovery attempt that {@link #recover} cuts short by a crash: how the test aims it and what it runs. */
    interface ArmedAttempt {
        /** Arms a crash on {@code image} for attempt {@code attempt}; returns its aim. */
        CrashAim arm(SimulatedPmem image, int attempt);

        /**
         * Open returned {@code e} with the crash armed: runs what the test runs then and returns the
         * site the crash struck at, with {@code e} stopped, or null to keep {@code e} as the recovered
         * cache.
         */
        CrashSite afterOpen(CacheEngine e, SimulatedPmem image, CrashAim aim, int attempt) throws Exception;

        /** The attempt crashed at {@code site}, inside open when {@code inOpen}. */
        void crashed(CrashSite site, boolean inOpen);
    }

    /**
     * Opens the crashed devices again until an open is not cut short: in one attempt in four (the
     * first two attempts at most, drawn from {@code r}) the attempt is armed to crash, and after a
     * crash the next attempt starts from that crash's images.
     */
    static Recovered recover(EngineConfig cfg, SimulatedPmem image, MemoryBacking backingImage, Random r, long seed,
            ArmedAttempt armed) throws Exception {
        for (int attempt = 0;; attempt++) {
            boolean arm = attempt < 2 && r.nextInt(4) == 0;
            CrashAim aim = arm ? armed.arm(image, attempt) : null;
            CacheEngine e = null;
            try {
                e = open(cfg, image, backingImage);
            } catch (IOException x) {
                if (!arm || !image.crashed()) {
                    throw x;
                }
            }
            if (!arm) {
                return new Recovered(e, backingImage);
            }
            CrashSite site;
            if (e == null) {
                site = aim.struck;
            } else {
                site = armed.afterOpen(e, image, aim, attempt);
                if (site == null) {
                    return new Recovered(e, backingImage);
                }
            }
            armed.crashed(site, e == null);
            image = image.afterCrash(true);
            backingImage = backingImage.afterCrash(new Random(seed * 13 + attempt));
        }
    }

    /** Sectors (sorted, distinct) as runs of at most 1 MiB: {first sector, count}. */
    static List<long[]> runs(long[] sorted) {
        List<long[]> runs = new ArrayList<>();
        int i = 0;
        while (i < sorted.length) {
            int j = i + 1;
            while (j < sorted.length && sorted[j] == sorted[j - 1] + 1 && j - i < 2048) {
                j++;
            }
            runs.add(new long[] {sorted[i], j - i});
            i = j;
        }
        return runs;
    }

    /** Reads a run of sectors {first, count} from the engine. */
    static ByteBuffer read(CacheEngine e, long[] run) throws IOException {
        ByteBuffer got = ByteBuffer.allocate((int) run[1] * SECTOR).order(ByteOrder.LITTLE_ENDIAN);
        e.read(run[0] * SECTOR, got);
        return got;
    }

    /** Writes everything back, then the backing device must hold what the cache serves in every run. */
    static void checkWrittenBack(CacheEngine recovered, MemoryBacking backing, List<long[]> runs, String where)
            throws IOException {
        recovered.drain(null);
        for (long[] run : runs) {
            byte[] cached = Harness.read(recovered, run[0] * SECTOR, (int) run[1] * SECTOR);
            byte[] onBacking = backing.content(run[0] * SECTOR, (int) run[1] * SECTOR);
            if (!Arrays.equals(cached, onBacking)) {
                fail(where + ": after write-back, sectors from " + run[0] + " differ between cache and backing device");
            }
        }
    }

    /**
     * The version sector {@code s} holds at {@code at} of {@code b} ({@link SectorHistory#ZERO} for
     * zeroes); fails, naming what it found, on bytes never written to that sector.
     */
    static long decodeWritten(ByteBuffer b, int at, long s, String where) {
        long v = SectorHistory.decode(b, at, s);
        if (v == SectorHistory.FOREIGN) {
            long version = b.getLong(at);
            ByteBuffer expect = ByteBuffer.allocate(SECTOR).order(ByteOrder.LITTLE_ENDIAN);
            SectorHistory.fillSector(expect, 0, s, version);
            int i = 0;
            while (i < SECTOR && b.getLong(at + i) == expect.getLong(i)) {
                i += 8;
            }
            fail(where + ": sector " + s + " holds bytes never written to it (names version " + version
                    + " of sector " + b.getLong(at + 8) + (i < SECTOR ? ", differs at byte " + i : "") + ")");
        }
        return v;
    }
}
