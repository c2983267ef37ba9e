package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import pcache.engine.internal.CrashSiteCounts.Phase;
import pcache.engine.internal.engine.CacheEngine;
import pcache.engine.internal.engine.EngineConfig;

/**
 * Power cuts while several client threads use one cache at once, as several NBD connections do:
 * every thread writes (some writes FUA, some write-zeroes) and reads, one of them also flushes.
 * The promise under test is the multi-connection one: a flush that returns makes durable every
 * write acknowledged before it was issued, on any thread. After the crash and recovery every
 * sector the threads wrote must hold what {@link FlushOracle} accepts (the newest promised
 * version, or a version whose write was not over before that one began), never bytes not written
 * to it; every read that returned during the workload is judged the same way. The devices forget
 * as in {@link CrashTest}: the cache device every word not flushed and fenced, the backing device
 * every write not flushed; write-back (ordered policy) and GC run throughout. The crash strikes at
 * a random mutating operation on the cache device, in whichever thread makes it (the summary
 * counts where: by thread, request and kind of operation, and per {@link CrashSite} and phase, as
 * {@link CrashTest} does; see {@link CrashAim}); in one recovery attempt in four (two at most per
 * trial) the device crashes again, during open or in the first steps of write-back and GC, and the
 * cache recovers from that image.
 *
 * <p>The order in which the threads interleave is up to the scheduler, so a trial is not exactly
 * reproducible: the oracle judges by the ticks of one clock the threads share (see
 * {@link FlushOracle}), so its verdict is right for whatever interleaving happened. A failure names
 * its seed; {@code -Dpcache.crash.concurrent.seed=N} runs that trial again: the same requests on
 * each thread and the crash at the same count of mutating operations, but which request that
 * count falls in depends on the interleaving, so a replay may not repeat the failure exactly.
 *
 * <p>CI runs {@value #CI_TRIALS} trials; {@code -Dpcache.test.long=true} runs {@value #LONG_TRIALS}
 * with longer workloads; {@code -Dpcache.crash.concurrent.trials=N} sets the count.
 */
@ExtendWith(CrashTrials.QuietLogging.class)
class ConcurrentCrashTest {

    private static final int SECTOR = SectorHistory.SECTOR;
    private static final long LOGICAL = 64 * Harness.MIB;
    private static final int CI_TRIALS = 600;
    private static final int LONG_TRIALS = 12000;
    private static final boolean LONG = Boolean.getBoolean("pcache.test.long");
    /** Where most writes go: 1 MiB across a 4 MiB slice boundary, so threads often meet. */
    private static final long HOT = 12 * Harness.MIB - Harness.MIB / 2;
    private static final int SEGMENTS = 4;

    /** Counts over all trials. */
    private static final class Totals {
        int trials;
        int clients;
        int crashedInside;
        int recoveryCrashes;
        int trialsCrashedInRecovery;
        long writes;
        long flushes;
        long promisedForOthers;
        long contestedSectors;
        long readSectors;
        final Map<String, Integer> sites = new TreeMap<>();
        final CrashSiteCounts crashSites = new CrashSiteCounts();

        synchronized void add(Trial t) {
            trials++;
            clients += t.clients;
            if (t.site != null) {
                crashedInside++;
                sites.merge(t.site, 1, Integer::sum);
            }
            crashSites.crashAt(Phase.WORKLOAD, t.workloadSite);
            t.recoverySites.forEach(s -> crashSites.crashAt(Phase.RECOVERY, s));
            recoveryCrashes += t.recoveryCrashes;
            trialsCrashedInRecovery += t.recoveryCrashes > 0 ? 1 : 0;
            writes += t.writes;
            flushes += t.flushes;
            promisedForOthers += t.oracle.promisedForOtherThreads();
            contestedSectors += t.oracle.contestedSectors();
            readSectors += t.readSectors;
        }
    }

    /** A read that returned during the workload: ticks around it and the version of each sector. */
    private record Read(long offset, long issued, long returned, long[] versions) {
    }

