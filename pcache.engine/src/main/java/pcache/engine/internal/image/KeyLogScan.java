package pcache.engine.internal.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;

import pcache.api.CachePos;
import pcache.api.format.PcacheFormat;
import pcache.api.format.PcacheLayout;
import pcache.api.spi.CrcProvider;
import pcache.engine.internal.image.ImageScan.Options;
import pcache.engine.internal.media.ExtensionCodec.Extension;
import pcache.engine.internal.media.KsetContinuation;

/**
 * The key log of an image, replayed the way a cache replays it at start-up (reference §3.4-§3.6):
 * kset after kset from key_tail, across the LAST ksets that link its segments, to the first kset
 * that does not check out. Every key is checked (range, segment, generation; with data CRC and
 * {@link Options#verifyData()}, its data too), dirty data is counted from dirty_tail on, and the
 * end of the log is told apart from damage in its middle.
 *
 * <p>The kset and key records are decoded here rather than through the key index bundle, whose
 * codecs are private to it: they are small fixed structures (their fields are in
 * {@link PcacheLayout}), and an independent reader also cross-checks those codecs.
 */
final class KeyLogScan {

    /** A decoded 40-byte key record. */
    private record KeyRecord(long offset, int length, int flags, int segment, int segmentOffset, long generation,
            int dataCrc) {

        long end() {
            return offset + Integer.toUnsignedLong(length);
        }

        boolean clean() {
            return (flags & PcacheLayout.Key.FLAG_CLEAN) != 0;
        }

        static KeyRecord decode(ByteBuffer b, int at) {
            return new KeyRecord(b.getLong(at + PcacheLayout.Key.OFF), b.getInt(at + PcacheLayout.Key.LEN),
                    b.getInt(at + PcacheLayout.Key.FLAGS), b.getInt(at + PcacheLayout.Key.SEG),
                    b.getInt(at + PcacheLayout.Key.SEG_OFF), b.getLong(at + PcacheLayout.Key.GEN),
                    b.getInt(at + PcacheLayout.Key.DATA_CRC));
        }
    }

    private final ImageFile image;
    private final CrcProvider crc;
    private final Options options;
    private final ScanReport report;
    private final SegmentMap map;
    private final boolean dataCrc;
    private final CachePos keyTail;
    private final CachePos dirtyTail;
    private final boolean dirtyTailSpareDamaged;
    /** The backing device's size as the extension records it, or -1. */
    private final long logicalSize;

    private final BitSet keySegments;
    /** Per segment, the device offset of the first key into it that is not stale, or -1. */
    private final long[] firstLiveKeyAt;
    /** Where the next kset should be. */
    private CachePos pos;
    /** Whether {@link #pos} is at or after dirty_tail. */
    private boolean dirty;
    private long ksets;
    private long lastKsets;
    private long keys;
    private long stale;
    private long future;
    private String futureExample;
    private long writtenBackKsets;
    private long dirtyKsets;
    private long crcChecked;
    private long crcCheckedBytes;
    private long crcFailures;
    /** Buffer for the data of one extent (data CRC checks), allocated on first use. */
    private ByteBuffer extent;
    private final List<long[]> dirtyExtents = new ArrayList<>();
    private long dirtyBytes;
    private long dirtyKeys;
    private List<long[]> dirtyRanges = List.of();
    /**
     * Dirty extents that failed their data CRC, not yet found lost: a later key in the log may
     * replace all of one (replay then never reads it, and the cache quarantines nothing). Decided
     * at the end of the log.
     */
    private final List<PendingLoss> pendingLosses = new ArrayList<>();
    /** The quarantined ranges the extension records (newest data lost earlier). */
    private final List<pcache.engine.internal.media.ExtensionCodec.Range> quarantined;

    /** A damaged dirty extent and the parts of it no later key has replaced so far, {@code [start, end)}. */
    private record PendingLoss(String what, List<long[]> uncovered) {
    }

