package pcache.engine.internal.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

import pcache.api.format.PcacheFormat;
import pcache.api.format.PcacheLayout;
import pcache.api.spi.CrcProvider;
import pcache.engine.internal.image.ImageSlots.Slot;
import pcache.engine.internal.media.CacheInfoCodec.CacheInfo;

/**
 * The chain of cache segments of an image (reference §2.3, §2.4): from cache_info's first
 * segment along each segment_info's link, with every segment's generation. A broken link is an
 * error; the scan then assumes the next physical segment (dm-pcache allocates them in order), so
 * as much of the cache as possible is mapped for the key log scan.
 */
final class SegmentChainScan {

    /** One segment as printed: consecutive segments with equal rows are printed as one range. */
    private record SegmentRow(int cacheId, int physicalId, String link, String type, String info, String gen) {
        boolean continues(SegmentRow previous, int count) {
            return previous != null && physicalId - cacheId == previous.physicalId - previous.cacheId
                    && cacheId == previous.cacheId + count && link.equals(previous.link) && type.equals(previous.type)
                    && info.equals(previous.info) && gen.equals(previous.gen);
        }
    }

    /** What a segment's segment_info says: where the chain goes on, and the row's link and type. */
    private record Link(int next, String link, String type) {
    }

    private final ImageFile image;
    private final CrcProvider crc;
    private final ScanReport report;
    private final int segNum;
    private final CacheInfo info;
    private final SegmentMap map;

    /** The record that links to the segment being read (for the message of a broken link). */
    private String linkStructure = "cache_info";
    private long linkOffset = PcacheFormat.CACHE_INFO_OFF;

    SegmentChainScan(ImageFile image, CrcProvider crc, ScanReport report, int segNum, CacheInfo info) {
        this.image = image;
        this.crc = crc;
        this.report = report;
        this.segNum = segNum;
        this.info = info;
        this.map = new SegmentMap(info.segmentCount());
    }

    /** Follows the chain, dumping it; returns where each cache segment lies. */
    SegmentMap run() throws IOException {
        int n = info.segmentCount();
        BitSet visited = new BitSet(segNum);
        report.line("segments: %d in the chain from physical segment %d (of %d on the device)", n,
                info.firstSegment(), segNum);
        List<SegmentRow> rows = new ArrayList<>();
        int phys = info.firstSegment();
        for (int i = 0; i < n; i++) {
            if (phys < 0 || phys >= segNum || visited.get(phys)) {
                phys = brokenLink(i, phys, visited);
                if (phys < 0) {
                    map.unknownFrom(i);
                    break;
                }
            }
            visited.set(phys);
            map.place(i, phys);
            long base = PcacheFormat.segmentOffset(phys);
            if (base + PcacheFormat.SEG_SIZE > image.sizeBytes()) {
                report.error("cache segment %d (physical %d) at %d lies beyond the end of the image (%d bytes): the"
                        + " image is truncated", i, phys, base, image.sizeBytes());
                rows.add(new SegmentRow(i, phys, "?", "?", "beyond the end of the image", "?"));
                phys = phys + 1;
                continue;
            }
            String name = "cache segment " + i + " (physical " + phys + ")";
            ImageSlots infoSlots = ImageSlots.read(image, crc, "segment_info", base,
                    PcacheFormat.SEG_INFO_SLOT_STRIDE, PcacheLayout.SegmentInfo.SIZE);
            String genText = generation(i, name, base);
            Link link = segmentInfo(i, phys, name, base, infoSlots);
            rows.add(new SegmentRow(i, phys, link.link(), link.type(), "info " + infoSlots.compact(), genText));
            phys = link.next();
        }
        printSegmentRows(rows);
        return map;
    }