    /** One client thread's view: its writes, reads and the flushes that returned. */
    private static final class Client {
        final int id;
        final List<FlushOracle.Write> writes = new ArrayList<>();
        final List<Read> reads = new ArrayList<>();
        final List<Long> flushesReturned = new ArrayList<>();
        Throwable failure;

        Client(int id) {
            this.id = id;
        }
    }

    /** What one trial did and found. */
    private static final class Trial {
        int clients;
        /** Who was doing what when the crash struck inside the workload; null when it came at its end. */
        String site;
        CrashSite workloadSite;
        final List<CrashSite> recoverySites = new ArrayList<>();
        int recoveryCrashes;
        int trialsCrashedInRecovery;
        long writes;
        long flushes;
        long readSectors;
        final FlushOracle oracle = new FlushOracle();
    }

    @Test
    void concurrentClientsAndFlushes() throws Exception {
        Totals totals = new Totals();
        Long replay = Long.getLong("pcache.crash.concurrent.seed");
        long started = System.nanoTime();
        if (replay != null) {
            trialNamingSeed(replay, totals);
        } else {
            int trials = Integer.getInteger("pcache.crash.concurrent.trials", LONG ? LONG_TRIALS : CI_TRIALS);
            for (long seed = 0; seed < trials; seed++) {
                trialNamingSeed(seed, totals);
            }
        }
        report(totals, (System.nanoTime() - started) / 1_000_000_000.0, replay);
        if (replay == null) {
            // guards against a workload that no longer tests what it claims
            assertTrue(totals.crashedInside >= totals.trials * 7 / 10, "most trials should crash inside the workload");
            assertTrue(totals.promisedForOthers > 0, "a flush should have made other threads' writes durable");
            assertTrue(totals.contestedSectors > 0, "threads should have written the same sectors at the same time");
        }
    }

    private static void report(Totals t, double seconds, Long replay) {
        StringBuilder b = new StringBuilder();
        String replayed = replay == null ? "" : "replayed seed " + replay + ", ";
        b.append(String.format("concurrent crash test: %s%d trials (%d client threads in all) in %.0f s;"
                + " %d crash points: %d inside the workload, %d at its end, %d during recovery (in %d trials)%n",
                replayed, t.trials, t.clients, seconds, t.trials + t.recoveryCrashes,
                t.crashedInside, t.trials - t.crashedInside, t.recoveryCrashes, t.trialsCrashedInRecovery));
        b.append(String.format("  %d writes, %d flushes returned; %d writes of non-flushing threads made durable by"
                + " another thread's flush; %d sectors written by two threads at the same time; %d sectors checked in"
                + " live reads%n", t.writes, t.flushes, t.promisedForOthers, t.contestedSectors, t.readSectors));
        b.append("  where the crash struck inside the workload:\n");
        t.sites.forEach((site, n) -> b.append(String.format("    %6d  %s%n", n, site)));
        b.append("  crash points per site and phase:\n").append(t.crashSites.table()).append('\n');
        System.out.print(b);
    }

    /** One trial; whatever fails in it names the seed and how to replay it. */
    private void trialNamingSeed(long seed, Totals totals) {
        try {
            totals.add(trial(seed));
        } catch (Throwable t) {
            String replay = " -Dpcache.crash.concurrent.seed=" + seed + (LONG ? " -Dpcache.test.long=true" : "");
            throw new AssertionError("concurrent crash trial seed " + seed + " failed; replay it with" + replay
                    + " (./mvnw -o -B -pl pcache.engine -am test -Dtest=ConcurrentCrashTest"
                    + " -Dsurefire.failIfNoSpecifiedTests=false" + replay + ")", t);
        }
    }

    private Trial trial(long seed) throws Exception {
        Random r = new Random(seed);
        String where = "concurrent crash trial seed " + seed;
        Trial trial = new Trial();
        EngineConfig cfg = CrashTrials.config("crash-concurrent", r.nextInt(5) == 0, r);
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(SEGMENTS), true);
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", true);
        CacheEngine engine = CrashTrials.open(cfg, pmem, backing);
        trial.clients = 2 + r.nextInt(3);
        int opsPerClient = LONG ? 20 + r.nextInt(100) : 10 + r.nextInt(30);
        CrashAim aim = new CrashAim(null, pmem, SEGMENTS);
        pmem.armCrash(1 + r.nextInt(trial.clients * opsPerClient * 4), new Random(seed * 31 + 7), aim);
        Thread watchdog = CrashTrials.watchdog(pmem, engine);

