package pcache.target.internal;

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
import pcache.target.internal.ImageSlots.Slot;
import pcache.target.internal.media.CacheInfoCodec;
import pcache.target.internal.media.CacheInfoCodec.CacheInfo;
import pcache.target.internal.media.CachePosCodec;
import pcache.target.internal.media.ExtensionCodec;
import pcache.target.internal.media.ExtensionCodec.Extension;
import pcache.target.internal.media.ExtensionCodec.Range;
import pcache.target.internal.media.KsetContinuation;
import pcache.target.internal.media.SuperblockCodec;
import pcache.target.internal.media.SuperblockCodec.Superblock;

/**
 * One pass over a cache device image: reads every metadata structure and the key log the way a
 * cache would at start-up (reference §2.3-§3.6), but never stops at the first problem. It writes a
 * readable dump as it goes and collects errors (the cache cannot be used or data is lost) and
 * warnings (the cache recovers: a damaged spare slot, a torn kset at the end of the log, stale
 * keys). Read-only.
 *
 * <p>The segment and key-log records are decoded here rather than through the segment and key
 * index bundles, whose codecs are private to them: they are small fixed structures (reference
 * §2.3), and an independent reader also cross-checks those codecs.
 */
final class ImageScan {

    /** How deep to go. */
    record Options(boolean keys, boolean verifyData) {
    }

    private static final int RANGES_SHOWN = 20;
    /** Bits in which a damaged extension record's magic may differ from ours and still be ours. */
    private static final int EXT_MAGIC_BITS_DAMAGED = 8;

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

    private final StringBuilder dump = new StringBuilder();
    private final List<String> summary = new ArrayList<>();
    private final List<String> errors = new ArrayList<>();
    private final List<String> warnings = new ArrayList<>();

    private int segNum;
    private CacheInfo info;
    private boolean dataCrc;
    private int cacheSegments;
    private int[] physical;
    private long[] generation;
    private boolean[] generationKnown;
    private CachePos keyTail;
    private CachePos dirtyTail;
    private Extension extension;
    private final List<long[]> dirtyExtents = new ArrayList<>();
    private long dirtyBytes;
    private long dirtyKeys;
    private List<long[]> dirtyRanges = List.of();

    ImageScan(ImageFile image, CrcProvider crc, Options options) {
        this.image = image;
        this.crc = crc;
        this.options = options;
    }

    /** Runs the scan; the results are in the accessors. */
    ImageScan run() throws IOException {
        line("cache device image %s: %d bytes (%s), room for %d segments", image.name(), image.sizeBytes(),
                human(image.sizeBytes()), PcacheFormat.segmentsFor(image.sizeBytes()));
        if (!superblock()) {
            return this;
        }
        cacheInfo();
        keyTail = position("key_tail", PcacheFormat.KEY_TAIL_OFF);
        dirtyTail = position("dirty_tail", PcacheFormat.DIRTY_TAIL_OFF);
        extension();
        segments();
        keyLog();
        return this;
    }

    // ---------------------------------------------------------------- results

    /** The readable dump (structures, ksets, keys when asked for). */
    String dump() {
        return dump.toString();
    }

    /** Summary lines: log extent, segments, dirty data, data CRC. */
    List<String> summary() {
        return summary;
    }

    List<String> errors() {
        return errors;
    }

    List<String> warnings() {
        return warnings;
    }

    long dirtyBytes() {
        return dirtyBytes;
    }

    /** Merged logical ranges of dirty data, {@code [offset, length]}. */
    List<long[]> dirtyRanges() {
        return dirtyRanges;
    }

    /** Problems as a readable block ({@code problems: none} when there are none). */
    String problems() {
        StringBuilder out = new StringBuilder();
        if (errors.isEmpty() && warnings.isEmpty()) {
            return "problems: none\n";
        }
        if (!errors.isEmpty()) {
            out.append("errors (").append(errors.size()).append("):\n");
            errors.forEach(e -> out.append("  - ").append(e).append('\n'));
        }
        if (!warnings.isEmpty()) {
            out.append("warnings (").append(warnings.size()).append("):\n");
            warnings.forEach(w -> out.append("  - ").append(w).append('\n'));
        }
        return out.toString();
    }

    /** The dirty ranges as lines, at most {@code max} of them. */
    String dirtyRangeLines(int max) {
        StringBuilder out = new StringBuilder();
        int shown = 0;
        for (long[] r : dirtyRanges) {
            if (shown++ == max) {
                out.append("  ... ").append(dirtyRanges.size() - max).append(" more\n");
                break;
            }
            out.append("  [").append(r[0]).append(", +").append(r[1]).append(")\n");
        }
        return out.toString();
    }

    // ---------------------------------------------------------------- superblock and cache-wide records