    KeyLogScan(ImageFile image, CrcProvider crc, Options options, ScanReport report, SegmentMap map,
            MetadataScan metadata) {
        this.image = image;
        this.crc = crc;
        this.options = options;
        this.report = report;
        this.map = map;
        this.dataCrc = metadata.info().dataCrc();
        this.keyTail = metadata.keyTail();
        this.dirtyTail = metadata.dirtyTail();
        this.dirtyTailSpareDamaged = metadata.dirtyTailSpareDamaged();
        Extension extension = metadata.extension();
        this.logicalSize = extension != null && extension.backing() != null ? extension.backing().sizeBytes() : -1;
        this.quarantined = extension == null ? List.of() : extension.quarantine();
        this.keySegments = new BitSet(map.cacheSegments());
        this.firstLiveKeyAt = new long[map.cacheSegments()];
        java.util.Arrays.fill(firstLiveKeyAt, -1);
    }

    /** Reads the log, dumping it, and adds the summary lines; the dirty data is in the accessors. */
    KeyLogScan run() throws IOException {
        if (keyTail == null) {
            report.line("key log: not read (no usable key_tail)");
            return this;
        }
        report.line("key log from key_tail %s%s:", keyTail, dirtyTail == null ? " (dirty_tail unknown)"
                : ", dirty from dirty_tail " + dirtyTail);
        keySegments.set(keyTail.segment());
        pos = keyTail;
        dirty = dirtyTail == null; // unknown: count everything as dirty, the safe side
        String end = null;
        while (end == null) {
            end = nextKset();
        }
        endOfLog(end);
        decideLosses();
        summarize();
        return this;
    }

    long dirtyBytes() {
        return dirtyBytes;
    }

    /** Merged logical ranges of dirty data, {@code [offset, length]}. */
    List<long[]> dirtyRanges() {
        return dirtyRanges;
    }

    // ---------------------------------------------------------------- ksets

    /** Reads the kset at {@link #pos}: null when the log goes on (pos moved past it), else why it ends. */
    private String nextKset() throws IOException {
        if (!dirty && pos.equals(dirtyTail)) {
            dirty = true;
            if (ksets > 0) {
                report.line("  -- dirty_tail %s: ksets from here are not written back yet --", pos);
            }
        }
        if (!map.mapped(pos.segment())) {
            String end = "the position is in a segment whose place on the device is unknown";
            report.error("key log at %s: %s; the rest of the log cannot be read", pos, end);
            return end;
        }
        if ((long) pos.offset() + PcacheLayout.KsetHeader.SIZE > PcacheFormat.SEG_DATA_SIZE) {
            return "no room for a kset header before the end of the data area";
        }
        long base = map.dataOffset(pos);
        ByteBuffer header = image.readLittleEndian(base, PcacheLayout.KsetHeader.SIZE);
        if (ImageSlots.allZero(header.array())) {
            return "zero header";
        }
        long magic = header.getLong(PcacheLayout.KsetHeader.MAGIC);
        if (magic != PcacheLayout.KsetHeader.MAGIC_VALUE) {
            // past the end of the log there are zeroes (pcache zeroes key segments, the kernel
            // writes a zero header after each kset): anything else is torn or damaged
            String end = String.format(Locale.ROOT, "no kset magic (0x%x)", magic);
            tornKset(base, header, end);
            return end;
        }
        String state = dirty ? "dirty" : "written back";
        if ((header.getLong(PcacheLayout.KsetHeader.FLAGS) & PcacheLayout.KsetHeader.FLAG_LAST) != 0) {
            return lastKset(base, header, state);
        }
        return ksetOfKeys(base, header, state);
    }

    private void countKset() {
        ksets++;
        if (dirty) {
            dirtyKsets++;
        } else {
            writtenBackKsets++;
        }
    }

    /** A LAST kset: follows its link to the next key segment unless it is damaged or leads nowhere. */
    private String lastKset(long base, ByteBuffer header, String state) throws IOException {
        int computed = crc.checksum(header.array(), PcacheLayout.KsetHeader.CRC_START,
                PcacheLayout.KsetHeader.SIZE - PcacheLayout.KsetHeader.CRC_START);
        if (computed != header.getInt(PcacheLayout.KsetHeader.CRC)) {
            String end = "LAST kset with a CRC mismatch";
            tornKset(base, header, end);
            return end;
        }
        int next = header.getInt(PcacheLayout.KsetHeader.KEY_NUM);
        countKset();
        lastKsets++;
        if (next < 0 || next >= map.cacheSegments()) {
            report.line("  %-11s LAST -> cache segment %d (outside the cache)", pos, next);
            report.error("kset at %s (device offset %d): a LAST kset links the key log to cache segment %d, outside"
                    + " the cache's %d segments", pos, base, next, map.cacheSegments());
            return "a LAST kset links outside the cache";
        }
        report.line("  %-11s LAST -> cache segment %d  crc ok  %s", pos, next, state);
        if (keySegments.get(next)) {
            report.error("kset at %s (device offset %d): the LAST kset links the key log back to cache segment %d,"
                    + " which is already on it: the log would loop", pos, base, next);
            return "the log loops";
        }
        keySegments.set(next);
        pos = new CachePos(next, 0);
        return null;
    }

