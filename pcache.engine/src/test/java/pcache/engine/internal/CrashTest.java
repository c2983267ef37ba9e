package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import pcache.api.CachePos;
import pcache.api.CorruptMediaException;
import pcache.api.format.PcacheFormat;
import pcache.api.spi.CrcProvider;
import pcache.api.spi.PmemRegion;
import pcache.api.spi.SegmentContext;
import pcache.api.spi.SegmentListener;
import pcache.engine.internal.CrashSiteCounts.Phase;
import pcache.engine.internal.engine.CacheEngine;
import pcache.engine.internal.engine.EngineConfig;
import pcache.engine.internal.media.CacheInfoCodec.CacheInfo;
import pcache.engine.internal.media.CacheMetadata;
import pcache.segment.internal.FifoSegmentAllocator;

/**
 * Power cuts at random points inside the engine. The cache device forgets every 8-byte word that
 * was not flushed and fenced (each such word kept or lost at random: torn writes in any order),
 * the backing device forgets writes it was not asked to flush. After each crash the cache is
 * opened again (sometimes crashing again during that recovery) and every sector the workload
 * touched must hold an acceptable version:
 * <ul>
 * <li>the newest version that was made durable — by a FUA write that returned, or by a write that
 * returned before a flush that then returned — or any version written after it (those were never
 * promised, but may have survived);</li>
 * <li>never bytes that were not written to that sector (content identifies version and sector).</li>
 * </ul>
 * Then, in some trials, everything is written back and the backing device must agree.
 *
 * <p>Crash sites: every crash point is attributed to the engine step it interrupted
 * ({@link CrashSite}, from the stack of the thread whose store, flush or fence it struck) and the
 * run prints a table of crash points per site and phase. Most trials aim their crash at one site
 * (the n-th operation there, n random) and shape the cache so that the site comes up: the key log
 * placed a few KiB before the end of its segment (so it moves to a new one and GC releases the
 * old one), a data segment nearly filled by write-zeroes (so GC reclaims it), gc_percent changed
 * during the workload, a crash during format. One trial in four crashes again while recovering
 * (inside open or in the first steps after it: background write-back and GC, the first
 * requests); the recovered cache then gets the same check. The run fails when a site the slice
 * aims at is reached fewer than {@value #CI_MIN_PER_SITE} times (CI) or {@value #LONG_MIN_PER_SITE}
 * times (long run), or when more than 1 % of the crash points fall at no named site.
 *
 * <p>CI runs {@value #CI_TRIALS} trials; {@code -Dpcache.test.long=true} runs
 * {@value #LONG_TRIALS} with longer workloads, and with data CRC on for half of them. A failure
 * names its trial's seed; {@code -Dpcache.crash.seed=N} runs that one trial again.
 */
@ExtendWith(CrashTrials.QuietLogging.class)
class CrashTest {

    private static final int SECTOR = SectorHistory.SECTOR;
    private static final long LOGICAL = 64 * Harness.MIB;
    private static final int CI_TRIALS = 2000;
    private static final int LONG_TRIALS = 12000;
    private static final boolean LONG = Boolean.getBoolean("pcache.test.long");
    private static final long ZERO = SectorHistory.ZERO;

    /** Acceptable versions of one sector. */
    private static final class SectorState {
        long floor; // version durable for sure (0 = initial zero content)
        boolean floorZero = true;
        long[] later = new long[2]; // versions written after floor (never promised, may survive)
        int laterCount;
        boolean laterZero;
        long latestAcked;
        boolean latestAckedZero = true;

        void addLater(long v, boolean zero) {
            if (laterCount == later.length) {
                later = java.util.Arrays.copyOf(later, later.length * 2);
            }
            later[laterCount++] = v;
            laterZero |= zero;
        }

        void makeDurable(long v, boolean zero) {
            floor = v;
            floorZero = zero;
            laterCount = 0;
            laterZero = false;
        }

        boolean laterContains(long v) {
            for (int i = 0; i < laterCount; i++) {
                if (later[i] == v) {
                    return true;
                }
            }
            return false;
        }

        String laterText() {
            return java.util.Arrays.toString(java.util.Arrays.copyOf(later, laterCount));
        }
    }

    /** What the workload knows is promised (written by the workload thread only). */
    private static final class Model {
        final SectorState[] states = new SectorState[(int) (LOGICAL / SECTOR)];
        final List<Integer> touched = new ArrayList<>();
        final Set<Integer> dirtySinceFlush = new HashSet<>();