    private boolean superblock() throws IOException {
        byte[] b = image.read(PcacheFormat.SB_OFF, PcacheLayout.Superblock.SIZE);
        Superblock sb = SuperblockCodec.decode(b);
        String where = "superblock at " + PcacheFormat.SB_OFF;
        int fits = PcacheFormat.segmentsFor(image.sizeBytes());
        if (image.sizeBytes() < PcacheFormat.SEGMENTS_OFF) {
            error("%s: the image has only %d bytes, less than the %d bytes of cache-wide metadata", where,
                    image.sizeBytes(), PcacheFormat.SEGMENTS_OFF);
            return false;
        }
        if (ImageSlots.allZero(b)) {
            line("%s: all zero", where);
            error("%s: magic 0: the image was never formatted as a cache device (a cache formats a device whose"
                    + " superblock magic is 0)", where);
            return false;
        }
        boolean magicOk = sb.magic() == PcacheFormat.SB_MAGIC;
        int computed = SuperblockCodec.crcOf(b, crc);
        boolean crcOk = computed == sb.storedCrc();
        line("%s: magic %s, crc %s, flags 0x%x, seg_num %d", where,
                magicOk ? "ok" : String.format(Locale.ROOT, "0x%x WRONG (expected 0x%x)", sb.magic(), PcacheFormat.SB_MAGIC),
                crcOk ? String.format(Locale.ROOT, "ok (0x%08x)", computed)
                        : String.format(Locale.ROOT, "MISMATCH (stored 0x%08x, computed 0x%08x)", sb.storedCrc(), computed),
                sb.flags(), sb.segNum());
        if (!magicOk) {
            error("%s: magic 0x%x is not dm-pcache's (0x%x): not a cache device, or its superblock is damaged",
                    where, sb.magic(), PcacheFormat.SB_MAGIC);
            ImageSlots infos = cacheInfoSlots();
            if (infos.current() == null) {
                line("no valid cache_info either: not a cache device; nothing more to read");
                return false;
            }
        }
        if (!crcOk) {
            error("%s: CRC mismatch (stored 0x%08x, computed 0x%08x): the superblock is damaged", where,
                    sb.storedCrc(), computed);
        }
        if ((sb.flags() & PcacheLayout.Superblock.FLAG_BIGENDIAN) != 0) {
            error("%s: flags 0x%x: formatted on a big-endian host; a little-endian host cannot use it", where,
                    sb.flags());
        }
        if (sb.segNum() <= 0 || sb.segNum() > fits) {
            error("%s: records %d segments but the image of %d bytes holds %d%s", where, sb.segNum(),
                    image.sizeBytes(), fits, sb.segNum() > fits ? ": the image is truncated or not the device"
                            + " that was formatted" : "");
            segNum = fits;
        } else {
            segNum = sb.segNum();
        }
        return true;
    }

    private ImageSlots cacheInfoSlots() throws IOException {
        return ImageSlots.read(image, crc, "cache_info", PcacheFormat.CACHE_INFO_OFF,
                PcacheFormat.CACHE_INFO_SLOT_STRIDE, PcacheLayout.CacheInfo.SIZE);
    }

    private void cacheInfo() throws IOException {
        ImageSlots slots = cacheInfoSlots();
        line("cache_info (slots at %d and %d):", PcacheFormat.CACHE_INFO_OFF,
                PcacheFormat.CACHE_INFO_OFF + PcacheFormat.CACHE_INFO_SLOT_STRIDE);
        Slot current = slots.current();
        for (int i = 0; i < PcacheFormat.META_SLOTS; i++) {
            Slot s = slots.slot(i);
            String content = "";
            if (s.state() != ImageSlots.State.EMPTY) {
                CacheInfo decoded = CacheInfoCodec.decode(s.bytes());
                content = String.format(Locale.ROOT, ": first segment %d, %d segments, flags 0x%x (%s)",
                        decoded.firstSegment(), decoded.segmentCount(), decoded.flags(), describeFlags(decoded));
            }
            line("  slot %d at %d: %s%s%s", i, s.offset(), s.verdict(), content, s == current ? "  <- current" : "");
        }
        String where = "cache_info at " + PcacheFormat.CACHE_INFO_OFF;
        if (current == null) {
            error("%s: neither slot holds a valid record%s", where, slots.empty()
                    ? " (both are empty: formatting never finished; a cache would format this device again)"
                    : "; the cache cannot be opened");
            info = new CacheInfo(0, segNum, 0);
            line("  assuming the chain starts at physical segment 0 and has %d segments", segNum);
        } else {
            CacheInfo decoded = CacheInfoCodec.decode(current.bytes());
            Slot spare = slots.damagedSpare();
            if (spare != null) {
                warning("cache_info slot %d at %d: CRC mismatch: a damaged spare copy (the cache uses slot %d)",
                        spare.index(), spare.offset(), current.index());
            }
            if (decoded.firstSegment() < 0 || decoded.firstSegment() >= segNum || decoded.segmentCount() < 1
                    || decoded.segmentCount() > segNum) {
                error("cache_info slot %d at %d: first segment %d and %d segments do not fit the %d segments of"
                        + " the device", current.index(), current.offset(), decoded.firstSegment(),
                        decoded.segmentCount(), segNum);
                decoded = new CacheInfo(Math.max(0, Math.min(decoded.firstSegment(), segNum - 1)),
                        Math.max(1, Math.min(decoded.segmentCount(), segNum)), decoded.flags());
            }
            if (decoded.gcPercent() > 90) {
                warning("cache_info slot %d at %d: gc_percent %d is above the maximum of 90", current.index(),
                        current.offset(), decoded.gcPercent());
            }
            if (PcacheLayout.CacheInfo.modeName(decoded.mode()) == null) {
                warning("cache_info slot %d at %d: unknown cache mode %d in the flags", current.index(),
                        current.offset(), decoded.mode());
            }
            info = decoded;
        }
        dataCrc = info.dataCrc();
        cacheSegments = info.segmentCount();
    }