    /** A kset of keys: checks its size and CRC, then every key in it. */
    private String ksetOfKeys(long base, ByteBuffer header, String state) throws IOException {
        int keyNum = header.getInt(PcacheLayout.KsetHeader.KEY_NUM);
        if (keyNum < 1 || keyNum > PcacheLayout.KsetHeader.KEYS_MAX) {
            String end = "kset header with " + Integer.toUnsignedString(keyNum) + " keys (expected 1 to "
                    + PcacheLayout.KsetHeader.KEYS_MAX + ")";
            tornKset(base, header, end);
            return end;
        }
        int size = PcacheLayout.KsetHeader.size(keyNum);
        if ((long) pos.offset() + size > PcacheFormat.SEG_DATA_SIZE) {
            String end = "a kset of " + keyNum + " keys would run past the end of the data area";
            tornKset(base, header, end);
            return end;
        }
        ByteBuffer kset = image.readLittleEndian(base, size);
        int computed = crc.checksum(kset.array(), PcacheLayout.KsetHeader.CRC_START,
                size - PcacheLayout.KsetHeader.CRC_START);
        int stored = kset.getInt(PcacheLayout.KsetHeader.CRC);
        if (computed != stored) {
            String end = String.format(Locale.ROOT, "kset of %d keys with a CRC mismatch (stored 0x%08x, computed"
                    + " 0x%08x)", keyNum, stored, computed);
            tornKset(base, header, end);
            return end;
        }
        if (!PcacheFormat.leavesRoomForLast(pos.offset(), size)) {
            String end = "a kset of " + keyNum + " keys ends within " + PcacheLayout.KsetHeader.SIZE + " bytes of the"
                    + " end of the data area, where dm-pcache always keeps room for a LAST kset";
            report.error("kset at %s (device offset %d): %s, although its CRC matches: not written by dm-pcache or"
                    + " pcache; the engine refuses to open the cache", pos, base, end);
            return end;
        }
        countKset();
        report.line("  %-11s kset %3d keys  crc ok  %s", pos, keyNum, state);
        for (int k = 0; k < keyNum; k++) {
            key(k, kset, base);
        }
        pos = new CachePos(pos.segment(), pos.offset() + size);
        return null;
    }

    // ---------------------------------------------------------------- keys

    /** Checks key {@code k} of the kset at {@link #pos} (device offset {@code base}). */
    private void key(int k, ByteBuffer kset, long base) throws IOException {
        int at = PcacheLayout.KsetHeader.size(k);
        KeyRecord key = KeyRecord.decode(kset, at);
        keys++;
        String problem = keyProblem(key);
        String keyState;
        if (problem != null) {
            report.error("key %d of the kset at %s (device offset %d) %s", k, pos, base + at, problem);
            keyState = "INVALID";
        } else {
            keyState = usableKey(k, key, base + at);
        }
        if (options.keys()) {
            report.line("      #%-3d off %-12d len %-8s flags %-5s at %-12s gen %-4d data_crc 0x%08x  %s", k,
                    key.offset(), Integer.toUnsignedString(key.length()), key.clean() ? "CLEAN" : "-",
                    Integer.toUnsignedString(key.segment()) + ":" + Integer.toUnsignedString(key.segmentOffset()),
                    key.generation(), key.dataCrc(), keyState);
        }
    }

