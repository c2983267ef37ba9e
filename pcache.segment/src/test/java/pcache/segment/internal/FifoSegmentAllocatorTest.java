package pcache.segment.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import pcache.api.CorruptMediaException;
import pcache.api.format.PcacheFormat;
import pcache.api.spi.ReplicatedRecord;
import pcache.api.spi.SegmentUse;

/** The segment layer: chain format and load, FIFO allocation, references and reclamation. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FifoSegmentAllocatorTest {

    private static final int SEGMENTS = 6;

    /** One device for all tests (its 96 MiB are allocated once), blanked before each. */
    private final TestDevice dev;

    FifoSegmentAllocatorTest() throws IOException {
        dev = new TestDevice(SEGMENTS);
    }

    @BeforeEach
    void blankDevice() throws IOException {
        for (int i = 0; i < SEGMENTS; i++) {
            dev.region.fill(PcacheFormat.segmentOffset(i), PcacheFormat.SEG_DATA_OFF + 4096, (byte) 0);
        }
        dev.reclaimed.clear();
    }

    // ---- format and load -----------------------------------------------------------------------

    @Test
    void formatThenLoadRoundTrips() throws IOException {
        FifoSegmentAllocator formatted = dev.formatted();
        FifoSegmentAllocator loaded = dev.allocator();
        loaded.load(0, SEGMENTS);
        for (FifoSegmentAllocator a : List.of(formatted, loaded)) {
            assertEquals(SEGMENTS, a.segmentCount());
            assertEquals(0, a.usedCount());
            for (int i = 0; i < SEGMENTS; i++) {
                assertEquals(i, a.physicalId(i));
                assertEquals(0, a.generation(i));
                assertEquals(0, a.references(i));
                assertFalse(a.isUsed(i));
                assertEquals(PcacheFormat.segmentOffset(i) + PcacheFormat.SEG_DATA_OFF, a.dataOffset(i));
            }
        }
    }

    @Test
    void formatLinksEverySegmentToTheNextAndEndsTheChain() throws IOException {
        dev.formatted();
        for (int i = 0; i < SEGMENTS; i++) {
            SlotRecord info = dev.infoRecord(i);
            SegmentInfoCodec.SegmentInfo decoded = SegmentInfoCodec.decode(info.load());
            assertEquals(PcacheFormat.SEG_TYPE_CACHE_DATA, decoded.type());
            if (i < SEGMENTS - 1) {
                assertTrue(decoded.hasNext(), "segment " + i);
                assertEquals(i + 1, decoded.nextSegment());
                // written twice, as the kernel does: slot 1 seq 1 unlinked, then slot 0 seq 2 linked
                assertEquals(0, info.currentSlot());
                assertEquals(2, info.currentSeq());
            } else {
                assertFalse(decoded.hasNext());
                assertEquals(1, info.currentSlot());
                assertEquals(1, info.currentSeq());
            }
            SlotRecord gen = dev.genRecord(i);
            assertEquals(0, SegmentGenCodec.decode(gen.load()));
            assertEquals(1, gen.currentSlot());
            assertEquals(1, gen.currentSeq());
        }
    }

    @Test
    void formatClearsStaleMetadataAndTheFirstKsetHeader() throws IOException {
        int area = PcacheFormat.SEG_DATA_OFF + PcacheFormat.KSET_HEADER_SIZE;
        byte[] junk = new byte[area + 100];
        Arrays.fill(junk, (byte) 0xA5);
        for (int i = 0; i < 2; i++) {
            dev.write(PcacheFormat.segmentOffset(i), junk);
        }
        FifoSegmentAllocator a = dev.allocator();
        a.format(0, 2);
        for (int i = 0; i < 2; i++) {
            long base = PcacheFormat.segmentOffset(i);
            byte[] meta = dev.bytes(base, area + 100);
            for (int off = 0; off < area; off++) {
                boolean infoSlot = off < PcacheFormat.SEG_INFO_STRUCT_SIZE
                        || off - PcacheFormat.SEG_INFO_SLOT_STRIDE >= 0
                                && off - PcacheFormat.SEG_INFO_SLOT_STRIDE < PcacheFormat.SEG_INFO_STRUCT_SIZE;
                boolean genSlot = off >= PcacheFormat.SEG_GEN_OFF
                        && off < PcacheFormat.SEG_GEN_OFF + 2 * PcacheFormat.SEG_GEN_STRUCT_SIZE;
                if (!infoSlot && !genSlot) {
                    assertEquals(0, meta[off], "segment " + i + " byte " + off + " must be zeroed");
                }
            }
            assertEquals((byte) 0xA5, meta[area], "format leaves the data area past the first kset header alone");
            // the unused info slot of the last segment and the unused gen slot 0 are zero
            assertArrayEquals(new byte[PcacheFormat.SEG_GEN_STRUCT_SIZE],
                    dev.bytes(base + PcacheFormat.SEG_GEN_OFF, PcacheFormat.SEG_GEN_STRUCT_SIZE));
        }
        assertArrayEquals(new byte[PcacheFormat.SEG_INFO_STRUCT_SIZE],
                dev.bytes(PcacheFormat.segmentOffset(1), PcacheFormat.SEG_INFO_STRUCT_SIZE));
    }

    @Test
    void aChainCanStartAfterPhysicalSegmentZero() throws IOException {
        FifoSegmentAllocator a = dev.allocator();
        a.format(2, 3);
        FifoSegmentAllocator b = dev.allocator();
        b.load(2, 3);
        assertEquals(3, b.segmentCount());
        assertEquals(2, b.physicalId(0));
        assertEquals(4, b.physicalId(2));
        assertEquals(PcacheFormat.segmentOffset(3) + PcacheFormat.SEG_DATA_OFF, b.dataOffset(1));
    }

    @Test
    void formatRefusesAChainThatDoesNotFit() {
        FifoSegmentAllocator a = dev.allocator();
        assertThrows(IllegalArgumentException.class, () -> a.format(0, SEGMENTS + 1));
        assertThrows(IllegalArgumentException.class, () -> a.format(4, 3));
        assertThrows(IllegalArgumentException.class, () -> a.format(0, 0));
        assertThrows(IllegalArgumentException.class, () -> a.format(-1, 2));
    }

    // ---- allocation ----------------------------------------------------------------------------

    @Test
    void allocationIsFifoFromAMovingHintAndWraps() throws IOException {
        FifoSegmentAllocator a = dev.formatted();
        List<Integer> got = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            got.add(a.allocate(SegmentUse.KEY_LOG));
        }
        assertEquals(List.of(0, 1, 2, 3), got);
        a.release(1);
        a.release(0);
        // the search continues after the last allocation (4, 5) before it wraps to the freed 0, 1
        assertEquals(4, a.allocate(SegmentUse.KEY_LOG));
        assertEquals(5, a.allocate(SegmentUse.KEY_LOG));
        assertEquals(0, a.allocate(SegmentUse.KEY_LOG));
        assertEquals(1, a.allocate(SegmentUse.KEY_LOG));
        assertEquals(-1, a.allocate(SegmentUse.KEY_LOG));
        assertEquals(SEGMENTS, a.usedCount());
        a.release(3);
        assertEquals(3, a.allocate(SegmentUse.KEY_LOG));
    }

    @Test
    void markUsedMovesTheHintPastTheMarkedSegment() throws IOException {
        FifoSegmentAllocator a = dev.formatted();
        a.markUsed(3); // replay saw segment 3 last
        assertTrue(a.isUsed(3));
        assertEquals(1, a.usedCount());
        a.markUsed(3);
        assertEquals(1, a.usedCount(), "marking twice counts once");
        assertEquals(4, a.allocate(SegmentUse.KEY_LOG));
        assertEquals(5, a.allocate(SegmentUse.KEY_LOG));
        assertEquals(0, a.allocate(SegmentUse.KEY_LOG));
        assertThrows(IndexOutOfBoundsException.class, () -> a.markUsed(SEGMENTS));
        assertThrows(IndexOutOfBoundsException.class, () -> a.release(-1));
    }

    @Test
    void dataNeverTakesTheLastFreeSegmentButTheKeyLogDoes() throws IOException {
        FifoSegmentAllocator a = dev.formatted();
        for (int i = 0; i < SEGMENTS - 1; i++) {
            assertEquals(i, a.allocate(SegmentUse.DATA));
        }
        assertEquals(-1, a.allocate(SegmentUse.DATA), "the last free segment is the key log's");
        assertEquals(SEGMENTS - 1, a.usedCount());
        assertEquals(SEGMENTS - 1, a.allocate(SegmentUse.KEY_LOG));
        assertEquals(-1, a.allocate(SegmentUse.KEY_LOG));
        assertEquals(-1, a.allocate(SegmentUse.DATA));
    }

    // ---- references and reclamation ------------------------------------------------------------

    @Test
    void theLastPutReclaimsBumpsAndPersistsTheGenerationAndTellsTheListenerOnce() throws IOException {
        FifoSegmentAllocator a = dev.formatted();
        int seg = a.allocate(SegmentUse.DATA);
        a.get(seg);
        a.get(seg);
        assertEquals(2, a.references(seg));
        a.put(seg);
        assertEquals(1, a.references(seg));
        assertTrue(a.isUsed(seg));
        assertEquals(0, a.generation(seg));
        assertTrue(dev.reclaimed.isEmpty());

        a.put(seg);
        assertEquals(0, a.references(seg));
        assertEquals(1, a.generation(seg));
        assertFalse(a.isUsed(seg));
        assertEquals(0, a.usedCount());
        assertEquals(List.of(seg), dev.reclaimed);

        FifoSegmentAllocator reloaded = dev.allocator();
        reloaded.load(0, SEGMENTS);
        assertEquals(1, reloaded.generation(seg), "the bumped generation is on the device");
        assertEquals(0, reloaded.generation(seg + 1));

        // a second reclamation of the same segment persists generation 2 (the other slot)
        assertEquals(seg + 1, a.allocate(SegmentUse.DATA));
        a.get(seg);
        a.put(seg);
        assertEquals(2, a.generation(seg));
        reloaded.load(0, SEGMENTS);
        assertEquals(2, reloaded.generation(seg));
        assertEquals(List.of(seg, seg), dev.reclaimed);
    }

    @Test
    void thePersistedGenerationIsTheOnlyValidCopyAfterATornBump() throws IOException {
        FifoSegmentAllocator a = dev.formatted();
        a.get(2);
        a.put(2); // gen 1 in slot 0 (seq 2), gen 0 stays in slot 1 (seq 1)
        SlotRecord gen = dev.genRecord(2);
        assertEquals(1, SegmentGenCodec.decode(gen.load()));
        assertEquals(0, gen.currentSlot());
        assertEquals(2, gen.currentSeq());
    }

    @Test
    void concurrentGetsAndPutsReclaimExactlyOnce() throws Exception {
        FifoSegmentAllocator a = dev.formatted();
        int seg = a.allocate(SegmentUse.DATA);
        a.get(seg); // the data head's reference keeps the segment alive while keys come and go
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        List<Throwable> errors = new CopyOnWriteArrayList<>();
        for (int t = 0; t < 4; t++) {
            Thread th = new Thread(() -> {
                try {
                    go.await();
                    for (int i = 0; i < 10_000; i++) {
                        a.get(seg);
                        a.put(seg);
                    }
                } catch (Throwable e) {
                    errors.add(e);
                }
            });
            threads.add(th);
            th.start();
        }
        go.countDown();
        for (Thread th : threads) {
            th.join();
        }
        assertEquals(List.of(), errors);
        assertEquals(1, a.references(seg));
        assertTrue(dev.reclaimed.isEmpty());
        a.put(seg);
        assertEquals(List.of(seg), dev.reclaimed);
        assertEquals(1, a.generation(seg));
    }

    @Test
    void aPinHoldsOffReclamationUntilItIsGivenBack() throws IOException {
        FifoSegmentAllocator a = dev.formatted();
        int seg = a.allocate(SegmentUse.DATA);
        a.get(seg); // a key's reference
        assertTrue(a.tryGet(seg, 0));
        assertEquals(2, a.references(seg));
        a.put(seg); // GC passes the key: the pin alone keeps the segment
        assertEquals(0, a.generation(seg));
        assertTrue(a.isUsed(seg));
        assertTrue(dev.reclaimed.isEmpty());
        a.put(seg); // the pin given back reclaims it, as the key's last put would have
        assertEquals(1, a.generation(seg));
        assertFalse(a.isUsed(seg));
        assertEquals(List.of(seg), dev.reclaimed);
    }

    @Test
    void aPinFailsOnAReclaimedSegmentAndOnANewerLife() throws IOException {
        FifoSegmentAllocator a = dev.formatted();
        int seg = a.allocate(SegmentUse.DATA);
        assertFalse(a.tryGet(seg, 0), "no reference: the segment may be reclaimed at any moment");
        assertEquals(0, a.references(seg));
        a.get(seg);
        a.put(seg); // reclaimed: generation 1
        assertFalse(a.tryGet(seg, 0));
        assertEquals(0, a.references(seg));
        // allocated again and referenced: a pin for the old generation fails and takes nothing
        a.markUsed(seg);
        a.get(seg);
        assertFalse(a.tryGet(seg, 0));
        assertEquals(1, a.references(seg));
        assertEquals(1, a.generation(seg));
        assertEquals(List.of(seg), dev.reclaimed);
        assertTrue(a.tryGet(seg, 1));
        assertEquals(2, a.references(seg));
    }

    @Test
    void pinsRacingTheLastPutEitherHoldTheSegmentOrFail() throws Exception {
        long seed = System.nanoTime();
        System.out.println("pinsRacingTheLastPutEitherHoldTheSegmentOrFail seed " + seed);
        java.util.Random r = new java.util.Random(seed);
        FifoSegmentAllocator a = dev.formatted();
        int seg = a.allocate(SegmentUse.DATA);
        for (int round = 0; round < 200; round++) {
            long gen = a.generation(seg);
            int keys = 1 + r.nextInt(3);
            for (int k = 0; k < keys; k++) {
                a.get(seg);
            }
            int[] pinned = new int[1];
            List<Throwable> errors = new CopyOnWriteArrayList<>();
            CountDownLatch go = new CountDownLatch(1);
            Thread pinner = new Thread(() -> {
                try {
                    go.await();
                    for (int i = 0; i < 50; i++) {
                        if (a.tryGet(seg, gen)) {
                            // held: the segment cannot have been reclaimed under the pin
                            if (a.generation(seg) != gen) {
                                errors.add(new AssertionError("pinned generation " + gen + " but the segment is at "
                                        + a.generation(seg)));
                            }
                            pinned[0]++;
                            a.put(seg);
                        }
                    }
                } catch (Throwable e) {
                    errors.add(e);
                }
            });
            pinner.start();
            go.countDown();
            for (int k = 0; k < keys; k++) {
                a.put(seg);
            }
            pinner.join();
            assertEquals(List.of(), errors, "seed " + seed + " round " + round);
            assertEquals(0, a.references(seg), "seed " + seed + " round " + round);
            assertEquals(gen + 1, a.generation(seg), "reclaimed exactly once; seed " + seed + " round " + round);
            assertEquals(round + 1, dev.reclaimed.size(), "seed " + seed + " round " + round);
            a.markUsed(seg);
        }
    }

    @Test
    void loadRefusesAContextWithMoreSegmentsThanTheRegionHolds() throws IOException {
        dev.formatted();
        TestDevice lying = new TestDevice(dev.region, SEGMENTS + 1);
        assertThrows(IllegalArgumentException.class, () -> lying.allocator().load(0, SEGMENTS));
    }

    @Test
    void putBelowZeroFailsAndLeavesTheCountAlone() throws IOException {
        FifoSegmentAllocator a = dev.formatted();
        assertThrows(IllegalStateException.class, () -> a.put(1));
        assertEquals(0, a.references(1));
        assertEquals(0, a.generation(1));
        assertTrue(dev.reclaimed.isEmpty());
    }

    /**
     * A last put whose new generation cannot be stored does not reclaim the segment and gives
     * the reference back, so the same put can be tried again (GC retries it). Before, the count
     * stayed at zero: the segment was neither reclaimed nor reclaimable, and a retried put failed
     * as an underflow.
     */
    @Test
    void aReclaimWhoseGenerationCannotBeStoredKeepsTheReferenceForARetry() throws IOException {
        TearingRegion failing = new TearingRegion(dev.region);
        TestDevice onFailing = new TestDevice(failing, SEGMENTS);
        FifoSegmentAllocator a = onFailing.formatted();
        a.get(3);
        long gen = PcacheFormat.segmentOffset(3) + PcacheFormat.SEG_GEN_OFF;
        failing.failFrom = gen;
        failing.failTo = gen + 2L * PcacheFormat.SEG_GEN_STRUCT_SIZE;
        assertThrows(IOException.class, () -> a.put(3));
        assertEquals(1, a.references(3), "the reference is back");
        assertEquals(0, a.generation(3));
        assertTrue(onFailing.reclaimed.isEmpty());
        failing.failFrom = -1;
        failing.failTo = -1;
        a.put(3);
        assertEquals(0, a.references(3));
        assertEquals(1, a.generation(3));
        assertEquals(List.of(3), onFailing.reclaimed);
    }

    @Test
    void releaseFreesAKeyLogSegmentWithoutBumpingItsGeneration() throws IOException {
        FifoSegmentAllocator a = dev.formatted();
        int seg = a.allocate(SegmentUse.KEY_LOG);
        a.release(seg);
        assertFalse(a.isUsed(seg));
        assertEquals(0, a.generation(seg));
        a.release(seg);
        assertEquals(0, a.usedCount(), "releasing a free segment does not go negative");
    }

    @Test
    void recordGivesAReplicatedRecordAtTheGivenPlace() throws IOException {
        FifoSegmentAllocator a = dev.formatted();
        ReplicatedRecord r = a.record("key_tail", PcacheFormat.KEY_TAIL_OFF, PcacheFormat.POS_STRUCT_SIZE,
                PcacheFormat.POS_STRUCT_SIZE);
        assertEquals("key_tail", r.structure());
        assertEquals(PcacheFormat.KEY_TAIL_OFF, r.deviceOffset());
        r.reset(1, 0);
        byte[] pos = new byte[PcacheFormat.POS_STRUCT_SIZE];
        pos[8] = 3;
        r.store(pos);
        assertEquals(0, r.currentSlot());
        byte[] loaded = a.record("key_tail", PcacheFormat.KEY_TAIL_OFF, PcacheFormat.POS_STRUCT_SIZE,
                PcacheFormat.POS_STRUCT_SIZE).load();
        assertNotNull(loaded);
        assertEquals(3, loaded[8]);
    }

    // ---- damaged media -------------------------------------------------------------------------

    private CorruptMediaException loadFails(int first, int n) {
        return assertThrows(CorruptMediaException.class, () -> dev.allocator().load(first, n));
    }

    @Test
    void aSegmentInfoWithBothSlotsBadFails() throws IOException {
        dev.formatted();
        long info = PcacheFormat.segmentOffset(2);
        dev.corrupt(info + 9);
        dev.corrupt(info + PcacheFormat.SEG_INFO_SLOT_STRIDE + 9);
        CorruptMediaException e = loadFails(0, SEGMENTS);
        assertEquals("segment_info", e.structure());
        assertEquals(info, e.deviceOffset());
        assertTrue(e.getMessage().contains("cache segment 2"), e.getMessage());
    }

    @Test
    void aSegmentInfoWithOneSlotBadStillLoads() throws IOException {
        dev.formatted();
        dev.corrupt(PcacheFormat.segmentOffset(2) + 9); // slot 0, the linked copy
        // slot 1 (seq 1, unlinked) is all that is left: the chain now ends at segment 2
        CorruptMediaException e = loadFails(0, SEGMENTS);
        assertTrue(e.getMessage().contains("chain ends at cache segment 2"), e.getMessage());
        FifoSegmentAllocator a = dev.allocator();
        a.load(0, 3);
        assertEquals(3, a.segmentCount());
    }

    @Test
    void aGenerationWithBothSlotsBadFailsInsteadOfBecomingZero() throws IOException {
        FifoSegmentAllocator a = dev.formatted();
        a.get(3);
        a.put(3); // generation 1: slot 0 holds gen 1, slot 1 gen 0
        long gen = PcacheFormat.segmentOffset(3) + PcacheFormat.SEG_GEN_OFF;
        dev.corrupt(gen + 8);
        dev.corrupt(gen + PcacheFormat.SEG_GEN_STRUCT_SIZE + 8);
        CorruptMediaException e = loadFails(0, SEGMENTS);
        assertEquals("segment generation", e.structure());
        assertEquals(gen, e.deviceOffset());
        assertTrue(e.getMessage().contains("cache segment 3"), e.getMessage());
    }

    @Test
    void aNextSegOutsideTheDeviceFails() throws IOException {
        dev.formatted();
        dev.rewriteInfo(1, 0x3, SEGMENTS); // HAS_NEXT, type 1, next = one past the last segment
        CorruptMediaException e = loadFails(0, SEGMENTS);
        assertEquals("segment_info", e.structure());
        SlotRecord info = dev.infoRecord(1);
        info.load();
        assertEquals(info.slotOffset(info.currentSlot()), e.deviceOffset(), "names the slot holding the bad link");
        assertTrue(e.getMessage().contains("outside the device"), e.getMessage());

        dev.rewriteInfo(1, 0x3, -1); // next_seg 0xffffffff
        e = loadFails(0, SEGMENTS);
        assertTrue(e.getMessage().contains("outside the device"), e.getMessage());
    }

    @Test
    void aCycleInTheChainFails() throws IOException {
        dev.formatted();
        dev.rewriteInfo(3, 0x3, 1); // 0 -> 1 -> 2 -> 3 -> 1
        CorruptMediaException e = loadFails(0, SEGMENTS);
        assertEquals("segment_info", e.structure());
        SlotRecord info = dev.infoRecord(3);
        info.load();
        assertEquals(info.slotOffset(info.currentSlot()), e.deviceOffset());
        assertTrue(e.getMessage().contains("already in the chain"), e.getMessage());
    }

    @Test
    void aChainShorterThanCachedInfoSaysFails() throws IOException {
        dev.formatted();
        dev.rewriteInfo(3, 0x2, 0); // type 1, no HAS_NEXT: chain of 4
        CorruptMediaException e = loadFails(0, SEGMENTS);
        assertEquals("segment_info", e.structure());
        SlotRecord info = dev.infoRecord(3);
        info.load();
        assertEquals(info.slotOffset(info.currentSlot()), e.deviceOffset());
        assertTrue(e.getMessage().contains("chain ends at cache segment 3"), e.getMessage());
        dev.allocator().load(0, 4); // a chain of 4 is fine
    }

    @Test
    void moreSegmentsThanTheDeviceHoldsFails() throws IOException {
        dev.formatted();
        CorruptMediaException e = loadFails(0, SEGMENTS + 1);
        assertEquals("cache_info", e.structure());
        assertEquals(PcacheFormat.CACHE_INFO_OFF, e.deviceOffset());
        e = loadFails(0, 0);
        assertEquals("cache_info", e.structure());
    }

    @Test
    void aFirstSegmentOutsideTheDeviceFailsAsDamagedCacheInfo() throws IOException {
        dev.formatted();
        for (int first : new int[] {SEGMENTS, -1, Integer.MAX_VALUE}) {
            CorruptMediaException e = loadFails(first, 1);
            assertEquals("cache_info", e.structure());
            assertEquals(PcacheFormat.CACHE_INFO_OFF, e.deviceOffset());
        }
    }

    @Test
    void aWrongSegmentTypeFails() throws IOException {
        dev.formatted();
        dev.rewriteInfo(4, 0x1 | 2 << 1, 5); // HAS_NEXT, type 2
        CorruptMediaException e = loadFails(0, SEGMENTS);
        assertEquals("segment_info", e.structure());
        SlotRecord info = dev.infoRecord(4);
        info.load();
        assertEquals(info.slotOffset(info.currentSlot()), e.deviceOffset());
        assertTrue(e.getMessage().contains("type 2"), e.getMessage());
    }
}
