package pcache.segment.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import pcache.api.format.PcacheFormat;
import pcache.api.spi.CrcProvider;
import pcache.api.spi.PmemRegion;
import pcache.api.spi.SegmentContext;
import pcache.api.spi.SegmentListener;
import pcache.crc.internal.PcacheCrc32c;
import pcache.pmem.internal.HeapPmemProvider;

/**
 * A small cache device in heap memory (20 KiB of headers plus {@code segments} segments, touched
 * lazily) with the real dm-pcache CRC, recording every reclamation the allocator reports.
 */
final class TestDevice implements SegmentContext {

    final PmemRegion region;
    final CrcProvider crc = new PcacheCrc32c();
    final int segments;
    final List<Integer> reclaimed = new CopyOnWriteArrayList<>();

    TestDevice(int segments) throws IOException {
        this(new HeapPmemProvider().open(Path.of("/virtual/segment-test"), PcacheFormat.segmentOffset(segments)),
                segments);
    }

    TestDevice(PmemRegion region, int segments) {
        this.region = region;
        this.segments = segments;
    }

    @Override
    public PmemRegion region() {
        return region;
    }

    @Override
    public CrcProvider crc() {
        return crc;
    }

    @Override
    public int deviceSegments() {
        return segments;
    }

    @Override
    public SegmentListener listener() {
        return reclaimed::add;
    }

    FifoSegmentAllocator allocator() {
        return new FifoSegmentAllocator(this);
    }

    /** A new allocator over a chain of every segment, formatted from physical segment 0. */
    FifoSegmentAllocator formatted() throws IOException {
        FifoSegmentAllocator a = allocator();
        a.format(0, segments);
        return a;
    }

    byte[] bytes(long offset, int length) throws IOException {
        byte[] b = new byte[length];
        region.read(offset, b, 0, length);
        return b;
    }

    void write(long offset, byte[] b) throws IOException {
        region.write(offset, b, 0, b.length);
    }

    /** Flips one bit of the byte at {@code offset}. */
    void corrupt(long offset) throws IOException {
        byte[] b = bytes(offset, 1);
        b[0] ^= 0x10;
        write(offset, b);
    }

    /** The segment_info slot record of physical segment {@code phys}, not loaded yet. */
    SlotRecord infoRecord(int phys) {
        return new SlotRecord(region, crc, "segment_info", PcacheFormat.segmentOffset(phys),
                PcacheFormat.SEG_INFO_SLOT_STRIDE, PcacheFormat.SEG_INFO_STRUCT_SIZE);
    }

    /** The generation slot record of physical segment {@code phys}, not loaded yet. */
    SlotRecord genRecord(int phys) {
        return new SlotRecord(region, crc, "segment generation",
                PcacheFormat.segmentOffset(phys) + PcacheFormat.SEG_GEN_OFF, PcacheFormat.SEG_GEN_STRUCT_SIZE,
                PcacheFormat.SEG_GEN_STRUCT_SIZE);
    }

    /**
     * Replaces the segment_info of physical segment {@code phys} by a valid copy (newer than the
     * current one) holding {@code flags} and {@code next}.
     */
    void rewriteInfo(int phys, int flags, int next) throws IOException {
        SlotRecord r = infoRecord(phys);
        if (r.load() == null) {
            r.reset(0, 0);
        }
        r.store(SegmentInfoCodec.encode(new SegmentInfoCodec.SegmentInfo(flags, next)));
    }

    static int le32(byte[] b, int at) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getInt(at);
    }
}
