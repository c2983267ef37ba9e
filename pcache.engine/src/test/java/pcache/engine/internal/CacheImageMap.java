package pcache.engine.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import pcache.api.CachePos;
import pcache.api.format.PcacheFormat;
import pcache.api.format.PcacheLayout;
import pcache.api.spi.CacheKey;
import pcache.api.spi.KeyIndex;
import pcache.api.spi.KeySlice;
import pcache.api.spi.Kset;
import pcache.api.spi.PmemRegion;
import pcache.engine.internal.image.ImageFile;
import pcache.engine.internal.image.ImageSlots;
import pcache.engine.internal.media.CacheInfoCodec;
import pcache.engine.internal.media.CachePosCodec;
import pcache.keyindex.internal.KsetCodec;
import pcache.keyindex.internal.StripedKeyIndexProvider;

/**
 * Where every structure of a cleanly closed pcache image lives (reference §2), read independently
 * of the engine: the replicated records with the state of each slot, the key log from key_tail
 * (each kset with its device offset and whether it is before dirty_tail), and the cached extents
 * a replay would index (newest key wins, stale generations dropped), with their device bytes.
 * Tests pick areas to damage from it. Assumes pcache's own layout: cache segment i is physical i.
 */
final class CacheImageMap {

    /** One slot of a replicated record: where it is and what it held before any damage. */
    record SlotInfo(String structure, long recordOffset, long offset, int size, ImageSlots.State state,
            boolean current, boolean otherValid) {
    }

    /** A kset of the log; {@code dirty} when at or after dirty_tail. */
    record KsetInfo(CachePos pos, long deviceOffset, int size, boolean last, boolean dirty, int keys) {
    }

    /**
     * An extent replay would index, as {@code [logical, +length)} at {@code deviceOffset}; its data
     * CRC covers {@code [crcOffset, +crcLength)} (the whole extent the key was written with).
     */
    record Extent(long logical, int length, long deviceOffset, boolean clean, long crcOffset, int crcLength,
            int segment, long generation) {

        boolean covers(long device) {
            return device >= deviceOffset && device < deviceOffset + length;
        }

        boolean crcCovers(long device) {
            return device >= crcOffset && device < crcOffset + crcLength;
        }
    }

    final int segments;
    final CachePos keyTail;
    final CachePos dirtyTail;
    final List<KsetInfo> ksets = new ArrayList<>();
    final List<Extent> extents = new ArrayList<>();
    final List<SlotInfo> slots = new ArrayList<>();
    final boolean dataCrc;
    /** Per cache segment, the newest generation a key record on the log carries for it (-1: none). */
    final long[] newestKeyGeneration;

    private CacheImageMap(int segments, CachePos keyTail, CachePos dirtyTail, boolean dataCrc) {
        this.segments = segments;
        this.keyTail = keyTail;
        this.dirtyTail = dirtyTail;
        this.dataCrc = dataCrc;
        this.newestKeyGeneration = new long[segments];
        java.util.Arrays.fill(newestKeyGeneration, -1);
    }

    static long dataOffset(int segment) {
        return PcacheFormat.segmentOffset(segment) + PcacheFormat.SEG_DATA_OFF;
    }