    private static String describeFlags(CacheInfo i) {
        List<String> parts = new ArrayList<>();
        parts.add(i.dataCrc() ? "data_crc" : "no data_crc");
        parts.add(i.initDone() ? "init_done" : "init not done");
        String mode = PcacheLayout.CacheInfo.modeName(i.mode());
        parts.add("mode " + (mode != null ? mode : "unknown " + i.mode()));
        parts.add("gc_percent " + i.gcPercent());
        return String.join(", ", parts);
    }

    /** key_tail or dirty_tail: both slots, the current position, checked against the cache. */
    private CachePos position(String structure, long offset) throws IOException {
        ImageSlots slots = ImageSlots.read(image, crc, structure, offset, PcacheLayout.CachePos.SIZE,
                PcacheLayout.CachePos.SIZE);
        line("%s (slots at %d and %d):", structure, offset, offset + PcacheLayout.CachePos.SIZE);
        Slot current = slots.current();
        for (int i = 0; i < PcacheFormat.META_SLOTS; i++) {
            Slot s = slots.slot(i);
            String content = s.state() == ImageSlots.State.EMPTY ? "" : ": " + CachePosCodec.decode(s.bytes());
            line("  slot %d at %d: %s%s%s", i, s.offset(), s.verdict(), content, s == current ? "  <- current" : "");
        }
        if (current == null) {
            error("%s at %d: neither slot holds a valid record (dm-pcache: \"Corrupted key tail or dirty tail\");"
                    + " the key log cannot be replayed", structure, offset);
            return null;
        }
        Slot spare = slots.damagedSpare();
        if (spare != null) {
            warning("%s slot %d at %d: CRC mismatch: a damaged spare copy (the cache uses slot %d)", structure,
                    spare.index(), spare.offset(), current.index());
        }
        CachePos pos = CachePosCodec.decode(current.bytes());
        if (pos.segment() < 0 || pos.segment() >= cacheSegments || pos.offset() < 0
                || pos.offset() > PcacheFormat.SEG_DATA_SIZE - PcacheLayout.KsetHeader.SIZE) {
            error("%s slot %d at %d: points to %s, outside the cache's %d segments of %d data bytes", structure,
                    current.index(), current.offset(), pos, cacheSegments, PcacheFormat.SEG_DATA_SIZE);
            return null;
        }
        return pos;
    }

