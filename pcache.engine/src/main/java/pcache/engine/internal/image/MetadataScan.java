package pcache.engine.internal.image;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import pcache.api.CachePos;
import pcache.api.format.PcacheFormat;
import pcache.api.format.PcacheLayout;
import pcache.api.spi.CrcProvider;
import pcache.engine.internal.image.ImageSlots.Slot;
import pcache.engine.internal.media.CacheInfoCodec;
import pcache.engine.internal.media.CacheInfoCodec.CacheInfo;
import pcache.engine.internal.media.CachePosCodec;
import pcache.engine.internal.media.ExtensionCodec;
import pcache.engine.internal.media.ExtensionCodec.Extension;
import pcache.engine.internal.media.ExtensionCodec.Range;
import pcache.engine.internal.media.SuperblockCodec;
import pcache.engine.internal.media.SuperblockCodec.Superblock;

/**
 * The cache-wide records of an image, read as a cache reads them at start-up (reference §2.3,
 * §2.4): the superblock, cache_info, key_tail and dirty_tail, and pcache's extension record. Each
 * is dumped slot by slot; what a cache would refuse is an error, a damaged spare copy a warning.
 * Where a record is unusable the scan goes on with what the device most likely holds, so the
 * segments and the key log can still be read.
 */
final class MetadataScan {

    /** Bits in which a damaged extension record's magic may differ from ours and still be ours. */
    private static final int EXT_MAGIC_BITS_DAMAGED = 8;

    private final ImageFile image;
    private final CrcProvider crc;
    private final ScanReport report;

    private int segNum;
    private CacheInfo info;
    private CachePos keyTail;
    private CachePos dirtyTail;
    private boolean dirtyTailSpareDamaged;
    private Extension extension;

    MetadataScan(ImageFile image, CrcProvider crc, ScanReport report) {
        this.image = image;
        this.crc = crc;
        this.report = report;
    }

    /**
     * Reads every cache-wide record. Returns false when the image is no cache device at all (too
     * small, never formatted, or neither a superblock nor a cache_info of ours): nothing more can
     * be read.
     */
    boolean run() throws IOException {
        if (!superblock()) {
            return false;
        }
        cacheInfo();
        keyTail = position("key_tail", PcacheFormat.KEY_TAIL_OFF);
        dirtyTail = position("dirty_tail", PcacheFormat.DIRTY_TAIL_OFF);
        dirtyTailSpareDamaged = ImageSlots.read(image, crc, "dirty_tail", PcacheFormat.DIRTY_TAIL_OFF,
                PcacheLayout.CachePos.SIZE, PcacheLayout.CachePos.SIZE).damagedSpare() != null;
        readExtension();
        return true;
    }

    /** Segments on the device: the superblock's count, or as many as fit when that is wrong. */
    int segNum() {
        return segNum;
    }

    /** cache_info as a cache would use it, or an assumed one when no slot is valid. */
    CacheInfo info() {
        return info;
    }

    /** Where replay starts, or null when key_tail is unusable. */
    CachePos keyTail() {
        return keyTail;
    }

    /** The first kset not written back, or null when dirty_tail is unusable. */
    CachePos dirtyTail() {
        return dirtyTail;
    }

    /**
     * Whether dirty_tail's other slot is damaged, so {@link #dirtyTail} may be the older copy: a
     * cache then restarts write-back at key_tail when the log from key_tail does not reach it.
     */
    boolean dirtyTailSpareDamaged() {
        return dirtyTailSpareDamaged;
    }

    /** pcache's extension record, or null when there is none. */
    Extension extension() {
        return extension;
    }