    /**
     * Reports a link to a physical segment that does not exist or is already in the chain.
     * Returns the physical segment to assume instead, or -1 when there is none.
     */
    private int brokenLink(int i, int phys, BitSet visited) {
        int assumed = i < segNum && !visited.get(i) ? i : -1;
        report.error("%s at %d links cache segment %d to physical segment %d, which %s: the segment chain is"
                + " broken%s", linkStructure, linkOffset, i, phys,
                phys >= 0 && phys < segNum ? "is already in the chain" : "is outside the device's " + segNum
                        + " segments",
                assumed < 0 ? "" : "; assuming physical segment " + assumed + " (dm-pcache allocates them in"
                        + " order)");
        return assumed;
    }

    /** Reads the generation of cache segment {@code i} into the map; returns its text for the row. */
    private String generation(int i, String name, long base) throws IOException {
        ImageSlots genSlots = ImageSlots.read(image, crc, "segment generation", base + PcacheFormat.SEG_GEN_OFF,
                PcacheLayout.SegmentGen.SIZE, PcacheLayout.SegmentGen.SIZE);
        if (genSlots.current() == null) {
            report.error("segment generation of %s at %d: neither slot holds a valid record; stale keys of this"
                    + " segment cannot be told from live ones", name, base + PcacheFormat.SEG_GEN_OFF);
            return "gen ? (" + genSlots.compact() + ")";
        }
        long gen = genSlots.current().littleEndian().getLong(PcacheLayout.SegmentGen.GEN);
        map.generation(i, gen);
        Slot spare = genSlots.damagedSpare();
        if (spare != null) {
            report.warning("segment generation of %s slot %d at %d: CRC mismatch: a damaged spare copy", name,
                    spare.index(), spare.offset());
        }
        return "gen " + gen + " (" + genSlots.compact() + ")";
    }

    /** Checks the segment_info of cache segment {@code i} and finds where the chain goes on. */
    private Link segmentInfo(int i, int phys, String name, long base, ImageSlots infoSlots) {
        int n = info.segmentCount();
        Slot infoSlot = infoSlots.current();
        if (infoSlot == null) {
            report.error("segment_info of %s at %d: neither slot holds a valid record; the chain cannot be"
                    + " followed%s", name, base, i < n - 1 ? " (assuming physical segment " + (phys + 1)
                            + " comes next)" : "");
            return new Link(phys + 1, "?", "?");
        }
        ByteBuffer b = infoSlot.littleEndian();
        int flags = b.getInt(PcacheLayout.SegmentInfo.FLAGS);
        int t = PcacheLayout.SegmentInfo.type(flags);
        boolean hasNext = (flags & PcacheLayout.SegmentInfo.FLAG_HAS_NEXT) != 0;
        if (t != PcacheLayout.SegmentInfo.TYPE_CACHE_DATA) {
            report.error("segment_info of %s slot %d at %d: type %d, expected %d (cache data)", name,
                    infoSlot.index(), infoSlot.offset(), t, PcacheLayout.SegmentInfo.TYPE_CACHE_DATA);
        }
        Slot spare = infoSlots.damagedSpare();
        if (spare != null) {
            report.warning("segment_info of %s slot %d at %d: CRC mismatch: a damaged spare copy", name,
                    spare.index(), spare.offset());
        }
        int next = phys + 1;
        String link;
        if (hasNext) {
            next = b.getInt(PcacheLayout.SegmentInfo.NEXT_SEG);
            link = next == phys + 1 ? "next: the following" : "next: physical " + next;
        } else {
            link = "last";
            if (i < n - 1) {
                report.error("segment_info of %s slot %d at %d: the chain ends here but cache_info records %d"
                        + " segments (assuming physical segment %d comes next)", name, infoSlot.index(),
                        infoSlot.offset(), n, phys + 1);
            }
        }
        linkStructure = "segment_info of " + name;
        linkOffset = infoSlot.offset();
        return new Link(next, link, "type " + t);
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
            report.line("  %-9s physical %-9s %s, %s, %s, %s", ids, phys, first.type(), first.link(), first.info(),
                    first.gen());
            i += count;
        }
    }
}