    /** A key that points into the cache: stale, or live (counted, its data checked). Returns its state. */
    private String usableKey(int k, KeyRecord key, long keyAt) throws IOException {
        int segment = key.segment();
        boolean known = map.generationKnown(segment);
        if (known && Long.compareUnsigned(key.generation(), map.generation(segment)) < 0) {
            stale++;
            return "stale"; // holds no data: its segment may be anything now, the key log included
        }
        if (firstLiveKeyAt[segment] < 0) {
            firstLiveKeyAt[segment] = keyAt;
        }
        if (!pendingLosses.isEmpty()) {
            replaceLost(key.offset(), key.end());
        }
        if (known && Long.compareUnsigned(key.generation(), map.generation(segment)) > 0 && future++ == 0) {
            futureExample = String.format(Locale.ROOT, "e.g. key %d of the kset at %s carries %d, the segment"
                    + " generation of cache segment %d at %d is %d", k, pos, key.generation(), segment,
                    PcacheFormat.segmentOffset(map.physical(segment)) + PcacheFormat.SEG_GEN_OFF,
                    map.generation(segment));
        }
        String keyState = !dirty ? "written back" : key.clean() ? "clean" : "dirty";
        if (dirty && !key.clean()) {
            dirtyKeys++;
            dirtyBytes += Integer.toUnsignedLong(key.length());
            dirtyExtents.add(new long[] {key.offset(), key.end()});
        }
        if (options.verifyData() && dataCrc && !dataMatches(k, key, keyAt)) {
            keyState += ", DATA CRC MISMATCH";
        }
        return keyState;
    }

    /** Verifies a live key's data against its data CRC, reporting a mismatch. */
    private boolean dataMatches(int k, KeyRecord key, long keyAt) throws IOException {
        long dataAt = PcacheFormat.segmentOffset(map.physical(key.segment())) + PcacheFormat.SEG_DATA_OFF
                + key.segmentOffset();
        if (extent == null) {
            extent = ByteBuffer.allocate((int) PcacheFormat.SUBTREE_SIZE);
        }
        extent.clear().limit(key.length());
        image.readInto(dataAt, extent);
        extent.flip();
        int actual = crc.checksum(extent);
        crcChecked++;
        crcCheckedBytes += key.length();
        if (actual == key.dataCrc()) {
            return true;
        }
        crcFailures++;
        dataCrcFailure(k, keyAt, key, dataAt, actual, dirty && !key.clean());
        return false;
    }

    /** What makes a key unusable (reference §3.6 asks for these checks; the kernel has none). */
    private String keyProblem(KeyRecord key) {
        long len = Integer.toUnsignedLong(key.length());
        if (len == 0 || len > PcacheFormat.SUBTREE_SIZE || key.offset() < 0 || key.offset() > Long.MAX_VALUE - len
                || (key.offset() >>> PcacheFormat.SUBTREE_SHIFT) != ((key.end() - 1) >>> PcacheFormat.SUBTREE_SHIFT)) {
            return "covers " + key.offset() + "+" + len + ", which is empty or crosses a 4 MiB boundary";
        }
        if (logicalSize >= 0 && key.offset() > logicalSize - len) {
            return "covers [" + key.offset() + ", " + key.end() + "), beyond the " + logicalSize
                    + " bytes of the backing device recorded in the extension";
        }
        if (key.segment() < 0 || key.segment() >= map.cacheSegments()) {
            return "points to cache segment " + Integer.toUnsignedString(key.segment()) + ", outside the cache's "
                    + map.cacheSegments() + " segments";
        }
        if (key.segmentOffset() < 0 || (long) key.segmentOffset() + len > PcacheFormat.SEG_DATA_SIZE) {
            return "lies at " + Integer.toUnsignedString(key.segmentOffset()) + "+" + len
                    + " in its segment, beyond the data area";
        }
        if (!map.mapped(key.segment())) {
            return "points to cache segment " + key.segment() + ", whose place on the device is unknown";
        }
        return PcacheFormat.misalignment(key.offset(), len, Integer.toUnsignedLong(key.segmentOffset()));
    }

    private void dataCrcFailure(int k, long keyAt, KeyRecord key, long dataAt, int actual, boolean dirtyKey) {
        String what = String.format(Locale.ROOT, "key %d of the kset at %s (device offset %d): data CRC mismatch for"
                + " [%d, +%s) at %d:%d (device offset %d; stored 0x%08x, computed 0x%08x)", k, pos, keyAt,
                key.offset(), Integer.toUnsignedString(key.length()), key.segment(), key.segmentOffset(), dataAt,
                key.dataCrc(), actual);
        if (dirtyKey) {
            List<long[]> whole = new ArrayList<>();
            whole.add(new long[] {key.offset(), key.end()});
            pendingLosses.add(new PendingLoss(what, whole));
        } else if (quarantinedOverlap(key.offset(), key.end())) {
            report.warning("%s: it overlaps a quarantined range (newest data the cache lost: write-back found it"
                    + " damaged before it reached the backing device; reads there fail until it is written again)", what);
        } else {
            report.warning("%s: the backing device holds this data (the cache re-reads it)", what);
        }
    }