    private void extension() throws IOException {
        ImageSlots slots = ImageSlots.read(image, crc, "pcache extension", PcacheFormat.EXT_OFF,
                PcacheLayout.Extension.SLOT_STRIDE, PcacheLayout.Extension.SIZE);
        String where = "pcache extension (slots at " + PcacheFormat.EXT_OFF + " and " + PcacheLayout.Extension.SLOT_STRIDE + ")";
        Slot current = slots.current();
        extension = current == null ? null : ExtensionCodec.decode(current.bytes());
        for (int i = 0; i < PcacheFormat.META_SLOTS; i++) {
            Slot s = slots.slot(i);
            // a magic a few bits off ours is our record damaged there, not the unused area of an
            // image dm-pcache wrote (which holds whatever was on the device before)
            boolean ours = Long.bitCount(s.littleEndian().getLong(PcacheLayout.Extension.MAGIC) ^ PcacheLayout.Extension.MAGIC_VALUE)
                    <= EXT_MAGIC_BITS_DAMAGED;
            if (s.state() == ImageSlots.State.DAMAGED && ours) {
                warning("pcache extension slot %d at %d: CRC mismatch: a damaged copy%s", i, s.offset(),
                        extension != null ? " (the cache uses the other slot)"
                                : "; the backing identity and quarantine it held are lost");
            }
        }
        if (extension == null) {
            line("%s: none (no valid record: written by dm-pcache, or never paired with a backing device)", where);
            return;
        }
        line("%s: slot %d seq %d, crc ok", where, current.index(), current.seq());
        line("  backing identity: %s", extension.backing() == null ? "none recorded" : extension.backing());
        if (extension.quarantine().isEmpty()) {
            line("  quarantine: none");
        } else {
            StringBuilder ranges = new StringBuilder();
            for (Range r : extension.quarantine()) {
                ranges.append(" [").append(r.offset()).append(", +").append(r.length()).append(')');
            }
            line("  quarantine (%d):%s", extension.quarantine().size(), ranges);
            warning("pcache extension at %d: %d quarantined range(s) whose newest data was lost earlier:%s (reads"
                    + " of them fail until they are rewritten)", current.offset(), extension.quarantine().size(),
                    ranges);
        }
    }

    // ---------------------------------------------------------------- segments

    /** One segment as printed: consecutive segments with equal rows are printed as one range. */
    private record SegmentRow(int cacheId, int physicalId, String link, String type, String info, String gen) {
        boolean continues(SegmentRow previous, int count) {
            return previous != null && physicalId - cacheId == previous.physicalId - previous.cacheId
                    && cacheId == previous.cacheId + count && link.equals(previous.link) && type.equals(previous.type)
                    && info.equals(previous.info) && gen.equals(previous.gen);
        }
    }

    private void segments() throws IOException {
        int n = cacheSegments;
        physical = new int[n];
        generation = new long[n];
        generationKnown = new boolean[n];
        BitSet visited = new BitSet(segNum);
        line("segments: %d in the chain from physical segment %d (of %d on the device)", n, info.firstSegment(),
                segNum);
        List<SegmentRow> rows = new ArrayList<>();
        int phys = info.firstSegment();
        long linkOffset = PcacheFormat.CACHE_INFO_OFF;
        String linkStructure = "cache_info";
        for (int i = 0; i < n; i++) {
            if (phys < 0 || phys >= segNum || visited.get(phys)) {
                int assumed = i < segNum && !visited.get(i) ? i : -1;
                error("%s at %d links cache segment %d to physical segment %d, which %s: the segment chain is"
                        + " broken%s", linkStructure, linkOffset, i, phys,
                        phys >= 0 && phys < segNum ? "is already in the chain" : "is outside the device's " + segNum
                                + " segments",
                        assumed < 0 ? "" : "; assuming physical segment " + assumed + " (dm-pcache allocates them in"
                                + " order)");
                if (assumed < 0) {
                    for (int j = i; j < n; j++) {
                        physical[j] = -1;
                    }
                    break;
                }
                phys = assumed;
            }
            visited.set(phys);
            physical[i] = phys;
            long base = PcacheFormat.segmentOffset(phys);
            if (base + PcacheFormat.SEG_SIZE > image.sizeBytes()) {
                error("cache segment %d (physical %d) at %d lies beyond the end of the image (%d bytes): the image"
                        + " is truncated", i, phys, base, image.sizeBytes());
                rows.add(new SegmentRow(i, phys, "?", "?", "beyond the end of the image", "?"));
                phys = phys + 1;
                continue;
            }
            String name = "cache segment " + i + " (physical " + phys + ")";
            ImageSlots infoSlots = ImageSlots.read(image, crc, "segment_info", base, PcacheFormat.SEG_INFO_SLOT_STRIDE,
                    PcacheLayout.SegmentInfo.SIZE);
            ImageSlots genSlots = ImageSlots.read(image, crc, "segment generation", base + PcacheFormat.SEG_GEN_OFF,
                    PcacheLayout.SegmentGen.SIZE, PcacheLayout.SegmentGen.SIZE);
            String genText;
            if (genSlots.current() == null) {
                error("segment generation of %s at %d: neither slot holds a valid record; stale keys of this segment"
                        + " cannot be told from live ones", name, base + PcacheFormat.SEG_GEN_OFF);
                genText = "gen ? (" + genSlots.compact() + ")";
            } else {
                generation[i] = genSlots.current().littleEndian().getLong(PcacheLayout.SegmentGen.GEN);
                generationKnown[i] = true;
                genText = "gen " + generation[i] + " (" + genSlots.compact() + ")";
                Slot spare = genSlots.damagedSpare();
                if (spare != null) {
                    warning("segment generation of %s slot %d at %d: CRC mismatch: a damaged spare copy", name,
                            spare.index(), spare.offset());
                }
            }
            Slot infoSlot = infoSlots.current();
            int next = phys + 1;
            String link;
            String type;
            if (infoSlot == null) {
                error("segment_info of %s at %d: neither slot holds a valid record; the chain cannot be followed%s",
                        name, base, i < n - 1 ? " (assuming physical segment " + next + " comes next)" : "");
                link = "?";
                type = "?";
            } else {
                ByteBuffer b = infoSlot.littleEndian();
                int flags = b.getInt(PcacheLayout.SegmentInfo.FLAGS);
                int t = PcacheLayout.SegmentInfo.type(flags);
                boolean hasNext = (flags & PcacheLayout.SegmentInfo.FLAG_HAS_NEXT) != 0;
                type = "type " + t;
                if (t != PcacheLayout.SegmentInfo.TYPE_CACHE_DATA) {
                    error("segment_info of %s slot %d at %d: type %d, expected %d (cache data)", name,
                            infoSlot.index(), infoSlot.offset(), t, PcacheLayout.SegmentInfo.TYPE_CACHE_DATA);
                }
                Slot spare = infoSlots.damagedSpare();
                if (spare != null) {
                    warning("segment_info of %s slot %d at %d: CRC mismatch: a damaged spare copy", name,
                            spare.index(), spare.offset());
                }
                if (hasNext) {
                    next = b.getInt(PcacheLayout.SegmentInfo.NEXT_SEG);
                    link = next == phys + 1 ? "next: the following" : "next: physical " + next;
                } else {
                    link = "last";
                    if (i < n - 1) {
                        error("segment_info of %s slot %d at %d: the chain ends here but cache_info records %d"
                                + " segments (assuming physical segment %d comes next)", name, infoSlot.index(),
                                infoSlot.offset(), n, phys + 1);
                    }
                }
                linkStructure = "segment_info of " + name;
                linkOffset = infoSlot.offset();
            }
            rows.add(new SegmentRow(i, phys, link, type, "info " + infoSlots.compact(), genText));
            phys = next;
        }
        printSegmentRows(rows);
    }

