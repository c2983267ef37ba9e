package pcache.segment.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import pcache.api.format.PcacheFormat;
import pcache.pmem.internal.HeapPmemProvider;
import pcache.testkit.KernelFixtures;

/**
 * Segment metadata as the Linux kernel wrote it: the dirty-nocrc fixture (47 segments, see the
 * fixture's README). Only the first three segments are read from the compressed image.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class KernelImageSegmentTest {

    private static final String IMAGE = "dirty-nocrc/cachedev.img.gz";
    private static final int SEGMENTS = 3;

    private TestDevice kernel;

    @BeforeAll
    void readImagePrefix() throws IOException {
        int bytes = (int) PcacheFormat.segmentOffset(SEGMENTS); // 48 MiB + 20 KiB
        byte[] prefix;
        try (InputStream in = KernelFixtures.open(IMAGE)) {
            prefix = in.readNBytes(bytes);
        }
        assertEquals(bytes, prefix.length);
        kernel = new TestDevice(new HeapPmemProvider().open(Path.of("/virtual/kernel-image"), bytes), SEGMENTS);
        kernel.write(0, prefix);
    }

    @Test
    void segmentZeroInfoSlotsAreTheLinkedAndTheFirstCopy() throws IOException {
        assertEquals(20480, PcacheFormat.segmentOffset(0));
        SlotRecord info = kernel.infoRecord(0);
        SegmentInfoCodec.SegmentInfo newest = SegmentInfoCodec.decode(info.load());
        assertEquals(0, info.currentSlot());
        assertEquals(2, info.currentSeq());
        assertEquals(3, newest.flags());
        assertEquals(1, newest.nextSegment());

        byte[] slot1 = info.readSlot(1); // device offset 24576
        assertEquals(24576, info.slotOffset(1));
        assertTrue(MetaHeader.crcMatches(kernel.crc, slot1));
        assertEquals(1, MetaHeader.seq(slot1));
        SegmentInfoCodec.SegmentInfo older = SegmentInfoCodec.decode(slot1);
        assertEquals(2, older.flags());
        assertEquals(0, older.nextSegment());
    }

    @Test
    void segmentZeroGenerationIsZeroInSlotOne() throws IOException {
        SlotRecord gen = kernel.genRecord(0);
        assertEquals(20480 + 8192, gen.slotOffset(0));
        assertEquals(20480 + 8192 + 16, gen.slotOffset(1));
        assertEquals(0, SegmentGenCodec.decode(gen.load()));
        assertEquals(1, gen.currentSlot());
        assertEquals(1, gen.currentSeq());
        assertFalse(MetaHeader.crcMatches(kernel.crc, gen.readSlot(0)), "slot 0 was never written");
    }

    @Test
    void theAllocatorLoadsTheKernelsChain() throws IOException {
        FifoSegmentAllocator a = kernel.allocator();
        a.load(0, SEGMENTS);
        for (int i = 0; i < SEGMENTS; i++) {
            assertEquals(i, a.physicalId(i));
            assertEquals(0, a.generation(i));
        }
    }

    /** Our format writes the same segment metadata bytes as the kernel (info, gen, zeroed rest). */
    @Test
    void formatWritesTheKernelsSegmentMetadata() throws IOException {
        TestDevice ours = new TestDevice(SEGMENTS);
        // a longer chain than the device prefix holds is what the kernel formatted; our chain of 3
        // differs only in the last segment's link, so compare the first two segments
        ours.formatted();
        for (int i = 0; i < SEGMENTS - 1; i++) {
            long base = PcacheFormat.segmentOffset(i);
            assertArrayEquals(kernel.bytes(base, PcacheFormat.SEG_DATA_OFF), ours.bytes(base, PcacheFormat.SEG_DATA_OFF),
                    "metadata of segment " + i);
        }
        long last = PcacheFormat.segmentOffset(SEGMENTS - 1);
        assertArrayEquals(kernel.bytes(last + PcacheFormat.SEG_INFO_SLOT_STRIDE, PcacheFormat.SEG_INFO_SLOT_STRIDE),
                ours.bytes(last + PcacheFormat.SEG_INFO_SLOT_STRIDE, PcacheFormat.SEG_INFO_SLOT_STRIDE),
                "slot 1 of the last segment: the first, unlinked copy");
    }
}
