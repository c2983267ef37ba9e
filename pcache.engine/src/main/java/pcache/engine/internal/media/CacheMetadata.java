package pcache.engine.internal.media;

import java.io.IOException;
import java.util.List;

import pcache.api.CacheConfigurationException;
import pcache.api.CachePos;
import pcache.api.CorruptMediaException;
import pcache.api.format.PcacheFormat;
import pcache.api.format.PcacheLayout;
import pcache.api.spi.BackingIdentity;
import pcache.api.spi.CrcProvider;
import pcache.api.spi.PmemRegion;
import pcache.api.spi.ReplicatedRecord;
import pcache.api.spi.SegmentAllocator;
import pcache.engine.internal.media.CacheInfoCodec.CacheInfo;
import pcache.engine.internal.media.ExtensionCodec.Extension;
import pcache.engine.internal.media.ExtensionCodec.Range;
import pcache.engine.internal.media.SuperblockCodec.Superblock;

/**
 * The cache-wide metadata of one cache device: superblock, cache_info, key_tail, dirty_tail
 * (reference §2.3-2.5) and pcache's extension record. Knows how to format them and how to load and
 * validate them, with errors that name the structure and its offset.
 */
public final class CacheMetadata {

    private final PmemRegion region;
    private final CrcProvider crc;
    private final int segNum;
    private final int sbFlags;
    private ReplicatedRecord infoRecord;
    private ReplicatedRecord keyTailRecord;
    private ReplicatedRecord dirtyTailRecord;
    private ReplicatedRecord extRecord;
    private CacheInfo info;
    private volatile CachePos keyTail;
    private volatile CachePos dirtyTail;
    /** Whether both dirty_tail slots hold positions in dirty_tail's key segment (see {@link #storeDirtyTail}). */
    private boolean dirtyTailSlotsInOneSegment;
    private boolean dirtyTailOtherSlotDamaged;
    private volatile Extension extension;

    private CacheMetadata(PmemRegion region, CrcProvider crc, int segNum, int sbFlags) {
        this.region = region;
        this.crc = crc;
        this.segNum = segNum;
        this.sbFlags = sbFlags;
    }

    /** What the superblock says about a device. */
    public enum DeviceState {
        /** Magic 0: never formatted. */
        BLANK,
        /** A valid dm-pcache superblock. */
        FORMATTED
    }

    /**
     * Reads and validates the superblock.
     *
     * @return BLANK for an unformatted device, FORMATTED otherwise
     * @throws CorruptMediaException for a foreign or damaged superblock
     */
    public static DeviceState probe(PmemRegion region, CrcProvider crc) throws IOException {
        byte[] b = readSuperblock(region);
        Superblock sb = SuperblockCodec.decode(b);
        if (sb.magic() == 0) {
            // dm-pcache formats whenever the magic is 0; pcache only when cache_info is all zero
            // too: a superblock zeroed on a device that holds a cache (a stray write, a cleared
            // poisoned line) would otherwise have it formatted over, dirty data and all (a format
            // zeroes cache_info before it writes the superblock; a cache has a cache_info)
            // (the superblock's own other bytes say nothing: a format cut off while writing it can
            // leave its CRC or seg_num without the magic, and is formatted again)
            byte[] info = new byte[PcacheFormat.CACHE_INFO_AREA];
            region.read(PcacheFormat.CACHE_INFO_OFF, info, 0, info.length);
            int nonZero = PcacheFormat.firstNonZero(info);
            if (nonZero >= 0) {
                long held = PcacheFormat.CACHE_INFO_OFF + nonZero;
                throw new CorruptMediaException("superblock", PcacheFormat.SB_OFF, "magic 0, but the device is not"
                        + " blank (a non-zero byte at device offset " + held + "): the superblock of a cache that may"
                        + " hold data is damaged, and pcache does not format over it. pcache:fsck shows what the"
                        + " device holds; to discard it and start an empty cache, zero its first 24 KiB");
            }
            return DeviceState.BLANK;
        }
        if (sb.magic() != PcacheFormat.SB_MAGIC) {
            throw new CorruptMediaException("superblock", PcacheFormat.SB_OFF, "magic 0x"
                    + Long.toHexString(sb.magic()) + " is not dm-pcache's (0x" + Long.toHexString(PcacheFormat.SB_MAGIC)
                    + "): the device holds something else. To use it as a cache anyway, zero its first"
                    + " 24 KiB (this destroys what it holds)");
        }
        if (!SuperblockCodec.crcMatches(b, crc)) {
            throw new CorruptMediaException("superblock", PcacheFormat.SB_OFF, "CRC mismatch (stored 0x"
                    + Integer.toHexString(sb.storedCrc()) + ", computed 0x"
                    + Integer.toHexString(SuperblockCodec.crcOf(b, crc))
                    + "): the superblock is damaged; pcache:fsck shows what else is");
        }
        if ((sb.flags() & PcacheLayout.Superblock.FLAG_BIGENDIAN) != 0) {
            throw new CorruptMediaException("superblock", PcacheFormat.SB_OFF,
                    "the cache was formatted on a big-endian host and cannot be used on this one");
        }
        int fits = PcacheFormat.segmentsFor(region.sizeBytes());
        if (sb.segNum() <= 0 || sb.segNum() > fits) {
            throw new CorruptMediaException("superblock", PcacheFormat.SB_OFF, "records " + sb.segNum()
                    + " segments but the device of " + region.sizeBytes() + " bytes holds " + fits
                    + (sb.segNum() > fits ? ": the device was truncated or is not the one formatted" : ""));
        }
        return DeviceState.FORMATTED;
    }

