package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import pcache.api.CacheImageTool.FsckReport;
import pcache.api.CorruptMediaException;
import pcache.api.DataIntegrityException;
import pcache.api.format.PcacheFormat;
import pcache.api.format.PcacheLayout;
import pcache.api.spi.WritebackPolicy;
import pcache.engine.internal.CacheImageMap.Extent;
import pcache.engine.internal.CacheImageMap.KsetInfo;
import pcache.engine.internal.CacheImageMap.SlotInfo;
import pcache.engine.internal.SectorHistory.Verdict;
import pcache.engine.internal.engine.CacheEngine;
import pcache.engine.internal.engine.EngineConfig;
import pcache.engine.internal.image.ImageFile;
import pcache.engine.internal.image.ImageInspector;
import pcache.engine.internal.image.ImageSlots;
import pcache.engine.internal.media.CachePosCodec;
import pcache.keyindex.internal.StripedKeyIndexProvider;
import pcache.segment.internal.FifoSegmentAllocatorProvider;
import pcache.writeback.internal.OrderedWritebackPolicy;

/**
 * Random bit flips in every metadata area of a cache image, and in cached data with data CRC on
 * (issue 6, "corrupted media"). Each trial builds an image with a known workload (version-stamped
 * sectors, so every sector read back is judged: its newest acknowledged version, an older one, or
 * wrong), closes it cleanly (every acknowledged write is durable), flips 1 to 8 distinct bits in
 * one area, runs the offline fsck on the damaged image and opens it. In no area may a read return
 * bytes that were never acknowledged for that sector.
 *
 * <p>The oracle is exact, and there is no lenient mode. {@link #usableCopyLeft} decides from the
 * undamaged image whether a usable copy of everything the cache needs is left: then opening must
 * succeed and every sector must read its newest version; otherwise opening must fail with a
 * {@link CorruptMediaException} that names the damaged structure and its offset (or a slot of
 * it), and fsck must report an error. Any other outcome fails the trial. The exceptions, where
 * less than that is accepted, each for a reason:
 * <ul>
 * <li>the older copy of a segment_info that is not the last of the chain is the one written at
 * format before the next segment was linked, so it does not hold the link: damage to the newest
 * copy leaves no usable copy (dm-pcache fails the same way);
 * <li>a segment generation whose older copy is valid but older than a key on the log: the log
 * proves that copy out of date, and opening with it would let those keys outlive the segment's
 * next reclaim (dm-pcache would open and, after that reclaim, serve another extent's bytes):
 * refused, naming the segment generation;
 * <li>damage in a dirty kset ends the log there, as a kset torn by a power cut does (ksets carry
 * no sequence number): the cache opens at that prefix of the log, so sectors may read older
 * acknowledged versions (rolled back), never bytes that were never written; damage in a
 * written-back kset (between key_tail and dirty_tail) leaves a log that cannot reach dirty_tail,
 * and must be refused;
 * <li>a sector whose read fails with {@link DataIntegrityException} is accepted only when a dirty
 * extent whose data CRC covers a damaged byte serves it ({@link #mayFailReads}), or when the
 * quarantine, full, merged the ranges on both sides of it ({@link #between});
 * <li>bits flipped in the never-written slot of pcache's extension record may go unreported by
 * fsck (nothing reads them; dm-pcache leaves anything there).
 * </ul>
 *
 * <p>CI runs {@value #CI_TRIALS} trials (each area in turn, fixed seeds);
 * {@code -Dpcache.test.long=true} runs {@value #LONG_TRIALS} with longer workloads. A summary per
 * area is printed (docs/RELIABILITY.md, "Corrupted media").
 */
class MediaCorruptionTest {

    private static final int SECTOR = SectorHistory.SECTOR;
    private static final long LOGICAL = 64 * Harness.MIB;
    private static final int SEGMENTS = 8;
    private static final int CI_TRIALS = 360;
    private static final int LONG_TRIALS = 6000;
    private static final boolean LONG = Boolean.getBoolean("pcache.test.long");
    private static final long DRAIN_AFTER_BYTES = 24 * Harness.MIB;
    /** {@code -Dpcache.media.seed=S}: every trial replays seed S (its workload's timing varies). */
    private static final int ONLY_SEED = Integer.getInteger("pcache.media.seed", -1);