        SectorState state(long s) {
            SectorState st = states[(int) s];
            if (st == null) {
                st = new SectorState();
                states[(int) s] = st;
                touched.add((int) s);
            }
            return st;
        }

        void issued(long off, int len, long version, boolean zero) {
            for (long s = off / SECTOR; s < (off + len) / SECTOR; s++) {
                state(s).addLater(version, zero);
            }
        }

        void acked(long off, int len, long version, boolean zero, boolean fua) {
            for (long s = off / SECTOR; s < (off + len) / SECTOR; s++) {
                SectorState st = state(s);
                st.latestAcked = version;
                st.latestAckedZero = zero;
                if (fua) {
                    st.makeDurable(version, zero);
                } else {
                    dirtySinceFlush.add((int) s);
                }
            }
        }

        /** The device crashed: what was acknowledged and not flushed may or may not have survived. */
        void crashed() {
            dirtySinceFlush.clear();
        }

        /** A flush returned: everything acknowledged before it started is durable. */
        void flushed() {
            for (int s : dirtySinceFlush) {
                SectorState st = states[s];
                st.makeDurable(st.latestAcked, st.latestAckedZero);
            }
            dirtySinceFlush.clear();
        }
    }

    /** What one run counts, over all its trials (shared by the lanes). */
    private static final class Run {
        final CrashSiteCounts sites = new CrashSiteCounts();
        final AtomicInteger crashed = new AtomicInteger();
        final AtomicInteger recoveryArmed = new AtomicInteger();
        final AtomicInteger recoveryInOpen = new AtomicInteger();
        final AtomicInteger formatArmed = new AtomicInteger();
        final AtomicInteger formatRefusals = new AtomicInteger();
        final AtomicInteger deepLogTrials = new AtomicInteger();
        final AtomicInteger fullSegmentTrials = new AtomicInteger();
    }

    /** Sites the workload crash is aimed at (besides any operation); each with the bound of its n. */
    private static final CrashSite[] WORKLOAD_SITES = {CrashSite.DATA_COPY, CrashSite.KEY_APPEND,
        CrashSite.KSET_CLOSE, CrashSite.KEY_SEGMENT_ALLOCATION, CrashSite.LAST_KSET, CrashSite.DIRTY_TAIL,
        CrashSite.KEY_TAIL, CrashSite.KEY_TAIL_RELEASE, CrashSite.GC_GENERATION, CrashSite.CACHE_INFO};
    /**
     * Sites a crash during format is aimed at (besides any operation); INIT_DONE once, as recovery
     * reaches it too.
     */
    private static final CrashSite[] FORMAT_SITES = {CrashSite.SEGMENT_INFO, CrashSite.SEGMENT_INFO,
        CrashSite.EXTENSION, CrashSite.EXTENSION, CrashSite.INIT_DONE, CrashSite.FORMAT, CrashSite.FORMAT};
    /** Sites a crash during recovery is aimed at (besides any of its first operations). */
    private static final CrashSite[] RECOVERY_SITES = {CrashSite.REPLAY, CrashSite.INIT_DONE, CrashSite.DIRTY_TAIL,
        CrashSite.KEY_TAIL, CrashSite.KSET_CLOSE, CrashSite.DATA_COPY, CrashSite.KEY_APPEND};
    /** Sites written by background threads: when the workload ends first, the crash is given a moment. */
    private static final java.util.EnumSet<CrashSite> BACKGROUND = java.util.EnumSet.of(CrashSite.KSET_CLOSE,
            CrashSite.KEY_SEGMENT_ALLOCATION, CrashSite.LAST_KSET, CrashSite.DIRTY_TAIL, CrashSite.KEY_TAIL,
            CrashSite.KEY_TAIL_RELEASE, CrashSite.GC_GENERATION);
    private static final long BACKGROUND_WAIT_MILLIS = 100;
    /** Crash-site counts the CI slice must reach at every site it aims at, and the long run. */
    private static final int CI_MIN_PER_SITE = 20;
    private static final int LONG_MIN_PER_SITE = 500;
    /** The last 4 MiB slice: filled by write-zeroes before the workload (to age a data segment), never touched by it. */
    private static final long AGEING_SLICE = LOGICAL - 4 * Harness.MIB;
    private static final int SEGMENTS = 4;