    /** Maps the image in {@code region} (a cache pcache formatted and closed cleanly). */
    static CacheImageMap of(PmemRegion region, long logicalBytes) throws IOException {
        ImageFile image = ImageFile.of(region);
        ImageSlots info = ImageSlots.read(image, Harness.CRC, "cache_info", PcacheFormat.CACHE_INFO_OFF,
                PcacheFormat.CACHE_INFO_SLOT_STRIDE, PcacheFormat.CACHE_INFO_STRUCT_SIZE);
        ImageSlots keyTail = ImageSlots.read(image, Harness.CRC, "key_tail", PcacheFormat.KEY_TAIL_OFF,
                PcacheFormat.POS_STRUCT_SIZE, PcacheFormat.POS_STRUCT_SIZE);
        ImageSlots dirtyTail = ImageSlots.read(image, Harness.CRC, "dirty_tail", PcacheFormat.DIRTY_TAIL_OFF,
                PcacheFormat.POS_STRUCT_SIZE, PcacheFormat.POS_STRUCT_SIZE);
        ImageSlots ext = ImageSlots.read(image, Harness.CRC, "pcache extension", PcacheFormat.EXT_OFF,
                PcacheLayout.Extension.SLOT_STRIDE, PcacheLayout.Extension.SIZE);
        CacheInfoCodec.CacheInfo ci = CacheInfoCodec.decode(info.current().bytes());
        if (ci.firstSegment() != 0) {
            throw new IllegalStateException("not a pcache-formatted image: chain starts at " + ci.firstSegment());
        }
        CacheImageMap map = new CacheImageMap(ci.segmentCount(), CachePosCodec.decode(keyTail.current().bytes()),
                CachePosCodec.decode(dirtyTail.current().bytes()), ci.dataCrc());
        map.addSlots(info, PcacheFormat.CACHE_INFO_STRUCT_SIZE);
        map.addSlots(keyTail, PcacheFormat.POS_STRUCT_SIZE);
        map.addSlots(dirtyTail, PcacheFormat.POS_STRUCT_SIZE);
        map.addSlots(ext, PcacheLayout.Extension.SIZE);
        long[] gens = new long[map.segments];
        for (int s = 0; s < map.segments; s++) {
            long base = PcacheFormat.segmentOffset(s);
            ImageSlots segInfo = ImageSlots.read(image, Harness.CRC, "segment_info", base,
                    PcacheFormat.SEG_INFO_SLOT_STRIDE, PcacheFormat.SEG_INFO_STRUCT_SIZE);
            ImageSlots gen = ImageSlots.read(image, Harness.CRC, "segment generation", base + PcacheFormat.SEG_GEN_OFF,
                    PcacheFormat.SEG_GEN_STRUCT_SIZE, PcacheFormat.SEG_GEN_STRUCT_SIZE);
            map.addSlots(segInfo, PcacheFormat.SEG_INFO_STRUCT_SIZE);
            map.addSlots(gen, PcacheFormat.SEG_GEN_STRUCT_SIZE);
            gens[s] = gen.current().littleEndian().getLong(8);
        }
        map.walkLog(region, gens, logicalBytes);
        return map;
    }

    private void addSlots(ImageSlots record, int size) {
        for (int i = 0; i < PcacheFormat.META_SLOTS; i++) {
            ImageSlots.Slot s = record.slot(i);
            ImageSlots.Slot other = record.slot(1 - i);
            slots.add(new SlotInfo(record.structure(), record.slot(0).offset(), s.offset(), size, s.state(),
                    record.current() == s, other.state() == ImageSlots.State.VALID));
        }
    }

    /** Walks the log as replay does and indexes its keys as replay does. */
    private void walkLog(PmemRegion region, long[] gens, long logicalBytes) throws IOException {
        KeyIndex index = new StripedKeyIndexProvider().createIndex(logicalBytes);
        CachePos pos = keyTail;
        boolean dirty = false;
        while (true) {
            dirty |= pos.equals(dirtyTail);
            long base = dataOffset(pos.segment()) + pos.offset();
            ByteBuffer header = ByteBuffer.allocate(PcacheFormat.KSET_HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
            region.read(base, header);
            KsetCodec.HeaderCheck check = KsetCodec.checkHeader(header.flip(), Harness.CRC);
            if (check == KsetCodec.HeaderCheck.LAST) {
                ksets.add(new KsetInfo(pos, base, PcacheFormat.KSET_HEADER_SIZE, true, dirty, 0));
                pos = new CachePos(KsetCodec.keyNumOrNext(header), 0);
                continue;
            }
            if (check != KsetCodec.HeaderCheck.KEYS) {
                break;
            }
            int size = KsetCodec.size(KsetCodec.keyNumOrNext(header));
            ByteBuffer body = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
            region.read(base, body);
            Kset k = KsetCodec.decodeBody(pos, body.flip(), Harness.CRC);
            if (k == null) {
                break;
            }
            ksets.add(new KsetInfo(pos, base, size, false, dirty, k.keys().size()));
            for (CacheKey key : k.keys()) {
                newestKeyGeneration[key.segment()] = Math.max(newestKeyGeneration[key.segment()], key.generation());
                if (key.generation() < gens[key.segment()]) {
                    continue;
                }
                if (!dirty) {
                    key.markClean();
                }
                KeySlice slice = index.slice(key.offset());
                slice.lock();
                try {
                    slice.insert(key, x -> x.generation() >= gens[x.segment()]);
                } finally {
                    slice.unlock();
                }
            }
            pos = k.next();
        }
        index.forEach(k -> extents.add(new Extent(k.offset(), k.length(),
                dataOffset(k.segment()) + k.segmentOffset(), k.isClean(), dataOffset(k.segment()) + k.crcSegmentOffset(),
                k.crcLength(), k.segment(), k.generation())));
    }

    /** The slots of {@code structure} (as {@link ImageSlots} names it). */
    List<SlotInfo> slots(String structure) {
        return slots.stream().filter(s -> s.structure().equals(structure)).toList();
    }
}