    private static Level savedLevel;
    /** The engine's ERROR records of the current trial, per trial thread. */
    private static final ThreadLocal<List<String>> ENGINE_ERRORS = ThreadLocal.withInitial(ArrayList::new);
    private static final Logger ENGINE_LOG = Logger.getLogger(CacheEngine.class.getName());
    private static final Handler CAPTURE = new Handler() {
        @Override
        public void publish(LogRecord record) {
            ENGINE_ERRORS.get().add(record.getMessage());
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    @BeforeAll
    static void quiet() {
        // damaged images make the engine log errors on purpose: kept, not printed
        Logger root = Logger.getLogger("");
        savedLevel = root.getLevel();
        root.setLevel(Level.OFF);
        ENGINE_LOG.setLevel(Level.SEVERE);
        ENGINE_LOG.setUseParentHandlers(false);
        ENGINE_LOG.addHandler(CAPTURE);
    }

    @AfterAll
    static void loud() {
        ENGINE_LOG.removeHandler(CAPTURE);
        ENGINE_LOG.setUseParentHandlers(true);
        ENGINE_LOG.setLevel(null);
        Logger.getLogger("").setLevel(savedLevel);
    }

    /** Where the bits are flipped; {@code keyword} is what fsck's report must mention. */
    enum Area {
        SUPERBLOCK("superblock"),
        CACHE_INFO("cache_info"),
        KEY_TAIL("key_tail"),
        DIRTY_TAIL("dirty_tail"),
        EXTENSION("pcache extension"),
        SEGMENT_INFO("segment_info"),
        SEGMENT_GENERATION("segment generation"),
        KSET_HEADER("kset"),
        LAST_KSET("kset"),
        KEY_RECORD("kset"),
        DIRTY_DATA("data CRC"),
        CLEAN_DATA("data CRC");

        final String keyword;

        Area(String keyword) {
            this.keyword = keyword;
        }

        boolean log() {
            return this == KSET_HEADER || this == LAST_KSET || this == KEY_RECORD;
        }

        boolean data() {
            return this == DIRTY_DATA || this == CLEAN_DATA;
        }
    }

    /** The damaged area: bytes {@code [offset, +length)}, and what was there. */
    record Target(Area area, String label, long offset, int length, SlotInfo slot, KsetInfo kset, Extent extent) {
    }

    /** A cleanly closed image and what was acknowledged on it. */
    record Built(SimulatedPmem pmem, MemoryBacking backing, SectorHistory history, EngineConfig config) {
    }

    /** What happened in one trial. */
    enum Outcome {
        REFUSED, OPENED_INTACT, OPENED_ROLLED_BACK, OPENED_INTEGRITY_ERRORS
    }

    /** Per area and case: counts of outcomes and of fsck verdicts. */
    private static final class Tally {
        final Map<Outcome, Integer> outcomes = new java.util.EnumMap<>(Outcome.class);
        final Map<String, Integer> refusedAs = new TreeMap<>();
        int trials;
        int fsckErrors;
        int fsckWarningsOnly;
        int rolledBackSectors;
        int integritySectors;

        synchronized void add(Outcome o, String refusedStructure, FsckReport fsck, int rolledBack, int integrity) {
            trials++;
            outcomes.merge(o, 1, Integer::sum);
            if (refusedStructure != null) {
                refusedAs.merge(refusedStructure, 1, Integer::sum);
            }
            if (!fsck.errors().isEmpty()) {
                fsckErrors++;
            } else if (!fsck.warnings().isEmpty()) {
                fsckWarningsOnly++;
            }
            rolledBackSectors += rolledBack;
            integritySectors += integrity;
        }
    }

    private final Map<String, Tally> tallies = Collections.synchronizedMap(new TreeMap<>());
    private final List<String> failures = Collections.synchronizedList(new ArrayList<>());
    private final List<String> rollbacks = Collections.synchronizedList(new ArrayList<>());

    @Test
    void bitFlipsInEveryArea() throws Exception {
        int trials = Integer.getInteger("pcache.media.trials", LONG ? LONG_TRIALS : CI_TRIALS);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int lane = 0; lane < 2; lane++) {
                int first = lane;
                futures.add(pool.submit(() -> {
                    for (int seed = first; seed < trials; seed += 2) {
                        int s = ONLY_SEED >= 0 ? ONLY_SEED : seed;
                        try {
                            trial(s);
                        } catch (Exception | AssertionError e) {
                            throw new AssertionError("media corruption trial seed " + s + " failed; replay it with"
                                    + " -Dpcache.media.seed=" + s + " -Dpcache.media.trials=1", e);
                        }
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
        System.out.println(summary(trials));
        assertTrue(failures.isEmpty(), failures.size() + " trial(s) failed:\n" + String.join("\n", failures.subList(0,
                Math.min(20, failures.size()))));
    }

    // ---------------------------------------------------------------- one trial

    private void trial(int seed) throws Exception {
        Area area = Area.values()[seed % Area.values().length];
        Random r = random(seed, 1);
        Built built = null;
        CacheImageMap map = null;
        Target target = null;
        for (int attempt = 0; attempt < 4 && target == null; attempt++) {
            long workloadSeed = seed + 1_000_003L * attempt;
            built = build(workloadSeed, area.data() || random(workloadSeed, 2).nextBoolean());
            map = CacheImageMap.of(built.pmem(), LOGICAL);
            target = pick(area, map, r);
        }
        if (target == null) {
            tally(area, "not present in 4 workloads").trials++;
            return;
        }
        String where = "seed " + seed + ", " + area + " (" + target.label() + ") at " + target.offset();
        Copies copies = target.slot() == null ? null : Copies.read(built.pmem(), target);
        boolean usable = usableCopyLeft(target, map, copies);
        BitSet flipped = flip(built.pmem(), target, r);
        BitSet mayFail = mayFailReads(target, map, flipped);
        where += ", bits " + flipped;
        FsckReport fsck = new ImageInspector(Harness.CRC).fsck(ImageFile.of(built.pmem()));
        List<String> problems = new ArrayList<>();
        boolean harmless = area == Area.EXTENSION && target.slot().state() == ImageSlots.State.EMPTY;
        if (fsck.errors().isEmpty() && fsck.warnings().isEmpty()) {
            // bits flipped in the never-written half of pcache's own area look like what
            // dm-pcache leaves there (anything), and nothing reads them
            if (!harmless) {
                problems.add("fsck reported nothing");
            }
        } else if (!mentions(fsck, area.keyword)) {
            problems.add("fsck does not name the " + area.keyword + ": " + fsck.errors() + " " + fsck.warnings());
        }
        CacheEngine engine = null;
        CorruptMediaException refusal = null;
        ENGINE_ERRORS.get().clear();
        try {
            engine = open(built);
        } catch (CorruptMediaException e) {
            refusal = e;
        } catch (Exception | AssertionError e) {
            failures.add(where + ": open failed with " + e);
            return;
        }
        Outcome outcome;
        int rolledBack = 0;
        int integrity = 0;
        if (refusal != null) {
            outcome = Outcome.REFUSED;
            judgeRefusal(target, usable, refusal, fsck, problems);
        } else {
            try {
                Readback rb = readBack(engine, built.history(), target, problems);
                rolledBack = rb.rolledBack;
                integrity = rb.integrity;
                outcome = rb.integrity > 0 ? Outcome.OPENED_INTEGRITY_ERRORS
                        : rb.rolledBack > 0 ? Outcome.OPENED_ROLLED_BACK : Outcome.OPENED_INTACT;
                judgeOpened(target, usable, mayFail, rb, engine, fsck, built.history(), problems);
                if (rb.rolledBack > 0) {
                    rollbacks.add(where + ": " + rb.rolledBack + " sector(s) rolled back, e.g. " + rb.example
                            + "; fsck: " + (fsck.errors().isEmpty() ? "warnings " + fsck.warnings()
                                    : "errors " + fsck.errors()));
                }
                if (r.nextInt(3) == 0 && problems.isEmpty()) {
                    writeBackAndCompare(engine, built, rb, problems);
                }
            } finally {
                engine.close();
            }
        }
        tally(area, target.label()).add(outcome, refusal == null ? null : refusal.structure(), fsck, rolledBack,
                integrity);
        if (!problems.isEmpty()) {
            failures.add(where + ": " + outcome + (refusal == null ? "" : " (" + refusal.getMessage() + ")") + ": "
                    + String.join("; ", problems));
        }
    }

    /** A generator for one purpose of one seed (java.util.Random's first outputs for nearby seeds are alike). */
    private static Random random(long seed, int purpose) {
        return new Random(new java.util.SplittableRandom(seed * 31 + purpose).nextLong());
    }

    private Tally tally(Area area, String label) {
        return tallies.computeIfAbsent(area + (label.isEmpty() ? "" : " / " + label), k -> new Tally());
    }

    private static boolean mentions(FsckReport fsck, String keyword) {
        return fsck.errors().stream().anyMatch(s -> s.contains(keyword))
                || fsck.warnings().stream().anyMatch(s -> s.contains(keyword));
    }

    // ---------------------------------------------------------------- the image

    private static EngineConfig config(long seed, boolean dataCrc) {
        Random r = random(seed, 3);
        return Harness.config("media").withDataCrc(dataCrc).withGcPercent(r.nextInt(50))
                .withKsetFlushDelayMillis(5 + r.nextInt(20)).withGcIntervalMillis(5).withStreams(1 + r.nextInt(2))
                .withBackingTimeoutMillis(1000);
    }

    private static CacheEngine open(EngineConfig cfg, SimulatedPmem pmem, MemoryBacking backing,
            Supplier<WritebackPolicy> policy) throws IOException {
        return CacheEngine.open(cfg, pmem, Harness.CRC, new FifoSegmentAllocatorProvider(),
                new StripedKeyIndexProvider(), Harness.holder(backing), policy);
    }

    private static CacheEngine open(Built b) throws IOException {
        WritebackPolicy ordered = new OrderedWritebackPolicy();
        return open(b.config(), b.pmem(), b.backing(), () -> ordered);
    }

    /**
     * Builds an image: writes (small and large, FUA or not), writes of zeroes, reads (which cache
     * clean extents), flushes, write-back switched on and off (so some ksets are written back and
     * some dirty), GC, clean re-opens (so slots have a history); then a clean close.
     */
    private static Built build(long seed, boolean dataCrc) throws IOException {
        Random r = random(seed, 4);
        EngineConfig cfg = config(seed, dataCrc);
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(SEGMENTS), false);
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        SectorHistory history = new SectorHistory(LOGICAL);
        WritebackPolicy ordered = new OrderedWritebackPolicy();
        AtomicBoolean writeback = new AtomicBoolean(r.nextBoolean());
        Supplier<WritebackPolicy> policy = () -> writeback.get() ? ordered : null;
        CacheEngine e = open(cfg, pmem, backing, policy);
        if (r.nextBoolean()) {
            // start the log near the end of its first segment, as if GC had run through most of
            // it: the log then crosses segments (LAST ksets) within a short workload
            e.close();
            pmem = pmem.reopen();
            moveLogStart(pmem, PcacheFormat.SEG_DATA_SIZE - 8 * (16 + r.nextInt(600)));
            e = open(cfg, pmem, backing, policy);
        }
        int ops = LONG ? 60 + r.nextInt(240) : 20 + r.nextInt(60);
        long version = 1;
        long sinceDrain = 0;
        try {
            for (int op = 0; op < ops; op++) {
                // never fill the cache while write-back is off: writers would wait for space forever
                // (each re-open starts the data heads on fresh segments, so count segments too)
                boolean nearlyFull = !writeback.get() && e.statistics().segmentsUsed() >= SEGMENTS - 3;
                int kind = sinceDrain > DRAIN_AFTER_BYTES || nearlyFull ? 85 : r.nextInt(100);
                long off = offset(r);
                int len = length(r, off);
                if (kind < 50) {
                    long v = version++;
                    e.write(off, SectorHistory.content(off, len, v), r.nextInt(4) == 0);
                    history.acknowledged(off, len, v, false);
                    sinceDrain += len;
                } else if (kind < 55) {
                    e.writeZeroes(off, len, r.nextBoolean());
                    history.acknowledged(off, len, version++, true);
                    sinceDrain += len;
                } else if (kind < 70) {
                    ByteBuffer got = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN);
                    e.read(off, got);
                    history.read(off, len);
                    for (int i = 0; i < len; i += SECTOR) {
                        long s = (off + i) / SECTOR;
                        long v = SectorHistory.decode(got, i, s);
                        if (v != history.latest(s)) {
                            throw new AssertionError("seed " + seed + ": live read of sector " + s + " gave " + v
                                    + ", history " + history.describe(s));
                        }
                    }
                } else if (kind < 80) {
                    e.flush();
                } else if (kind < 87) {
                    writeback.set(true);
                    e.drain(null);
                    writeback.set(r.nextBoolean());
                    sinceDrain = 0;
                } else if (kind < 93) {
                    writeback.set(!writeback.get());
                } else {
                    e.close();
                    pmem = pmem.reopen();
                    e = open(cfg, pmem, backing, policy);
                }
            }
        } finally {
            e.close();
        }
        return new Built(pmem.reopen(), backing, history, cfg);
    }

    /**
     * Points key_tail and dirty_tail of a freshly formatted cache (both at 0:0 in slot 0, seq 1,
     * an empty log) to {@code 0:offset}, in both slots (seq 1 and 2), as if the log had been
     * written and reclaimed up to there. The rest of the segment is zero: the log is empty there.
     */
    private static void moveLogStart(SimulatedPmem pmem, int offset) throws IOException {
        for (int slot = 0; slot < PcacheFormat.META_SLOTS; slot++) {
            byte[] pos = CachePosCodec.encode(new pcache.api.CachePos(0, offset));
            pos[4] = (byte) (slot + 1);
            ByteBuffer.wrap(pos).order(ByteOrder.LITTLE_ENDIAN).putInt(0, Harness.CRC.checksum(pos, 4, pos.length - 4));
            for (long record : new long[] {PcacheFormat.KEY_TAIL_OFF, PcacheFormat.DIRTY_TAIL_OFF}) {
                pmem.write(record + (long) slot * PcacheFormat.POS_STRUCT_SIZE, pos, 0, pos.length);
            }
        }
    }

    private static long offset(Random r) {
        // a few hot 4 MiB slices (overwrites, splits) and the rest of the device
        if (r.nextInt(3) > 0) {
            long slice = r.nextInt(3) * (4 * Harness.MIB) + 8 * Harness.MIB;
            return slice + r.nextInt((int) (4 * Harness.MIB / SECTOR)) * (long) SECTOR - 2048;
        }
        return r.nextLong(LOGICAL - 8 * Harness.MIB) / SECTOR * SECTOR;
    }

    private static int length(Random r, long off) {
        int k = r.nextInt(40);
        int len;
        if (k == 0) {
            len = (int) (Harness.MIB + r.nextInt((int) (2 * Harness.MIB)));
        } else if (k < 6) {
            len = 16 * 1024 + r.nextInt(256 * 1024);
        } else {
            len = SECTOR * (1 + r.nextInt(16));
        }
        return (int) Math.min(len / SECTOR * SECTOR, LOGICAL - off);
    }

    // ---------------------------------------------------------------- damage

    /** Picks the bytes to damage in {@code area}; null when this image has no such area. */
    private static Target pick(Area area, CacheImageMap m, Random r) {
        switch (area) {
            case SUPERBLOCK:
                return new Target(area, "", PcacheFormat.SB_OFF, PcacheFormat.SB_STRUCT_SIZE, null, null, null);
            case CACHE_INFO:
            case KEY_TAIL:
            case DIRTY_TAIL:
            case EXTENSION:
            case SEGMENT_INFO:
            case SEGMENT_GENERATION: {
                List<SlotInfo> slots = m.slots(area.keyword.equals("pcache extension") ? "pcache extension"
                        : area.keyword);
                SlotInfo s = slots.get(r.nextInt(slots.size()));
                return new Target(area, slotLabel(s), s.offset(), s.size(), s, null, null);
            }
            case KSET_HEADER:
            case LAST_KSET:
            case KEY_RECORD: {
                List<KsetInfo> ksets = m.ksets.stream().filter(k -> k.last() == (area == Area.LAST_KSET)).toList();
                if (ksets.isEmpty()) {
                    return null;
                }
                KsetInfo k = ksets.get(r.nextInt(ksets.size()));
                String label = (k.dirty() ? "dirty" : "written back")
                        + (k == m.ksets.get(m.ksets.size() - 1) ? ", end of the log" : "");
                if (area == Area.KEY_RECORD) {
                    int key = r.nextInt(k.keys());
                    return new Target(area, label, k.deviceOffset() + PcacheFormat.KSET_HEADER_SIZE
                            + (long) key * PcacheFormat.KEY_SIZE, PcacheFormat.KEY_SIZE, null, k, null);
                }
                return new Target(area, label, k.deviceOffset(), PcacheFormat.KSET_HEADER_SIZE, null, k, null);
            }
            case DIRTY_DATA:
            case CLEAN_DATA: {
                List<Extent> extents = m.extents.stream().filter(x -> x.clean() == (area == Area.CLEAN_DATA)).toList();
                if (extents.isEmpty() || !m.dataCrc) {
                    return null;
                }
                Extent x = extents.get(r.nextInt(extents.size()));
                int sector = r.nextInt(x.length() / SECTOR);
                return new Target(area, "", x.deviceOffset() + (long) sector * SECTOR, SECTOR, null, null, x);
            }
            default:
                throw new IllegalArgumentException(area.toString());
        }
    }

    private static String slotLabel(SlotInfo s) {
        if (s.state() == ImageSlots.State.EMPTY) {
            return "never-written slot";
        }
        if (s.state() == ImageSlots.State.DAMAGED) {
            return "already damaged slot";
        }
        if (!s.current()) {
            return "older copy";
        }
        return s.otherValid() ? "newest copy, older copy valid" : "only copy";
    }

    /** Flips 1 to 8 distinct bits in the target's bytes; returns their bit positions. */
    private static BitSet flip(SimulatedPmem pmem, Target t, Random r) {
        int n = r.nextInt(4) == 0 ? 1 + r.nextInt(8) : 1 + r.nextInt(3);
        BitSet bits = new BitSet(t.length() * 8);
        while (bits.cardinality() < n) {
            bits.set(r.nextInt(t.length() * 8));
        }
        for (int b = bits.nextSetBit(0); b >= 0; b = bits.nextSetBit(b + 1)) {
            pmem.corrupt(t.offset() + b / 8, 1 << (b % 8));
        }
        return bits;
    }

    // ---------------------------------------------------------------- verdicts

    /** What reading every touched sector gave. */
    private static final class Readback {
        int latest;
        int rolledBack;
        int integrity;
        String example;
        final BitSet integritySectors = new BitSet();
        /** Sectors refused because they lie in a quarantined range (merged ranges may cover good sectors). */
        final BitSet quarantinedSectors = new BitSet();
        final Map<Long, Long> versions = new java.util.HashMap<>();
        long crcErrors;
        long crcRecovered;
    }

    private static Readback readBack(CacheEngine e, SectorHistory history, Target t, List<String> problems)
            throws IOException {
        Readback rb = new Readback();
        for (long[] run : history.runs(2048)) {
            ByteBuffer got = ByteBuffer.allocate((int) run[1] * SECTOR).order(ByteOrder.LITTLE_ENDIAN);
            try {
                e.read(run[0] * SECTOR, got);
            } catch (DataIntegrityException ex) {
                // judge sector by sector
                for (long s = run[0]; s < run[0] + run[1]; s++) {
                    ByteBuffer one = ByteBuffer.allocate(SECTOR).order(ByteOrder.LITTLE_ENDIAN);
                    try {
                        e.read(s * SECTOR, one);
                        judgeSector(rb, history, s, SectorHistory.decode(one, 0, s), problems);
                    } catch (DataIntegrityException bad) {
                        rb.integrity++;
                        rb.integritySectors.set((int) s);
                        if (bad.getMessage().contains("is quarantined")) {
                            rb.quarantinedSectors.set((int) s);
                        }
                    }
                }
                continue;
            }
            for (int k = 0; k < run[1]; k++) {
                long s = run[0] + k;
                judgeSector(rb, history, s, SectorHistory.decode(got, k * SECTOR, s), problems);
            }
        }
        rb.crcErrors = e.statistics().crcErrors();
        rb.crcRecovered = e.statistics().crcRecovered();
        return rb;
    }

    private static void judgeSector(Readback rb, SectorHistory history, long s, long v, List<String> problems) {
        Verdict verdict = history.judge(s, v);
        rb.versions.put(s, v);
        switch (verdict) {
            case LATEST -> rb.latest++;
            case OLDER -> {
                rb.rolledBack++;
                if (rb.example == null) {
                    rb.example = "sector " + s + " reads " + (v == SectorHistory.ZERO ? "zeroes" : "version " + v)
                            + ", history " + history.describe(s);
                }
            }
            case WRONG -> problems.add("WRONG DATA: sector " + s + " reads "
                    + (v == SectorHistory.FOREIGN ? "bytes never written to it" : "version " + v)
                    + ", history " + history.describe(s));
        }
    }

    /** Both slots of the damaged record as they were before the damage. */
    record Copies(byte[] damaged, byte[] other) {

        static Copies read(SimulatedPmem pmem, Target t) throws IOException {
            long stride = stride(t.area());
            long base = t.slot().recordOffset();
            long other = t.slot().offset() == base ? base + stride : base;
            return new Copies(bytes(pmem, t.slot().offset(), t.length()), bytes(pmem, other, t.length()));
        }

        private static byte[] bytes(SimulatedPmem pmem, long at, int length) throws IOException {
            byte[] b = new byte[length];
            pmem.read(at, b, 0, length);
            return b;
        }
    }

    /**
     * Whether the damage leaves the cache a usable copy of everything it needs to open (the
     * oracle; the class Javadoc says why for each area). Damage to the older or a never-written
     * slot always leaves the newest copy. Damage to the newest copy leaves the older copy usable
     * when it is valid and still describes the cache: always for cache_info (only gc_percent and
     * INIT_DONE change after format), key_tail (the older copy is at most one kset behind, in a
     * key segment that is still held: GC stores key_tail in both slots before it releases one) and
     * dirty_tail (the older copy is one write-back batch behind; if key_tail has passed it, the
     * newest copy was at or after key_tail, where write-back then restarts); for segment_info only when the older copy holds the
     * same link; for a segment generation only when no key on the log carries a newer
     * generation for the segment. Damage in the key log leaves a usable log when the damaged kset
     * is dirty (the log ends there, as after a power cut); a written-back kset lies between
     * key_tail and dirty_tail, so the log cannot reach dirty_tail.
     */
    static boolean usableCopyLeft(Target t, CacheImageMap m, Copies copies) {
        return switch (t.area()) {
            case SUPERBLOCK -> false;
            case EXTENSION, DIRTY_DATA, CLEAN_DATA -> true;
            case KSET_HEADER, LAST_KSET, KEY_RECORD -> t.kset().dirty();
            case CACHE_INFO, KEY_TAIL, DIRTY_TAIL, SEGMENT_INFO, SEGMENT_GENERATION -> {
                if (!t.slot().current()) {
                    yield true;
                }
                if (!t.slot().otherValid()) {
                    yield false;
                }
                yield switch (t.area()) {
                    case SEGMENT_INFO -> Arrays.equals(copies.damaged(), PcacheLayout.SegmentInfo.FLAGS,
                            PcacheLayout.SegmentInfo.SIZE, copies.other(), PcacheLayout.SegmentInfo.FLAGS,
                            PcacheLayout.SegmentInfo.SIZE);
                    case SEGMENT_GENERATION -> m.newestKeyGeneration[segmentOf(t.slot().recordOffset())]
                            <= ByteBuffer.wrap(copies.other()).order(ByteOrder.LITTLE_ENDIAN)
                                    .getLong(PcacheLayout.SegmentGen.GEN);
                    default -> true;
                };
            }
        };
    }

    /** The cache segment whose area holds {@code deviceOffset} (pcache formats segment i at physical i). */
    private static int segmentOf(long deviceOffset) {
        return (int) ((deviceOffset - PcacheFormat.SEGMENTS_OFF) / PcacheFormat.SEG_SIZE);
    }

    /**
     * The sectors whose reads may fail: those served by a dirty extent whose data CRC covers a
     * damaged byte (a key cut by later writes keeps the CRC of the extent as written, and
     * write-zeroes points the keys of a whole range at one zeroed region, so several extents may
     * cover one damaged byte). Clean extents are re-read from the backing device instead.
     */
    private static BitSet mayFailReads(Target t, CacheImageMap m, BitSet flipped) {
        BitSet sectors = new BitSet();
        if (!t.area().data()) {
            return sectors;
        }
        for (Extent x : m.extents) {
            if (x.clean()) {
                continue;
            }
            for (int b = flipped.nextSetBit(0); b >= 0; b = flipped.nextSetBit(b + 1)) {
                if (x.crcCovers(t.offset() + b / 8)) {
                    sectors.set((int) (x.logical() / SECTOR), (int) ((x.logical() + x.length()) / SECTOR));
                    break;
                }
            }
        }
        return sectors;
    }

    /** Offsets an error may name for the target: its record or one of its slots, or its kset. */
    private static boolean offsetNamesTarget(Target t, long offset) {
        if (t.slot() != null) {
            long base = t.slot().recordOffset();
            return offset == base || offset == t.slot().offset() || offset == base + stride(t.area());
        }
        if (t.kset() != null) {
            return offset >= t.kset().deviceOffset() && offset < t.kset().deviceOffset() + t.kset().size();
        }
        return offset == t.offset();
    }

    private static long stride(Area a) {
        return switch (a) {
            case CACHE_INFO -> PcacheFormat.CACHE_INFO_SLOT_STRIDE;
            case KEY_TAIL, DIRTY_TAIL -> PcacheFormat.POS_STRUCT_SIZE;
            case EXTENSION -> PcacheLayout.Extension.SLOT_STRIDE;
            case SEGMENT_INFO -> PcacheFormat.SEG_INFO_SLOT_STRIDE;
            case SEGMENT_GENERATION -> PcacheFormat.SEG_GEN_STRUCT_SIZE;
            default -> 0;
        };
    }

    private static Set<String> structuresFor(Area a) {
        return switch (a) {
            case SUPERBLOCK -> Set.of("superblock");
            case CACHE_INFO -> Set.of("cache_info");
            case KEY_TAIL -> Set.of("key_tail");
            case DIRTY_TAIL -> Set.of("dirty_tail");
            case SEGMENT_INFO -> Set.of("segment_info");
            case SEGMENT_GENERATION -> Set.of("segment generation");
            case KSET_HEADER, LAST_KSET -> Set.of("kset");
            case KEY_RECORD -> Set.of("kset", "key");
            case EXTENSION, DIRTY_DATA, CLEAN_DATA -> Set.of();
        };
    }

    /**
     * A refusal is acceptable only where the damage leaves no usable copy ({@link #usableCopyLeft});
     * it must name the damaged structure and its offset, and fsck must report an error.
     */
    private static void judgeRefusal(Target t, boolean usable, CorruptMediaException e, FsckReport fsck,
            List<String> problems) {
        if (usable) {
            problems.add("refused although the damage leaves a usable copy");
        }
        if (!structuresFor(t.area()).contains(e.structure()) || !offsetNamesTarget(t, e.deviceOffset())) {
            problems.add("the refusal names " + e.structure() + " at " + e.deviceOffset() + ", not the damaged "
                    + t.area().keyword + " at " + t.offset());
        }
        if (fsck.errors().isEmpty()) {
            problems.add("refused, but fsck reports no error (warnings " + fsck.warnings() + ")");
        }
    }

    /**
     * An opened cache must have had a usable copy of everything, and serves every sector's newest
     * version, except where the area allows less.
     */
    private static void judgeOpened(Target t, boolean usable, BitSet mayFail, Readback rb, CacheEngine engine,
            FsckReport fsck, SectorHistory history, List<String> problems) {
        if (!usable) {
            problems.add("opened although the damage leaves no usable copy of the " + t.area().keyword);
        }
        if (rb.rolledBack > 0 && !t.area().log()) {
            problems.add(rb.rolledBack + " sector(s) rolled back to older versions, e.g. " + rb.example);
        }
        // damage in the middle of the log (valid ksets after it) is never silent: the engine says so
        boolean midLog = fsck.errors().stream().anyMatch(e -> e.contains("a valid kset follows"));
        if (rb.rolledBack > 0 && midLog
                && ENGINE_ERRORS.get().stream().noneMatch(m -> m != null && m.contains("valid kset(s) follow"))) {
            problems.add("the engine opened a log damaged in the middle without an ERROR naming the kset");
        }
        if (t.area() == Area.DIRTY_DATA) {
            Extent x = t.extent();
            long sector = (x.logical() + (t.offset() - x.deviceOffset())) / SECTOR;
            if (!rb.integritySectors.get((int) sector)) {
                problems.add("the damaged dirty sector " + sector + " did not fail its read");
            }
        }
        for (int s = rb.integritySectors.nextSetBit(0); s >= 0; s = rb.integritySectors.nextSetBit(s + 1)) {
            if (!mayFail.get(s) && !(rb.quarantinedSectors.get(s) && between(mayFail, s))) {
                problems.add(rb.integrity + " sector(s) failed with DataIntegrityException, e.g. sector " + s
                        + ", which no extent covering a damaged byte serves (history " + history.describe(s) + ")");
                break;
            }
        }
        // (unless GC reclaimed the extent's segment before it was read: then it is a plain miss)
        if (t.area() == Area.CLEAN_DATA && (rb.crcErrors == 0 || rb.crcRecovered == 0)
                && engine.segments().generation(t.extent().segment()) == t.extent().generation()) {
            problems.add("the damaged clean extent was not detected (crc errors " + rb.crcErrors + ", recovered "
                    + rb.crcRecovered + ")");
        }
        // a key newer than its segment's generation: the generation record went back, and after
        // the next reclaim of that segment the key would read the segment's next occupant
        engine.index().forEach(k -> {
            if (!k.isEmpty() && k.generation() > engine.segments().generation(k.segment())) {
                problems.add("LATENT WRONG DATA: indexed key " + k + " carries generation " + k.generation()
                        + ", newer than its segment's " + engine.segments().generation(k.segment()));
            }
        });
    }

    /**
     * Whether sector {@code s} lies between two sectors whose reads may fail: the quarantine, a
     * bounded record, merges its two closest ranges when full, so it may refuse the good sectors
     * between two damaged ranges (refusing, never serving wrong bytes).
     */
    private static boolean between(BitSet mayFail, int s) {
        return mayFail.previousSetBit(s) >= 0 && mayFail.nextSetBit(s) >= 0;
    }

    /** After write-back, the backing device holds what the cache served. */
    private static void writeBackAndCompare(CacheEngine e, Built b, Readback rb, List<String> problems)
            throws IOException {
        e.drain(null);
        for (Map.Entry<Long, Long> entry : rb.versions.entrySet()) {
            long s = entry.getKey();
            ByteBuffer onDisk = ByteBuffer.wrap(b.backing().content(s * SECTOR, SECTOR)).order(ByteOrder.LITTLE_ENDIAN);
            long v = SectorHistory.decode(onDisk, 0, s);
            if (v != entry.getValue()) {
                problems.add("after write-back, sector " + s + " holds " + v + " on the backing device but the cache"
                        + " served " + entry.getValue());
                return;
            }
        }
    }

    // ---------------------------------------------------------------- report

    private String summary(int trials) {
        StringBuilder out = new StringBuilder(String.format(Locale.ROOT,
                "media corruption: %d trials%n%-58s %6s %7s %7s %9s %9s %6s %6s%n", trials, "area / case", "trials",
                "refused", "intact", "rolledbk", "integrity", "fsckE", "fsckW"));
        synchronized (tallies) {
            for (Map.Entry<String, Tally> e : tallies.entrySet()) {
                Tally t = e.getValue();
                out.append(String.format(Locale.ROOT, "%-58s %6d %7d %7d %9s %9s %6d %6d%s%n", e.getKey(), t.trials,
                        t.outcomes.getOrDefault(Outcome.REFUSED, 0), t.outcomes.getOrDefault(Outcome.OPENED_INTACT, 0),
                        t.outcomes.getOrDefault(Outcome.OPENED_ROLLED_BACK, 0) + "/" + t.rolledBackSectors,
                        t.outcomes.getOrDefault(Outcome.OPENED_INTEGRITY_ERRORS, 0) + "/" + t.integritySectors,
                        t.fsckErrors, t.fsckWarningsOnly, t.refusedAs.isEmpty() ? "" : "  refused as " + t.refusedAs));
            }
        }
        out.append(rollbacks.size()).append(" trial(s) lost acknowledged data to key log damage (fsck reports each;"
                + " the engine logs an ERROR where valid ksets follow the damage):\n");
        synchronized (rollbacks) {
            rollbacks.stream().limit(10).forEach(s -> out.append("  ").append(s).append('\n'));
        }
        return out.toString();
    }
}