    @Test
    void randomCrashPoints() throws Exception {
        int trials = Integer.getInteger("pcache.crash.trials", LONG ? LONG_TRIALS : CI_TRIALS);
        Run run = new Run();
        Long replay = Long.getLong("pcache.crash.seed");
        if (replay != null) {
            // one trial, as a failure printed it (background threads make a replay likely, not certain, to repeat it)
            trialNamingSeed(replay, run);
            System.out.println("crash test: replayed seed " + replay + "\n" + run.sites.table());
            return;
        }
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                int lane = t;
                futures.add(pool.submit(() -> {
                    for (int seed = lane; seed < trials; seed += 2) {
                        trialNamingSeed(seed, run);
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        int atRest = run.sites.count(Phase.WORKLOAD, CrashSite.AT_REST);
        System.out.println("crash test: " + trials + " trials, " + run.sites.crashPoints() + " crash points: "
                + run.formatArmed.get() + " trials armed during format (" + run.formatRefusals.get()
                + " refused to open after it, see below), " + run.crashed.get() + " crashes inside the workload, "
                + atRest + " at its end, " + run.recoveryArmed.get() + " during recovery (" + run.recoveryInOpen.get()
                + " inside open, the rest in the first steps after it); " + run.deepLogTrials.get()
                + " trials with the key log near the end of its segment, " + run.fullSegmentTrials.get()
                + " with a data segment nearly full\n" + run.sites.table());
        assertTrue(run.sites.count(CrashSite.OTHER) * 100 <= run.sites.crashPoints(),
                "more than 1 % of the crash points struck at no named site: CrashSite misses an engine step\n"
                        + run.sites.table());
        assertTrue(atRest * 4 <= trials, "more than a quarter of the trials ended before their crash struck");
        int min = trials >= LONG_TRIALS ? LONG_MIN_PER_SITE : trials >= CI_TRIALS ? CI_MIN_PER_SITE : 0;
        for (CrashSite s : CrashSite.values()) {
            if (s != CrashSite.OTHER && s != CrashSite.AT_REST && s != CrashSite.MISS_FILL) {
                assertTrue(run.sites.count(s) >= min, "only " + run.sites.count(s) + " crash points at " + s.label
                        + " (at least " + min + " expected)\n" + run.sites.table());
            }
        }
    }

    /** One trial; whatever fails in it names the seed and how to replay it. */
    private void trialNamingSeed(long seed, Run run) {
        try {
            trial(seed, run);
        } catch (Throwable t) {
            throw new AssertionError("crash trial seed " + seed + " failed; replay it with -Dpcache.crash.seed=" + seed
                    + " (mvn -pl pcache.engine test -Dtest=CrashTest -Dpcache.crash.seed=" + seed + ")", t);
        }
    }

    /** The devices of a trial as they stand, and the engine open on them. */
    private static final class Devices {
        SimulatedPmem pmem;
        MemoryBacking backing;
        CacheEngine engine;

        Devices(SimulatedPmem pmem, MemoryBacking backing) {
            this.pmem = pmem;
            this.backing = backing;
        }
    }

    private void trial(long seed, Run run) throws Exception {
        Random r = new Random(seed);
        String where = "crash trial seed " + seed;
        boolean dataCrc = LONG ? r.nextBoolean() : seed % 5 == 0;
        EngineConfig cfg = CrashTrials.config("crash", dataCrc, r);
        // what this trial's crash aims at, and how the cache is shaped so that it is reached
        CrashSite target = r.nextInt(4) == 0 ? null : WORKLOAD_SITES[r.nextInt(WORKLOAD_SITES.length)];
        boolean aimedAtSwitch = target == CrashSite.KEY_SEGMENT_ALLOCATION || target == CrashSite.LAST_KSET
                || target == CrashSite.KEY_TAIL_RELEASE;
        boolean deepLog = aimedAtSwitch || r.nextInt(target == CrashSite.KEY_TAIL ? 2 : 4) == 0;
        boolean fullSegment = target == CrashSite.GC_GENERATION || r.nextInt(8) == 0;
        Devices d = new Devices(new SimulatedPmem(Harness.deviceBytes(SEGMENTS), true),
                new MemoryBacking(LOGICAL, "disk", true));
        if (r.nextInt(5) == 0) {
            formatWithCrash(cfg, d, r, seed, run, where);
        } else {
            d.engine = CrashTrials.open(cfg, d.pmem, d.backing);
        }
        if (deepLog) {
            // the key log starts a few KiB before the end of a segment, as in a cache whose log was
            // written back and reclaimed up to there: the workload moves it to a new segment
            run.deepLogTrials.incrementAndGet();
            d.engine.close();
            d.pmem = d.pmem.reopen();
            int room = 8 * (3 + r.nextInt(aimedAtSwitch ? 128 : LONG ? 2048 : 768));
            placeTails(d.pmem, new CachePos(r.nextInt(SEGMENTS), PcacheFormat.SEG_DATA_SIZE - room));
            d.engine = CrashTrials.open(cfg, d.pmem, d.backing);
        }
        if (fullSegment) {
            // fill the data segment this thread writes into up to its last 0-2 MiB (write-zeroes
            // are cheap), so that the workload moves on to another one and GC reclaims this one
            run.fullSegmentTrials.incrementAndGet();
            long left = PcacheFormat.SEG_DATA_SIZE - (long) SECTOR * r.nextInt(4096);
            while (left > 0) {
                long len = Math.min(left, 4 * Harness.MIB);
                d.engine.writeZeroes(AGEING_SLICE, len, false);
                left -= len;
            }
        }
        SimulatedPmem pmem = d.pmem;
        MemoryBacking backing = d.backing;
        CacheEngine engine = d.engine;
        Model model = new Model();
        int ops = LONG ? 40 + r.nextInt(160) : 20 + r.nextInt(60);
        CrashAim aim = new CrashAim(target, pmem, SEGMENTS);
        pmem.armCrash(1 + r.nextInt(target == null ? ops * 4 : reach(target, ops)), new Random(seed * 31 + 7), aim);
        Thread watchdog = CrashTrials.watchdog(pmem, engine);
        long[] version = {seed * 1_000_000L + 1};
        workload(engine, pmem, model, r, ops, version, true, where);
        if (!pmem.crashed() && BACKGROUND.contains(target)) {
            CrashTrials.awaitCrash(pmem, BACKGROUND_WAIT_MILLIS);
        }
        if (pmem.crashed()) {
            run.crashed.incrementAndGet();
            run.sites.crashAt(Phase.WORKLOAD, aim.struck);
        } else {
            pmem.crashNow(new Random(seed * 31 + 7));
            run.sites.crashAt(Phase.WORKLOAD, CrashSite.AT_REST);
        }
        CrashTrials.stopCrashed(watchdog, engine, where);
        model.crashed();
        SimulatedPmem image = pmem.afterCrash(true);
        MemoryBacking backingImage = backing.afterCrash(new Random(seed * 17 + 3));

        // recovery; in one trial in four it crashes again, inside open (replay, INIT_DONE) or in
        // the first steps after it (write-back, GC, the first requests), and the cache is
        // recovered from that image (which may crash again, in one case in four)
        CrashTrials.ArmedAttempt crashAgain = new CrashTrials.ArmedAttempt() {
            @Override
            public CrashAim arm(SimulatedPmem img, int attempt) {
                run.recoveryArmed.incrementAndGet();
                CrashAim aim = new CrashAim(r.nextBoolean() ? null : RECOVERY_SITES[r.nextInt(RECOVERY_SITES.length)],
                        img, SEGMENTS);
                img.armCrash(1 + r.nextInt(aim.target == null ? 12 : 3), new Random(seed * 7 + attempt), aim);
                return aim;
            }

            @Override
            public CrashSite afterOpen(CacheEngine e, SimulatedPmem img, CrashAim aim, int attempt) throws Exception {
                Thread wd = CrashTrials.watchdog(img, e);
                workload(e, img, model, r, 30, version, false, where + " after recovery " + attempt);
                if (!img.crashed()) {
                    CrashTrials.awaitCrash(img, BACKGROUND_WAIT_MILLIS);
                }
                CrashSite site;
                if (img.crashed()) {
                    site = aim.struck;
                } else {
                    img.crashNow(new Random(seed * 11 + attempt));
                    site = CrashSite.AT_REST;
                }
                CrashTrials.stopCrashed(wd, e, where);
                return site;
            }

            @Override
            public void crashed(CrashSite site, boolean inOpen) {
                if (inOpen) {
                    run.recoveryInOpen.incrementAndGet();
                }
                run.sites.crashAt(Phase.RECOVERY, site);
                model.crashed();
            }
        };
        CrashTrials.Recovered rec = CrashTrials.recover(cfg, image, backingImage, r, seed, crashAgain);
        CacheEngine recovered = rec.engine();
        try {
            verify(recovered, model, where);
            if (r.nextInt(4) == 0) {
                CrashTrials.checkWrittenBack(recovered, rec.backing(), runs(model), where);
            }
        } finally {
            recovered.close();
        }
    }

    /** Bound of the random n for a crash aimed at the n-th operation at {@code site}. */
    private static int reach(CrashSite site, int ops) {
        switch (site) {
            case DATA_COPY:
                return ops;
            case KEY_APPEND:
            case KSET_CLOSE:
            case DIRTY_TAIL:
                return Math.max(3, ops / 2);
            case KEY_TAIL:
                return Math.max(3, ops / 4);
            default:
                return 3; // a single store, flush and fence
        }
    }

    /**
     * Runs {@code ops} random operations until the device crashes. With {@code reads}, reads are
     * checked against what was acknowledged (not after a crash: what survived is not known then).
     */
    private void workload(CacheEngine engine, SimulatedPmem pmem, Model model, Random r, int ops, long[] version,
            boolean reads, String where) throws IOException {
        try {
            for (int op = 0; op < ops && !pmem.crashed(); op++) {
                int kind = r.nextInt(reads ? 100 : 86);
                long off = offset(r);
                if (kind < 60) {
                    int len = length(r, off);
                    boolean fua = r.nextInt(4) == 0;
                    long v = version[0]++;
                    model.issued(off, len, v, false);
                    engine.write(off, SectorHistory.content(off, len, v), fua);
                    model.acked(off, len, v, false, fua);
                } else if (kind < 68) {
                    int len = length(r, off);
                    long v = version[0]++;
                    boolean fua = r.nextBoolean();
                    model.issued(off, len, v, true);
                    engine.writeZeroes(off, len, fua);
                    model.acked(off, len, v, true, fua);
                } else if (kind < 82) {
                    engine.flush();
                    model.flushed();
                } else if (kind < 86) {
                    // dm-pcache's one message: persisted in cache_info, and GC follows it
                    engine.setGcPercent(r.nextInt(60));
                } else {
                    int len = length(r, off);
                    ByteBuffer got = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN);
                    engine.read(off, got);
                    for (int i = 0; i < len; i += SECTOR) {
                        long s = (off + i) / SECTOR;
                        SectorState st = model.state(s);
                        long v = CrashTrials.decodeWritten(got, i, s, where + " live read");
                        long want = st.latestAckedZero ? ZERO : st.latestAcked;
                        if (v != want && !(want == 0 && v == ZERO)) {
                            fail(where + " live read: sector " + s + " holds " + v + ", expected " + want);
                        }
                    }
                }
            }
        } catch (IOException e) {
            if (!pmem.crashed()) {
                throw new AssertionError(where + ": failure without a crash", e);
            }
        }
    }

    /**
     * Formats with a crash armed during the format (segment chain, extension record, INIT_DONE or
     * the rest), then opens the crashed device as the trial's cache. A format cut short leaves
     * nothing anyone was promised: the device must open as an empty cache, or, after a cut inside
     * the superblock or the first cache_info, be refused naming that record (pcache does not
     * re-format a device whose cache_info holds bytes, see docs/RELIABILITY.md); the test then
     * does what the refusal says (zero the device's first 24 KiB) and opens it again.
     */
    private void formatWithCrash(EngineConfig cfg, Devices d, Random r, long seed, Run run, String where)
            throws IOException {
        run.formatArmed.incrementAndGet();
        int pick = r.nextInt(FORMAT_SITES.length + 1);
        CrashAim aim = new CrashAim(pick == FORMAT_SITES.length ? null : FORMAT_SITES[pick], d.pmem, SEGMENTS);
        int bound = aim.target == null ? 80 : aim.target == CrashSite.SEGMENT_INFO ? 50
                : aim.target == CrashSite.FORMAT ? 18 : 3;
        d.pmem.armCrash(1 + r.nextInt(bound), new Random(seed * 5 + 1), aim);
        CacheEngine e = null;
        try {
            e = CrashTrials.open(cfg, d.pmem, d.backing);
        } catch (IOException x) {
            if (!d.pmem.crashed()) {
                throw x;
            }
        }
        if (e != null) {
            if (d.pmem.disarm()) {
                d.engine = e;
                run.sites.crashAt(Phase.FORMAT, CrashSite.AT_REST);
                return;
            }
            e.abandon();
        }
        run.sites.crashAt(Phase.FORMAT, aim.struck);
        d.pmem = d.pmem.afterCrash(true);
        d.backing = d.backing.afterCrash(new Random(seed * 5 + 2));
        try {
            d.engine = CrashTrials.open(cfg, d.pmem, d.backing);
        } catch (CorruptMediaException x) {
            boolean known = (aim.struck == CrashSite.FORMAT && x.structure().equals("superblock"))
                    || (aim.struck == CrashSite.INIT_DONE && x.structure().equals("cache_info"));
            if (!known) {
                throw new AssertionError(where + ": refused to open after a crash during format at "
                        + aim.struck.label, x);
            }
            run.formatRefusals.incrementAndGet();
            d.pmem = d.pmem.reopen(); // the refused open closed it
            long first = PcacheFormat.CACHE_CTRL_OFF + PcacheFormat.CACHE_CTRL_SIZE;
            d.pmem.fill(0, first, (byte) 0);
            d.pmem.flush(0, first);
            d.pmem.fence();
            d.engine = CrashTrials.open(cfg, d.pmem, d.backing);
        }
    }

    /**
     * Stores key_tail and dirty_tail at {@code at} with the production records, as a cache whose
     * log was written back and reclaimed up to there records them (the device is closed).
     */
    private static void placeTails(SimulatedPmem region, CachePos at) throws IOException {
        CacheMetadata meta = CacheMetadata.forDevice(region, Harness.CRC);
        FifoSegmentAllocator segments = new FifoSegmentAllocator(new SegmentContext() {
            @Override
            public PmemRegion region() {
                return region;
            }

            @Override
            public CrcProvider crc() {
                return Harness.CRC;
            }

            @Override
            public int deviceSegments() {
                return meta.segNum();
            }

            @Override
            public SegmentListener listener() {
                return segment -> {
                };
            }
        });
        meta.attach(segments);
        CacheInfo info = meta.loadInfo();
        segments.load(info.firstSegment(), info.segmentCount());
        meta.loadTails(segments.segmentCount());
        meta.storeDirtyTail(at);
        meta.storeKeyTail(at);
    }

    /** Touched sectors as runs of at most 1 MiB: {first sector, count}. */
    private static List<long[]> runs(Model model) {
        return CrashTrials.runs(model.touched.stream().mapToLong(Integer::longValue).sorted().toArray());
    }

    private static void verify(CacheEngine e, Model model, String where) throws IOException {
        for (long[] run : runs(model)) {
            ByteBuffer got = CrashTrials.read(e, run);
            for (int k = 0; k < run[1]; k++) {
                verifySector(got, k, run[0] + k, model.states[(int) (run[0] + k)], where);
            }
        }
    }

    private static void verifySector(ByteBuffer got, int k, long s, SectorState st, String where) {
        long v = CrashTrials.decodeWritten(got, k * SECTOR, s, where + " after recovery");
        boolean ok;
        if (v == ZERO) {
            ok = st.floorZero || st.laterZero;
        } else {
            ok = (!st.floorZero && v == st.floor) || st.laterContains(v);
        }
        if (!ok) {
            fail(where + " after recovery: sector " + s + " holds version " + (v == ZERO ? "zero" : v)
                    + "; durable was " + (st.floorZero ? "zero/initial (" + st.floor + ")" : st.floor)
                    + ", later candidates " + st.laterText());
        }
    }

    private static long offset(Random r) {
        // a few hot 4 MiB slices (overwrites, overlaps, splits) and the rest of the device
        if (r.nextInt(3) > 0) {
            long slice = r.nextInt(3) * (4 * Harness.MIB) + 8 * Harness.MIB;
            return slice + (r.nextInt((int) (4 * Harness.MIB / SECTOR))) * (long) SECTOR - 2048;
        }
        return (r.nextLong(LOGICAL - 8 * Harness.MIB) / SECTOR) * SECTOR;
    }

    private static int length(Random r, long off) {
        int len;
        int k = r.nextInt(20);
        if (k == 0) {
            len = (int) (Harness.MIB + r.nextInt((int) (3 * Harness.MIB)));
        } else if (k < 4) {
            len = 16 * 1024 + r.nextInt(256 * 1024);
        } else {
            len = SECTOR * (1 + r.nextInt(16));
        }
        len = len / SECTOR * SECTOR;
        return (int) Math.min(len, LOGICAL - off);
    }
}