    private void printSegmentRows(List<SegmentRow> rows) {
        int i = 0;
        while (i < rows.size()) {
            SegmentRow first = rows.get(i);
            int count = 1;
            while (i + count < rows.size() && rows.get(i + count).continues(first, count)) {
                count++;
            }
            String ids = count == 1 ? Integer.toString(first.cacheId())
                    : first.cacheId() + "-" + (first.cacheId() + count - 1);
            String phys = count == 1 ? Integer.toString(first.physicalId())
                    : first.physicalId() + "-" + (first.physicalId() + count - 1);
            line("  %-9s physical %-9s %s, %s, %s, %s", ids, phys, first.type(), first.link(), first.info(),
                    first.gen());
            i += count;
        }
    }

    // ---------------------------------------------------------------- key log

    private long dataOffset(CachePos pos) {
        return PcacheFormat.segmentOffset(physical[pos.segment()]) + PcacheFormat.SEG_DATA_OFF + pos.offset();
    }

    private boolean mapped(int cacheSegment) {
        return cacheSegment >= 0 && cacheSegment < cacheSegments && physical[cacheSegment] >= 0;
    }

    private void keyLog() throws IOException {
        if (keyTail == null) {
            line("key log: not read (no usable key_tail)");
            return;
        }
        line("key log from key_tail %s%s:", keyTail, dirtyTail == null ? " (dirty_tail unknown)"
                : ", dirty from dirty_tail " + dirtyTail);
        long logicalSize = extension != null && extension.backing() != null ? extension.backing().sizeBytes() : -1;
        BitSet keySegments = new BitSet(cacheSegments);
        BitSet dataSegments = new BitSet(cacheSegments);
        keySegments.set(keyTail.segment());
        CachePos pos = keyTail;
        boolean dirty = dirtyTail == null; // unknown: count everything as dirty, the safe side
        long ksets = 0;
        long lastKsets = 0;
        long keys = 0;
        long stale = 0;
        long future = 0;
        String futureExample = null;
        long writtenBackKsets = 0;
        long dirtyKsets = 0;
        long crcChecked = 0;
        long crcCheckedBytes = 0;
        long crcFailures = 0;
        ByteBuffer extent = null;
        String end;
        while (true) {
            if (!dirty && pos.equals(dirtyTail)) {
                dirty = true;
                if (ksets > 0) {
                    line("  -- dirty_tail %s: ksets from here are not written back yet --", pos);
                }
            }
            if (!mapped(pos.segment())) {
                end = "the position is in a segment whose place on the device is unknown";
                error("key log at %s: %s; the rest of the log cannot be read", pos, end);
                break;
            }
            if ((long) pos.offset() + PcacheLayout.KsetHeader.SIZE > PcacheFormat.SEG_DATA_SIZE) {
                end = "no room for a kset header before the end of the data area";
                break;
            }
            long base = dataOffset(pos);
            ByteBuffer header = image.readLittleEndian(base, PcacheLayout.KsetHeader.SIZE);
            if (ImageSlots.allZero(header.array())) {
                end = "zero header";
                break;
            }
            if (header.getLong(PcacheLayout.KsetHeader.MAGIC) != PcacheLayout.KsetHeader.MAGIC_VALUE) {
                // past the end of the log there are zeroes (pcache zeroes key segments, the kernel
                // writes a zero header after each kset): anything else is torn or damaged
                end = String.format(Locale.ROOT, "no kset magic (0x%x)", header.getLong(PcacheLayout.KsetHeader.MAGIC));
                tornKset(pos, base, header, end);
                break;
            }
            String state = dirty ? "dirty" : "written back";
            if ((header.getLong(PcacheLayout.KsetHeader.FLAGS) & PcacheLayout.KsetHeader.FLAG_LAST) != 0) {
                int computed = crc.checksum(header.array(), PcacheLayout.KsetHeader.CRC_START,
                        PcacheLayout.KsetHeader.SIZE - PcacheLayout.KsetHeader.CRC_START);
                if (computed != header.getInt(PcacheLayout.KsetHeader.CRC)) {
                    end = "LAST kset with a CRC mismatch";
                    tornKset(pos, base, header, end);
                    break;
                }
                int next = header.getInt(PcacheLayout.KsetHeader.KEY_NUM);
                ksets++;
                lastKsets++;
                if (dirty) {
                    dirtyKsets++;
                } else {
                    writtenBackKsets++;
                }
                if (next < 0 || next >= cacheSegments) {
                    line("  %-11s LAST -> cache segment %d (outside the cache)", pos, next);
                    end = "a LAST kset links outside the cache";
                    error("kset at %s (device offset %d): a LAST kset links the key log to cache segment %d, outside"
                            + " the cache's %d segments", pos, base, next, cacheSegments);
                    break;
                }
                line("  %-11s LAST -> cache segment %d  crc ok  %s", pos, next, state);
                if (keySegments.get(next)) {
                    end = "the log loops";
                    error("kset at %s (device offset %d): the LAST kset links the key log back to cache segment %d,"
                            + " which is already on it: the log would loop", pos, base, next);
                    break;
                }
                keySegments.set(next);
                pos = new CachePos(next, 0);
                continue;
            }
            int keyNum = header.getInt(PcacheLayout.KsetHeader.KEY_NUM);
            if (keyNum < 1 || keyNum > PcacheLayout.KsetHeader.KEYS_MAX) {
                end = "kset header with " + Integer.toUnsignedString(keyNum) + " keys (expected 1 to "
                        + PcacheLayout.KsetHeader.KEYS_MAX + ")";
                tornKset(pos, base, header, end);
                break;
            }
            int size = PcacheLayout.KsetHeader.size(keyNum);
            if ((long) pos.offset() + size > PcacheFormat.SEG_DATA_SIZE) {
                end = "a kset of " + keyNum + " keys would run past the end of the data area";
                tornKset(pos, base, header, end);
                break;
            }
            ByteBuffer kset = image.readLittleEndian(base, size);
            int computed = crc.checksum(kset.array(), PcacheLayout.KsetHeader.CRC_START,
                    size - PcacheLayout.KsetHeader.CRC_START);
            int stored = kset.getInt(PcacheLayout.KsetHeader.CRC);
            if (computed != stored) {
                end = String.format(Locale.ROOT, "kset of %d keys with a CRC mismatch (stored 0x%08x, computed 0x%08x)",
                        keyNum, stored, computed);
                tornKset(pos, base, header, end);
                break;
            }
            ksets++;
            if (dirty) {
                dirtyKsets++;
            } else {
                writtenBackKsets++;
            }
            line("  %-11s kset %3d keys  crc ok  %s", pos, keyNum, state);
            for (int k = 0; k < keyNum; k++) {
                int at = PcacheLayout.KsetHeader.size(k);
                KeyRecord key = KeyRecord.decode(kset, at);
                keys++;
                String problem = keyProblem(key, logicalSize);
                String keyState;
                if (problem != null) {
                    error("key %d of the kset at %s (device offset %d) %s", k, pos, base + at, problem);
                    keyState = "INVALID";
                } else {
                    dataSegments.set(key.segment());
                    boolean known = generationKnown[key.segment()];
                    if (known && key.generation() < generation[key.segment()]) {
                        stale++;
                        keyState = "stale";
                    } else {
                        if (known && key.generation() > generation[key.segment()]) {
                            if (future++ == 0) {
                                futureExample = String.format(Locale.ROOT, "e.g. key %d of the kset at %s carries %d,"
                                        + " the segment generation of cache segment %d at %d is %d", k, pos,
                                        key.generation(), key.segment(), PcacheFormat.segmentOffset(physical[key.segment()])
                                                + PcacheFormat.SEG_GEN_OFF, generation[key.segment()]);
                            }
                        }
                        keyState = !dirty ? "written back" : key.clean() ? "clean" : "dirty";
                        if (dirty && !key.clean()) {
                            dirtyKeys++;
                            dirtyBytes += Integer.toUnsignedLong(key.length());
                            dirtyExtents.add(new long[] {key.offset(), key.end()});
                        }
                        if (options.verifyData() && dataCrc) {
                            long dataAt = PcacheFormat.segmentOffset(physical[key.segment()]) + PcacheFormat.SEG_DATA_OFF
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
                            if (actual != key.dataCrc()) {
                                crcFailures++;
                                keyState += ", DATA CRC MISMATCH";
                                dataCrcFailure(k, pos, base + at, key, dataAt, actual, dirty && !key.clean());
                            }
                        }
                    }
                }
                if (options.keys()) {
                    line("      #%-3d off %-12d len %-8s flags %-5s at %-12s gen %-4d data_crc 0x%08x  %s", k,
                            key.offset(), Integer.toUnsignedString(key.length()), key.clean() ? "CLEAN" : "-",
                            Integer.toUnsignedString(key.segment()) + ":" + Integer.toUnsignedString(key.segmentOffset()),
                            key.generation(), key.dataCrc(), keyState);
                }
            }
            pos = new CachePos(pos.segment(), pos.offset() + size);
        }
        line("  end of log at %s (device offset %s): %s", pos, mapped(pos.segment()) ? Long.toString(dataOffset(pos))
                : "?", end);
        if (dirtyTail != null && !dirty) {
            error("dirty_tail at %d points to %s, which is not on the key log from key_tail %s to its end %s: the"
                    + " cache cannot tell what is written back", PcacheFormat.DIRTY_TAIL_OFF, dirtyTail, keyTail, pos);
        }
        if (stale > 0) {
            warning("%d stale key(s): written under an older generation of their segment, which was reclaimed since;"
                    + " replay ignores them", stale);
        }
        if (future > 0) {
            error("%d key(s) carry a generation newer than their segment's (%s): the segment generation record went"
                    + " back (its newest copy is damaged); stale keys could come back, so a cache refuses to open",
                    future, futureExample);
        }
        dirtyRanges = merge(dirtyExtents);
        BitSet used = (BitSet) keySegments.clone();
        used.or(dataSegments);
        summary.add(String.format(Locale.ROOT, "key log: %d ksets (%d LAST), %d keys (%d stale) from %s to %s;"
                + " key segments %s", ksets, lastKsets, keys, stale, keyTail, pos, ranges(keySegments)));
        summary.add(String.format(Locale.ROOT, "segments in use: %d (key log %s; data %s)", used.cardinality(),
                ranges(keySegments), dataSegments.isEmpty() ? "none" : ranges(dataSegments)));
        summary.add(String.format(Locale.ROOT, "written back: %d ksets; not yet: %d ksets", writtenBackKsets,
                dirtyKsets));
        summary.add(String.format(Locale.ROOT, "dirty: %d bytes (%s) in %d keys, %d merged range(s)", dirtyBytes,
                human(dirtyBytes), dirtyKeys, dirtyRanges.size()));
        if (!dataCrc) {
            summary.add("data CRC: off (the cache was formatted without data_crc)");
        } else if (options.verifyData()) {
            summary.add(String.format(Locale.ROOT, "data CRC: %d extents (%d bytes) verified, %d mismatch(es)",
                    crcChecked, crcCheckedBytes, crcFailures));
        } else {
            summary.add("data CRC: on (not verified by inspect; fsck verifies it)");
        }
    }