    private boolean quarantinedOverlap(long start, long end) {
        for (pcache.engine.internal.media.ExtensionCodec.Range r : quarantined) {
            if (r.offset() < end && start < r.end()) {
                return true;
            }
        }
        return false;
    }

    /** A later live key over {@code [start, end)}: those bytes of the damaged extents before it are replaced. */
    private void replaceLost(long start, long end) {
        for (PendingLoss loss : pendingLosses) {
            List<long[]> left = new ArrayList<>();
            for (long[] u : loss.uncovered()) {
                if (u[1] <= start || end <= u[0]) {
                    left.add(u);
                    continue;
                }
                if (u[0] < start) {
                    left.add(new long[] {u[0], start});
                }
                if (end < u[1]) {
                    left.add(new long[] {end, u[1]});
                }
            }
            loss.uncovered().clear();
            loss.uncovered().addAll(left);
        }
    }

    /**
     * Reports each damaged dirty extent: lost where no later key replaced it (an error), or
     * replaced all through by later writes (a warning: nothing lost). Before, every one was an
     * error, so a damaged extent rewritten since made fsck fail and pcache:remove refuse.
     */
    private void decideLosses() {
        for (PendingLoss loss : pendingLosses) {
            if (loss.uncovered().isEmpty()) {
                report.warning("%s: later writes in the log replaced all of it, so nothing is lost", loss.what());
            } else {
                StringBuilder parts = new StringBuilder();
                for (long[] u : loss.uncovered()) {
                    parts.append(parts.length() == 0 ? "" : ", ").append('[').append(u[0]).append(", +")
                            .append(u[1] - u[0]).append(')');
                }
                report.error("%s: dirty data that is not on the backing device is lost (the cache quarantines it): %s",
                        loss.what(), parts);
            }
        }
    }

    // ---------------------------------------------------------------- the end of the log

    /**
     * A kset that does not check out where the log should continue: the normal end after a crash
     * that tore the last kset (a warning), unless valid ksets follow it, which means the log is
     * damaged in its middle and what follows is lost to replay (an error).
     */
    private void tornKset(long base, ByteBuffer header, String reason) throws IOException {
        report.line("  %-11s %s", pos, reason);
        CachePos follows = validContinuation(header);
        if (follows != null) {
            report.error("kset at %s (device offset %d): %s, but a valid kset follows at %d:%d: the key log is damaged"
                    + " in the middle and everything after this kset is lost to replay", pos, base, reason,
                    follows.segment(), follows.offset());
        } else {
            report.warning("kset at %s (device offset %d): %s: the end of the log, a kset torn by a crash (its writes"
                    + " were never acknowledged as durable)", pos, base, reason);
        }
    }

    /**
     * A valid kset where the log would go on after a kset whose header is damaged, as far as the
     * header can still tell: after what looks like a kset of n keys, or at the start of the
     * segment a LAST kset would link to. Null when there is none.
     */
    private CachePos validContinuation(ByteBuffer header) throws IOException {
        int keyNumField = header.getInt(PcacheLayout.KsetHeader.KEY_NUM);
        for (CachePos c : KsetContinuation.candidates(pos, keyNumField, map::mapped)) {
            if (validKsetAt(map.dataOffset(c), c.offset())) {
                return c;
            }
        }
        return null;
    }

    private boolean validKsetAt(long deviceOffset, int segmentOffset) throws IOException {
        ByteBuffer header = image.readLittleEndian(deviceOffset, PcacheLayout.KsetHeader.SIZE);
        if (header.getLong(PcacheLayout.KsetHeader.MAGIC) != PcacheLayout.KsetHeader.MAGIC_VALUE) {
            return false;
        }
        int size = PcacheLayout.KsetHeader.SIZE;
        if ((header.getLong(PcacheLayout.KsetHeader.FLAGS) & PcacheLayout.KsetHeader.FLAG_LAST) == 0) {
            int n = header.getInt(PcacheLayout.KsetHeader.KEY_NUM);
            if (n < 1 || n > PcacheLayout.KsetHeader.KEYS_MAX) {
                return false;
            }
            size = PcacheLayout.KsetHeader.size(n);
        }
        if ((long) segmentOffset + size > PcacheFormat.SEG_DATA_SIZE) {
            return false;
        }
        byte[] b = image.read(deviceOffset, size);
        return crc.checksum(b, PcacheLayout.KsetHeader.CRC_START, size - PcacheLayout.KsetHeader.CRC_START)
                == ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getInt(PcacheLayout.KsetHeader.CRC);
    }