    private static byte[] readSuperblock(PmemRegion region) throws IOException {
        byte[] b = new byte[PcacheLayout.Superblock.SIZE];
        region.read(PcacheFormat.SB_OFF, b, 0, b.length);
        return b;
    }

    /** Segments recorded in a formatted device's superblock. */
    public static int segNum(PmemRegion region) throws IOException {
        return SuperblockCodec.decode(readSuperblock(region)).segNum();
    }

    /** Writes a new superblock and zeroes cache_info and cache_ctrl. */
    public static void writeSuperblock(PmemRegion region, CrcProvider crc, int segNum) throws IOException {
        region.fill(PcacheFormat.CACHE_INFO_OFF, 3L * PcacheFormat.CACHE_INFO_SLOT_STRIDE, (byte) 0);
        region.flush(PcacheFormat.CACHE_INFO_OFF, 3L * PcacheFormat.CACHE_INFO_SLOT_STRIDE);
        region.fence();
        byte[] sb = SuperblockCodec.encode(0, segNum, crc);
        region.write(PcacheFormat.SB_OFF, sb, 0, sb.length);
        region.flush(PcacheFormat.SB_OFF, sb.length);
        region.fence();
    }

    /** Metadata of a device whose superblock is valid; records are attached with {@link #attach}. */
    public static CacheMetadata forDevice(PmemRegion region, CrcProvider crc) throws IOException {
        Superblock sb = SuperblockCodec.decode(readSuperblock(region));
        return new CacheMetadata(region, crc, sb.segNum(), sb.flags());
    }

    /** Creates the replicated records through the segment layer's slot machinery. */
    public void attach(SegmentAllocator segments) {
        infoRecord = segments.record("cache_info", PcacheFormat.CACHE_INFO_OFF,
                PcacheFormat.CACHE_INFO_SLOT_STRIDE, PcacheLayout.CacheInfo.SIZE);
        keyTailRecord = segments.record("key_tail", PcacheFormat.KEY_TAIL_OFF, PcacheLayout.CachePos.SIZE,
                PcacheLayout.CachePos.SIZE);
        dirtyTailRecord = segments.record("dirty_tail", PcacheFormat.DIRTY_TAIL_OFF, PcacheLayout.CachePos.SIZE,
                PcacheLayout.CachePos.SIZE);
        extRecord = segments.record("pcache extension", PcacheFormat.EXT_OFF, PcacheLayout.Extension.SLOT_STRIDE,
                PcacheLayout.Extension.SIZE);
    }

    public int segNum() {
        return segNum;
    }

    public int sbFlags() {
        return sbFlags;
    }

    /**
     * Loads cache_info. Returns null when both slots are all zero (a format that never finished:
     * dm-pcache writes cache_info last), so the caller formats.
     *
     * @throws CorruptMediaException when the slots hold damaged data
     */
    public CacheInfo loadInfo() throws IOException {
        byte[] raw = infoRecord.load();
        if (raw == null) {
            for (int slot = 0; slot < PcacheFormat.META_SLOTS; slot++) {
                byte[] b = new byte[PcacheLayout.CacheInfo.SIZE];
                long at = PcacheFormat.CACHE_INFO_OFF + (long) slot * PcacheFormat.CACHE_INFO_SLOT_STRIDE;
                region.read(at, b, 0, b.length);
                for (byte x : b) {
                    if (x != 0) {
                        throw new CorruptMediaException("cache_info", at, "neither slot has a valid CRC;"
                                + " refusing to re-format a cache that may hold data (pcache:fsck shows the"
                                + " damage; to discard it and start an empty cache, zero the device's first 24 KiB)");
                    }
                }
            }
            return null;
        }
        CacheInfo decoded = CacheInfoCodec.decode(raw);
        long at = PcacheFormat.CACHE_INFO_OFF + (long) infoRecord.currentSlot() * PcacheFormat.CACHE_INFO_SLOT_STRIDE;
        if (decoded.firstSegment() < 0 || decoded.firstSegment() >= segNum || decoded.segmentCount() < 1
                || decoded.segmentCount() > segNum) {
            throw new CorruptMediaException("cache_info", at, "first segment " + decoded.firstSegment() + " and "
                    + decoded.segmentCount() + " segments do not fit the device's " + segNum + " segments");
        }
        info = decoded;
        return decoded;
    }