    /** What makes a key unusable (reference §3.6 asks for these checks; the kernel has none). */
    private String keyProblem(KeyRecord key, long logicalSize) {
        long len = Integer.toUnsignedLong(key.length());
        if (len == 0 || len > PcacheFormat.SUBTREE_SIZE || key.offset() < 0
                || (key.offset() >>> PcacheFormat.SUBTREE_SHIFT) != ((key.end() - 1) >>> PcacheFormat.SUBTREE_SHIFT)) {
            return "covers " + key.offset() + "+" + len + ", which is empty or crosses a 4 MiB boundary";
        }
        if (logicalSize >= 0 && key.end() > logicalSize) {
            return "covers [" + key.offset() + ", " + key.end() + "), beyond the " + logicalSize
                    + " bytes of the backing device recorded in the extension";
        }
        if (key.segment() < 0 || key.segment() >= cacheSegments) {
            return "points to cache segment " + Integer.toUnsignedString(key.segment()) + ", outside the cache's "
                    + cacheSegments + " segments";
        }
        if (key.segmentOffset() < 0 || (long) key.segmentOffset() + len > PcacheFormat.SEG_DATA_SIZE) {
            return "lies at " + Integer.toUnsignedString(key.segmentOffset()) + "+" + len
                    + " in its segment, beyond the data area";
        }
        if (!mapped(key.segment())) {
            return "points to cache segment " + key.segment() + ", whose place on the device is unknown";
        }
        return null;
    }