    /** The last line of the log's dump and what its end says about dirty_tail and generations. */
    private void endOfLog(String end) {
        report.line("  end of log at %s (device offset %s): %s", pos,
                map.mapped(pos.segment()) ? Long.toString(map.dataOffset(pos)) : "?", end);
        if (dirtyTail != null && !dirty && dirtyTailSpareDamaged) {
            // the older copy, behind key_tail: a cache treats the whole log as dirty (Replay)
            report.warning("dirty_tail at %d: the copy in use, %s, is not on the key log from key_tail %s to its end"
                    + " %s, and the other copy is damaged: the newest dirty_tail was at or after key_tail, so a"
                    + " cache writes back every kset from key_tail again (this scan counts them as written back)",
                    PcacheFormat.DIRTY_TAIL_OFF, dirtyTail, keyTail, pos);
        } else if (dirtyTail != null && !dirty) {
            report.error("dirty_tail at %d points to %s, which is not on the key log from key_tail %s to its end %s:"
                    + " the cache cannot tell what is written back", PcacheFormat.DIRTY_TAIL_OFF, dirtyTail, keyTail,
                    pos);
        }
        if (stale > 0) {
            report.warning("%d stale key(s): written under an older generation of their segment, which was reclaimed"
                    + " since; replay ignores them", stale);
        }
        for (int s = keySegments.nextSetBit(0); s >= 0; s = keySegments.nextSetBit(s + 1)) {
            if (firstLiveKeyAt[s] >= 0) {
                report.error("the key at device offset %d points into cache segment %d under its current generation,"
                        + " but that segment holds the key log: the key or the log is damaged, and a cache refuses to"
                        + " open", firstLiveKeyAt[s], s);
            }
        }
        if (future > 0) {
            report.error("%d key(s) carry a generation newer than their segment's (%s): the segment generation record"
                    + " went back (its newest copy is damaged); stale keys could come back, so a cache refuses to"
                    + " open", future, futureExample);
        }
    }

    private void summarize() {
        dirtyRanges = Extents.merge(dirtyExtents);
        BitSet dataSegments = new BitSet(firstLiveKeyAt.length); // those a key that is not stale points into
        for (int s = 0; s < firstLiveKeyAt.length; s++) {
            dataSegments.set(s, firstLiveKeyAt[s] >= 0);
        }
        BitSet used = (BitSet) keySegments.clone();
        used.or(dataSegments);
        report.summary(String.format(Locale.ROOT, "key log: %d ksets (%d LAST), %d keys (%d stale) from %s to %s;"
                + " key segments %s", ksets, lastKsets, keys, stale, keyTail, pos, Extents.ranges(keySegments)));
        report.summary(String.format(Locale.ROOT, "segments in use: %d (key log %s; data %s)", used.cardinality(),
                Extents.ranges(keySegments), dataSegments.isEmpty() ? "none" : Extents.ranges(dataSegments)));
        report.summary(String.format(Locale.ROOT, "written back: %d ksets; not yet: %d ksets", writtenBackKsets,
                dirtyKsets));
        report.summary(String.format(Locale.ROOT, "dirty: %d bytes (%s) in %d keys, %d merged range(s)", dirtyBytes,
                ScanReport.human(dirtyBytes), dirtyKeys, dirtyRanges.size()));
        if (!dataCrc) {
            report.summary("data CRC: off (the cache was formatted without data_crc)");
        } else if (options.verifyData()) {
            report.summary(String.format(Locale.ROOT, "data CRC: %d extents (%d bytes) verified, %d mismatch(es)",
                    crcChecked, crcCheckedBytes, crcFailures));
        } else {
            report.summary("data CRC: on (not verified by inspect; fsck verifies it)");
        }
    }
}