    /** Sets and persists cache_info. */
    public void storeInfo(CacheInfo newInfo) throws IOException {
        infoRecord.store(CacheInfoCodec.encode(newInfo));
        info = newInfo;
    }

    public CacheInfo info() {
        return info;
    }

    /** The first cache_info of a new cache: stored in slot 1 with seq 1, as dm-pcache does. */
    public void formatInfo(CacheInfo newInfo) throws IOException {
        infoRecord.reset(0, 0);
        storeInfo(newInfo);
    }

    /**
     * Initial key_tail and dirty_tail of a new cache: (0, 0) in slot 0 with seq 1, as dm-pcache
     * does. Both slots are zeroed first: a format over a device whose cache_info was gone finds
     * the tails of the cache before, and one of those with a later sequence number would win over
     * the new tails at the next open.
     */
    public void formatTails() throws IOException {
        region.fill(PcacheFormat.CACHE_CTRL_OFF, PcacheFormat.CACHE_CTRL_SIZE, (byte) 0);
        region.flush(PcacheFormat.CACHE_CTRL_OFF, PcacheFormat.CACHE_CTRL_SIZE);
        region.fence();
        CachePos start = new CachePos(0, 0);
        keyTailRecord.reset(1, 0);
        keyTailRecord.store(CachePosCodec.encode(start));
        dirtyTailRecord.reset(1, 0);
        dirtyTailRecord.store(CachePosCodec.encode(start));
        keyTail = start;
        dirtyTail = start;
        dirtyTailSlotsInOneSegment = false; // one slot holds the start, the other nothing
    }

    /** Loads key_tail and dirty_tail, checking they point inside the cache. */
    public void loadTails(int cacheSegments) throws IOException {
        keyTail = loadPos(keyTailRecord, PcacheFormat.KEY_TAIL_OFF, cacheSegments);
        dirtyTail = loadPos(dirtyTailRecord, PcacheFormat.DIRTY_TAIL_OFF, cacheSegments);
        dirtyTailSlotsInOneSegment = false;
        dirtyTailOtherSlotDamaged = otherSlotDamaged(dirtyTailRecord, PcacheFormat.DIRTY_TAIL_OFF,
                PcacheLayout.CachePos.SIZE, PcacheLayout.CachePos.SIZE);
    }

    /**
     * Whether the slot of {@code record} that {@link ReplicatedRecord#load} did not choose holds a
     * damaged copy (not all zero, as a never-written slot is, and failing its CRC): then the copy
     * in use may be the older one.
     */
    private boolean otherSlotDamaged(ReplicatedRecord record, long at, int stride, int size) throws IOException {
        byte[] b = new byte[size];
        region.read(at + (long) (1 - record.currentSlot()) * stride, b, 0, size);
        boolean zero = true;
        for (byte x : b) {
            zero &= x == 0;
        }
        int stored = (b[0] & 0xFF) | (b[1] & 0xFF) << 8 | (b[2] & 0xFF) << 16 | (b[3] & 0xFF) << 24;
        int start = PcacheLayout.MetaHeader.CRC_START;
        return !zero && stored != crc.checksum(b, start, size - start);
    }

    /**
     * Whether dirty_tail's other slot is damaged, so the dirty_tail loaded may be the older copy
     * (at most one write-back batch behind the lost newest one) and key_tail may have passed it.
     */
    public boolean dirtyTailMayBeOlderCopy() {
        return dirtyTailOtherSlotDamaged;
    }

    /**
     * Makes key_tail the dirty_tail of the open cache, in memory only: used when the older copy
     * of dirty_tail is behind key_tail. The newest dirty_tail then lay at or after key_tail, so
     * every kset from key_tail is treated as dirty (ksets already written back are written back
     * again, which changes nothing on the backing device). The next store of dirty_tail goes to
     * the damaged slot.
     */
    public void restartWritebackAtKeyTail() {
        dirtyTail = keyTail;
        dirtyTailSlotsInOneSegment = false;
    }