    private void dataCrcFailure(int k, CachePos pos, long keyAt, KeyRecord key, long dataAt, int actual,
            boolean dirtyKey) {
        String what = String.format(Locale.ROOT, "key %d of the kset at %s (device offset %d): data CRC mismatch for"
                + " [%d, +%s) at %d:%d (device offset %d; stored 0x%08x, computed 0x%08x)", k, pos, keyAt,
                key.offset(), Integer.toUnsignedString(key.length()), key.segment(), key.segmentOffset(), dataAt,
                key.dataCrc(), actual);
        if (dirtyKey) {
            error("%s: dirty data that is not on the backing device is lost (the cache quarantines it)", what);
        } else {
            warning("%s: the backing device holds this data (the cache re-reads it)", what);
        }
    }

    /**
     * A kset that does not check out where the log should continue: the normal end after a crash
     * that tore the last kset (a warning), unless valid ksets follow it, which means the log is
     * damaged in its middle and what follows is lost to replay (an error).
     */
    private void tornKset(CachePos pos, long base, ByteBuffer header, String reason) throws IOException {
        line("  %-11s %s", pos, reason);
        CachePos follows = validContinuation(pos, header);
        if (follows != null) {
            error("kset at %s (device offset %d): %s, but a valid kset follows at %d:%d: the key log is damaged in"
                    + " the middle and everything after this kset is lost to replay", pos, base, reason,
                    follows.segment(), follows.offset());
        } else {
            warning("kset at %s (device offset %d): %s: the end of the log, a kset torn by a crash (its writes were"
                    + " never acknowledged as durable)", pos, base, reason);
        }
    }