    private boolean superblock() throws IOException {
        byte[] b = image.read(PcacheFormat.SB_OFF, PcacheLayout.Superblock.SIZE);
        Superblock sb = SuperblockCodec.decode(b);
        String where = "superblock at " + PcacheFormat.SB_OFF;
        int fits = PcacheFormat.segmentsFor(image.sizeBytes());
        if (image.sizeBytes() < PcacheFormat.SEGMENTS_OFF) {
            report.error("%s: the image has only %d bytes, less than the %d bytes of cache-wide metadata", where,
                    image.sizeBytes(), PcacheFormat.SEGMENTS_OFF);
            return false;
        }
        if (ImageSlots.allZero(b)) {
            report.line("%s: all zero", where);
            byte[] info = image.read(PcacheFormat.CACHE_INFO_OFF, PcacheFormat.CACHE_INFO_AREA);
            if (PcacheFormat.firstNonZero(info) >= 0) {
                // the rule the engine opens by: a zero superblock with a cache_info is damage
                report.error("%s: magic 0, but cache_info (at %d) is not all zero: the superblock of a cache that may"
                        + " hold data is damaged; the engine refuses to open it and does not format over it. To"
                        + " discard it and start an empty cache, zero the device's first 24 KiB", where,
                        PcacheFormat.CACHE_INFO_OFF);
                return false;
            }
            report.error("%s: magic 0: the image was never formatted as a cache device (a cache formats a device whose"
                    + " superblock magic is 0)", where);
            return false;
        }
        boolean magicOk = sb.magic() == PcacheFormat.SB_MAGIC;
        int computed = SuperblockCodec.crcOf(b, crc);
        boolean crcOk = computed == sb.storedCrc();
        report.line("%s: magic %s, crc %s, flags 0x%x, seg_num %d", where,
                magicOk ? "ok"
                        : String.format(Locale.ROOT, "0x%x WRONG (expected 0x%x)", sb.magic(), PcacheFormat.SB_MAGIC),
                crcOk ? String.format(Locale.ROOT, "ok (0x%08x)", computed)
                        : String.format(Locale.ROOT, "MISMATCH (stored 0x%08x, computed 0x%08x)", sb.storedCrc(),
                                computed),
                sb.flags(), sb.segNum());
        if (!magicOk) {
            report.error("%s: magic 0x%x is not dm-pcache's (0x%x): not a cache device, or its superblock is damaged",
                    where, sb.magic(), PcacheFormat.SB_MAGIC);
            ImageSlots infos = cacheInfoSlots();
            if (infos.current() == null) {
                report.line("no valid cache_info either: not a cache device; nothing more to read");
                return false;
            }
        }
        if (!crcOk) {
            report.error("%s: CRC mismatch (stored 0x%08x, computed 0x%08x): the superblock is damaged", where,
                    sb.storedCrc(), computed);
        }
        if ((sb.flags() & PcacheLayout.Superblock.FLAG_BIGENDIAN) != 0) {
            report.error("%s: flags 0x%x: formatted on a big-endian host; a little-endian host cannot use it", where,
                    sb.flags());
        }
        if (sb.segNum() <= 0 || sb.segNum() > fits) {
            report.error("%s: records %d segments but the image of %d bytes holds %d%s", where, sb.segNum(),
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
        report.line("cache_info (slots at %d and %d):", PcacheFormat.CACHE_INFO_OFF,
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
            report.line("  slot %d at %d: %s%s%s", i, s.offset(), s.verdict(), content,
                    s == current ? "  <- current" : "");
        }
        String where = "cache_info at " + PcacheFormat.CACHE_INFO_OFF;
        if (current == null) {
            report.error("%s: neither slot holds a valid record%s", where, slots.empty()
                    ? " (both are empty: formatting never finished; a cache would format this device again)"
                    : "; the cache cannot be opened");
            info = new CacheInfo(0, segNum, 0);
            report.line("  assuming the chain starts at physical segment 0 and has %d segments", segNum);
        } else {
            CacheInfo decoded = CacheInfoCodec.decode(current.bytes());
            Slot spare = slots.damagedSpare();
            if (spare != null) {
                report.warning("cache_info slot %d at %d: CRC mismatch: a damaged spare copy (the cache uses slot %d)",
                        spare.index(), spare.offset(), current.index());
            }
            if (decoded.firstSegment() < 0 || decoded.firstSegment() >= segNum || decoded.segmentCount() < 1
                    || decoded.segmentCount() > segNum) {
                report.error("cache_info slot %d at %d: first segment %d and %d segments do not fit the %d segments of"
                        + " the device", current.index(), current.offset(), decoded.firstSegment(),
                        decoded.segmentCount(), segNum);
                decoded = new CacheInfo(Math.max(0, Math.min(decoded.firstSegment(), segNum - 1)),
                        Math.max(1, Math.min(decoded.segmentCount(), segNum)), decoded.flags());
            }
            if (decoded.gcPercent() > 90) {
                report.warning("cache_info slot %d at %d: gc_percent %d is above the maximum of 90", current.index(),
                        current.offset(), decoded.gcPercent());
            }
            if (PcacheLayout.CacheInfo.modeName(decoded.mode()) == null) {
                report.warning("cache_info slot %d at %d: unknown cache mode %d in the flags", current.index(),
                        current.offset(), decoded.mode());
            }
            info = decoded;
        }
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
        report.line("%s (slots at %d and %d):", structure, offset, offset + PcacheLayout.CachePos.SIZE);
        Slot current = slots.current();
        for (int i = 0; i < PcacheFormat.META_SLOTS; i++) {
            Slot s = slots.slot(i);
            String content = s.state() == ImageSlots.State.EMPTY ? "" : ": " + CachePosCodec.decode(s.bytes());
            report.line("  slot %d at %d: %s%s%s", i, s.offset(), s.verdict(), content,
                    s == current ? "  <- current" : "");
        }
        if (current == null) {
            report.error("%s at %d: neither slot holds a valid record (dm-pcache: \"Corrupted key tail or dirty"
                    + " tail\"); the key log cannot be replayed", structure, offset);
            return null;
        }
        Slot spare = slots.damagedSpare();
        if (spare != null) {
            report.warning("%s slot %d at %d: CRC mismatch: a damaged spare copy (the cache uses slot %d)", structure,
                    spare.index(), spare.offset(), current.index());
        }
        CachePos pos = CachePosCodec.decode(current.bytes());
        if (pos.segment() < 0 || pos.segment() >= info.segmentCount() || pos.offset() < 0
                || pos.offset() > PcacheFormat.SEG_DATA_SIZE - PcacheLayout.KsetHeader.SIZE) {
            report.error("%s slot %d at %d: points to %s, outside the cache's %d segments of %d data bytes", structure,
                    current.index(), current.offset(), pos, info.segmentCount(), PcacheFormat.SEG_DATA_SIZE);
            return null;
        }
        return pos;
    }

    private void readExtension() throws IOException {
        ImageSlots slots = ImageSlots.read(image, crc, "pcache extension", PcacheFormat.EXT_OFF,
                PcacheLayout.Extension.SLOT_STRIDE, PcacheLayout.Extension.SIZE);
        String where = "pcache extension (slots at " + PcacheFormat.EXT_OFF + " and "
                + PcacheLayout.Extension.SLOT_STRIDE + ")";
        Slot current = slots.current();
        try {
            extension = current == null ? null : ExtensionCodec.decode(current.bytes());
        } catch (IllegalArgumentException e) {
            report.error("pcache extension slot %d at %d: records %s although its CRC matches: not written by pcache;"
                    + " the engine refuses to open the cache", current.index(), current.offset(), e.getMessage());
            extension = null;
            return;
        }
        for (int i = 0; i < PcacheFormat.META_SLOTS; i++) {
            Slot s = slots.slot(i);
            // a magic a few bits off ours is our record damaged there, not the unused area of an
            // image dm-pcache wrote (which holds whatever was on the device before)
            long magic = s.littleEndian().getLong(PcacheLayout.Extension.MAGIC);
            boolean ours = Long.bitCount(magic ^ PcacheLayout.Extension.MAGIC_VALUE) <= EXT_MAGIC_BITS_DAMAGED;
            if (s.state() == ImageSlots.State.DAMAGED && ours) {
                report.warning("pcache extension slot %d at %d: CRC mismatch: a damaged copy%s", i, s.offset(),
                        extension != null ? " (the cache uses the other slot)"
                                : "; the backing identity and quarantine it held are lost");
            }
        }
        if (extension == null) {
            report.line("%s: none (no valid record: written by dm-pcache, or never paired with a backing device)",
                    where);
            return;
        }
        report.line("%s: slot %d seq %d, crc ok", where, current.index(), current.seq());
        report.line("  backing identity: %s", extension.backing() == null ? "none recorded" : extension.backing());
        if (extension.quarantine().isEmpty()) {
            report.line("  quarantine: none");
        } else {
            StringBuilder ranges = new StringBuilder();
            for (Range r : extension.quarantine()) {
                ranges.append(" [").append(r.offset()).append(", +").append(r.length()).append(')');
            }
            report.line("  quarantine (%d):%s", extension.quarantine().size(), ranges);
            report.warning("pcache extension at %d: %d quarantined range(s) whose newest data was lost earlier:%s"
                    + " (reads of them fail until they are rewritten)", current.offset(),
                    extension.quarantine().size(), ranges);
        }
    }
}