    private static CachePos loadPos(ReplicatedRecord record, long at, int cacheSegments) throws IOException {
        byte[] raw = record.load();
        if (raw == null) {
            throw new CorruptMediaException(record.structure(), at, "neither slot has a valid CRC"
                    + " (dm-pcache: \"Corrupted key tail or dirty tail\"); the log cannot be replayed");
        }
        CachePos pos = CachePosCodec.decode(raw);
        if (pos.segment() < 0 || pos.segment() >= cacheSegments || pos.offset() < 0
                || pos.offset() > PcacheFormat.SEG_DATA_SIZE - PcacheLayout.KsetHeader.SIZE) {
            long slotAt = at + (long) record.currentSlot() * PcacheLayout.CachePos.SIZE;
            throw new CorruptMediaException(record.structure(), slotAt,
                    "points to " + pos + ", outside the cache's " + cacheSegments + " segments of "
                            + PcacheFormat.SEG_DATA_SIZE + " data bytes");
        }
        return pos;
    }

    public CachePos keyTail() {
        return keyTail;
    }

    public CachePos dirtyTail() {
        return dirtyTail;
    }

    /**
     * Stores key_tail into both slots, then publishes it: the older copy, which a damaged newest
     * one makes replay use, must never point at a kset GC has passed (its segments may be
     * reclaimed, a key segment released and taken again).
     */
    public void storeKeyTail(CachePos pos) throws IOException {
        keyTailRecord.store(CachePosCodec.encode(pos));
        keyTailRecord.store(CachePosCodec.encode(pos));
        keyTail = pos;
    }

    /**
     * Stores dirty_tail. Into both slots when it moves to another key segment, and at the first
     * store since the device was loaded (the older slot's copy is then not known to be in the same
     * segment): the older copy, which a damaged newest one makes replay use, must never point into
     * a segment that GC may release (once key_tail leaves it too) and the key log take again. The
     * position is published (GC reads it) only once both stores are done.
     */
    public void storeDirtyTail(CachePos pos) throws IOException {
        boolean both = !dirtyTailSlotsInOneSegment || pos.segment() != dirtyTail.segment();
        dirtyTailRecord.store(CachePosCodec.encode(pos));
        if (both) {
            dirtyTailRecord.store(CachePosCodec.encode(pos));
            dirtyTailSlotsInOneSegment = true;
        }
        dirtyTail = pos;
    }

    /**
     * Loads the extension record of a device being formatted, which is about to be replaced: one
     * that cannot be decoded does not stop the format.
     */
    public void loadExtensionToReplace() throws IOException {
        try {
            loadExtension();
        } catch (CorruptMediaException e) {
            extension = new Extension(null, List.of());
        }
    }

    /** Loads pcache's extension record; an absent or foreign one reads as "nothing recorded". */
    public Extension loadExtension() throws IOException {
        byte[] raw = extRecord.load();
        Extension ext;
        try {
            ext = raw == null ? null : ExtensionCodec.decode(raw);
        } catch (IllegalArgumentException e) {
            long at = PcacheFormat.EXT_OFF + (long) extRecord.currentSlot() * PcacheLayout.Extension.SLOT_STRIDE;
            throw new CorruptMediaException("pcache extension", at, "records " + e.getMessage() + " although its CRC"
                    + " matches: not written by pcache. pcache:fsck shows it; zeroing the device's first 4 KiB drops"
                    + " the record (the cache then takes its backing device's size, as dm-pcache does, and forgets"
                    + " its quarantined ranges, whose reads would then return older data)");
        }
        extension = ext != null ? ext : new Extension(null, List.of());
        return extension;
    }

    public Extension extension() {
        return extension;
    }

    /**
     * Records the extension of a cache being formatted: its backing device's identity, and no
     * quarantined range (those of a cache that was on the device before belong to its data, which
     * the format discards).
     */
    public void storeFormattedExtension(BackingIdentity identity) throws IOException {
        storeExtension(new Extension(identity, List.of()));
    }

    /**
     * Records the backing identity (first pairing, or a forced re-pairing). The record is built
     * from the one stored last under the same lock as the store, so that a quarantine stored at
     * the same time is never overwritten by an older list (nor the identity by an older one).
     */
    public synchronized void storeBackingIdentity(BackingIdentity identity) throws IOException {
        storeExtension(new Extension(identity, extension == null ? List.of() : extension.quarantine()));
    }

    public synchronized void storeQuarantine(List<Range> quarantine) throws IOException {
        storeExtension(new Extension(extension == null ? null : extension.backing(), quarantine));
    }

    private synchronized void storeExtension(Extension ext) throws IOException {
        extRecord.store(ExtensionCodec.encode(ext));
        extension = ext;
    }

    /** Checks the configuration agrees with what the device records. */
    public static void checkDataCrc(CacheInfo info, boolean configured) throws CacheConfigurationException {
        if (info.dataCrc() != configured) {
            throw new CacheConfigurationException("data_crc=" + configured + " is configured, but the cache"
                    + " device was formatted with data_crc=" + info.dataCrc()
                    + "; data_crc is fixed at format time: set data_crc=" + info.dataCrc()
                    + " or format a new cache device");
        }
    }
}