        AtomicLong clock = new AtomicLong();
        AtomicLong versions = new AtomicLong(seed * 1_000_000L + 1);
        CountDownLatch start = new CountDownLatch(1);
        List<Client> clients = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < trial.clients; i++) {
            Client c = new Client(i);
            Random cr = new Random(seed * 1_000_003L + i);
            clients.add(c);
            Thread t = new Thread(() -> {
                try {
                    start.await();
                    workload(c, cr, opsPerClient, engine, aim, pmem, clock, versions);
                } catch (Throwable e) {
                    c.failure = e;
                }
            }, "crash-client-" + i);
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
        start.countDown();
        for (Thread t : threads) {
            t.join(120_000);
            if (t.isAlive()) {
                StringBuilder stack = new StringBuilder();
                for (StackTraceElement e : t.getStackTrace()) {
                    stack.append("\n    at ").append(e);
                }
                fail(where + ": client thread " + t.getName() + " hangs (device crashed: " + pmem.crashed() + ")"
                        + stack);
            }
        }
        for (Client c : clients) {
            if (c.failure != null) {
                throw new AssertionError(where + ": client thread " + c.id + " failed", c.failure);
            }
        }
        trial.site = aim.struckBy();
        trial.workloadSite = trial.site == null ? CrashSite.AT_REST : aim.struck;
        if (!pmem.crashed()) {
            pmem.crashNow(new Random(seed * 31 + 7));
        }
        CrashTrials.stopCrashed(watchdog, engine, where);

        FlushOracle oracle = trial.oracle;
        for (Client c : clients) {
            c.writes.forEach(oracle::add);
            c.flushesReturned.forEach(issued -> oracle.flushReturned(c.id, issued));
            trial.writes += c.writes.size();
            trial.flushes += c.flushesReturned.size();
        }
        for (Client c : clients) {
            for (Read rd : c.reads) {
                for (int k = 0; k < rd.versions.length; k++) {
                    long s = rd.offset / SECTOR + k;
                    String why = oracle.judgeRead(s, rd.versions[k], rd.issued, rd.returned);
                    if (why != null) {
                        fail(where + ": a read by client thread " + c.id + " during the workload (ticks " + rd.issued
                                + " to " + rd.returned + "): " + why);
                    }
                }
                trial.readSectors += rd.versions.length;
            }
        }

        SimulatedPmem image = pmem.afterCrash(true);
        MemoryBacking backingImage = backing.afterCrash(new Random(seed * 17 + 3));
        // Recovery, in one attempt in four (two at most) cut short by another crash, in which case
        // recover again from that image. Open makes about six mutating operations (replay ends
        // with the INIT_DONE update), so the crash is armed within the first twelve: half strike
        // inside open, the rest in the first steps of write-back and GC, given up to 50 ms to run.
        CrashTrials.ArmedAttempt crashAgain = new CrashTrials.ArmedAttempt() {
            @Override
            public CrashAim arm(SimulatedPmem img, int attempt) {
                CrashAim aim = new CrashAim(null, img, SEGMENTS);
                img.armCrash(1 + r.nextInt(12), new Random(seed * 7 + attempt), aim);
                return aim;
            }

            @Override
            public CrashSite afterOpen(CacheEngine e, SimulatedPmem img, CrashAim aim, int attempt)
                    throws InterruptedException {
                CrashTrials.awaitCrash(img, 50);
                // disarming tells atomically whether the crash struck, in any thread, up to this instant
                if (img.disarm()) {
                    return null;
                }
                e.abandon();
                return aim.struck;
            }

            @Override
            public void crashed(CrashSite site, boolean inOpen) {
                trial.recoveryCrashes++;
                trial.recoverySites.add(site);
            }
        };
        CrashTrials.Recovered rec = CrashTrials.recover(cfg, image, backingImage, r, seed, crashAgain);
        CacheEngine recovered = rec.engine();
        try {
            List<long[]> runs = CrashTrials.runs(oracle.sectors().stream().mapToLong(Long::longValue).toArray());
            for (long[] run : runs) {
                ByteBuffer got = CrashTrials.read(recovered, run);
                for (int k = 0; k < run[1]; k++) {
                    long s = run[0] + k;
                    String why = oracle.judgeAfterCrash(s, SectorHistory.decode(got, k * SECTOR, s));
                    if (why != null) {
                        fail(where + " after recovery (crash struck " + (trial.site == null ? "at the end of the"
                                + " workload" : "in " + trial.site) + "): " + why);
                    }
                }
            }
            if (r.nextInt(4) == 0) {
                CrashTrials.checkWrittenBack(recovered, rec.backing(), runs, where);
            }
        } finally {
            recovered.close();
        }
        return trial;
    }

    /** One client thread's requests, until its share is done or the device has crashed. */
    private static void workload(Client c, Random r, int ops, CacheEngine engine, CrashAim aim,
            SimulatedPmem pmem, AtomicLong clock, AtomicLong versions) throws IOException {
        boolean flusher = c.id == 0;
        try {
            for (int op = 0; op < ops && !pmem.crashed(); op++) {
                int kind = r.nextInt(100);
                long off = offset(r);
                int len = length(r, off);
                if (flusher && kind < 25) {
                    aim.doing("client flush");
                    long issued = clock.incrementAndGet();
                    engine.flush();
                    c.flushesReturned.add(issued);
                } else if (kind < 80) {
                    boolean zero = kind >= 72;
                    boolean fua = r.nextInt(zero ? 2 : 5) == 0;
                    aim.doing("client " + (fua ? "FUA " : "") + (zero ? "write-zeroes" : "write"));
                    long v = versions.getAndIncrement();
                    FlushOracle.Write w = new FlushOracle.Write(c.id, off, len, v, zero, fua, clock.incrementAndGet());
                    c.writes.add(w);
                    if (zero) {
                        engine.writeZeroes(off, len, fua);
                    } else {
                        engine.write(off, SectorHistory.content(off, len, v), fua);
                    }
                    w.acknowledged = clock.incrementAndGet();
                } else {
                    aim.doing("client read (miss fill)");
                    ByteBuffer got = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN);
                    long issued = clock.incrementAndGet();
                    engine.read(off, got);
                    long returned = clock.incrementAndGet();
                    long[] seen = new long[len / SECTOR];
                    for (int k = 0; k < seen.length; k++) {
                        seen[k] = SectorHistory.decode(got, k * SECTOR, off / SECTOR + k);
                    }
                    c.reads.add(new Read(off, issued, returned, seen));
                }
            }
        } catch (IOException e) {
            if (!pmem.crashed()) {
                throw new AssertionError("client thread " + c.id + ": failure without a crash", e);
            }
        }
    }

    private static long offset(Random r) {
        int k = r.nextInt(10);
        if (k < 6) {
            // 1 MiB shared by all threads, across a slice boundary: versions from different threads compete
            return HOT + r.nextInt((int) (Harness.MIB / SECTOR)) * (long) SECTOR;
        }
        if (k < 8) {
            return 32 * Harness.MIB + r.nextInt((int) (4 * Harness.MIB / SECTOR)) * (long) SECTOR;
        }
        return (r.nextLong(LOGICAL - 8 * Harness.MIB) / SECTOR) * SECTOR;
    }

    private static int length(Random r, long off) {
        int len;
        int k = r.nextInt(40);
        if (k == 0) {
            len = (int) (Harness.MIB + r.nextInt((int) (Harness.MIB)));
        } else if (k < 6) {
            len = 16 * 1024 + r.nextInt(128 * 1024);
        } else {
            len = SECTOR * (1 + r.nextInt(16));
        }
        len = len / SECTOR * SECTOR;
        return (int) Math.min(len, LOGICAL - off);
    }
}