    /**
     * A valid kset where the log would go on after a kset whose header is damaged, as far as the
     * header can still tell: after what looks like a kset of n keys, or at the start of the
     * segment a LAST kset would link to. Null when there is none.
     */
    private CachePos validContinuation(CachePos pos, ByteBuffer header) throws IOException {
        int keyNumField = header.getInt(PcacheLayout.KsetHeader.KEY_NUM);
        for (CachePos c : KsetContinuation.candidates(pos, keyNumField, this::mapped)) {
            if (validKsetAt(dataOffset(c), c.offset())) {
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

    // ---------------------------------------------------------------- helpers

    /** Sorted, merged {@code [offset, length]} ranges of {@code [start, end)} extents. */
    static List<long[]> merge(List<long[]> extents) {
        List<long[]> sorted = new ArrayList<>(extents);
        sorted.sort((a, b) -> Long.compare(a[0], b[0]));
        List<long[]> merged = new ArrayList<>();
        long start = -1;
        long end = -1;
        for (long[] e : sorted) {
            if (start >= 0 && e[0] <= end) {
                end = Math.max(end, e[1]);
                continue;
            }
            if (start >= 0) {
                merged.add(new long[] {start, end - start});
            }
            start = e[0];
            end = e[1];
        }
        if (start >= 0) {
            merged.add(new long[] {start, end - start});
        }
        return merged;
    }

    /** {@code 0-3, 7} for a set of segment ids. */
    static String ranges(BitSet set) {
        if (set.isEmpty()) {
            return "none";
        }
        StringBuilder out = new StringBuilder();
        int i = set.nextSetBit(0);
        while (i >= 0) {
            int j = set.nextClearBit(i) - 1;
            out.append(out.length() == 0 ? "" : ", ").append(i);
            if (j > i) {
                out.append('-').append(j);
            }
            i = set.nextSetBit(j + 1);
        }
        return out.toString();
    }

    static String human(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    private void line(String format, Object... args) {
        dump.append(String.format(Locale.ROOT, format, args)).append('\n');
    }

    private void error(String format, Object... args) {
        errors.add(String.format(Locale.ROOT, format, args));
    }

    private void warning(String format, Object... args) {
        warnings.add(String.format(Locale.ROOT, format, args));
    }
}
