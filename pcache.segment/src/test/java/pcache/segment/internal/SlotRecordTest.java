package pcache.segment.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import pcache.api.format.PcacheFormat;

/** The two-slot replicated record (reference §2.4, after the Dec-2025 "advance slot index" fix). */
class SlotRecordTest {

    /** A 24-byte record with 4 KiB between its slots, like cache_info; slot 0 at 8 KiB. */
    private static final long BASE = 8 * 1024;
    private static final int STRIDE = 4096;
    private static final int SIZE = 24;

    private TestDevice dev;

    @BeforeEach
    void device() throws IOException {
        dev = new TestDevice(1);
    }

    private SlotRecord record() {
        return new SlotRecord(dev.region, dev.crc, "cache_info", BASE, STRIDE, SIZE);
    }

    /** A record whose payload (bytes 8..) carries {@code value}, sealed with {@code seq}. */
    private byte[] sealed(int seq, long value) {
        byte[] b = payload(value);
        MetaHeader.seal(dev.crc, b, seq);
        return b;
    }

    private static byte[] payload(long value) {
        byte[] b = new byte[SIZE];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(8, value);
        return b;
    }

    private static long value(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(8);
    }

    private void putSlot(int slot, byte[] b) throws IOException {
        dev.write(BASE + (long) slot * STRIDE, b);
    }

    private byte[] slot(int slot) throws IOException {
        return dev.bytes(BASE + (long) slot * STRIDE, SIZE);
    }

    @ParameterizedTest(name = "slot 0 seq {0}, slot 1 seq {1} -> slot {2}")
    @CsvSource({
        "5, 6, 1",
        "6, 5, 0",
        // 8-bit wrap-around: 0 comes after 255, and 1 after 254
        "255, 0, 1",
        "0, 255, 0",
        "254, 1, 1",
        "1, 254, 0"})
    void bothValidTheNewerSeqWins(int seq0, int seq1, int expectedSlot) throws IOException {
        putSlot(0, sealed(seq0, 100));
        putSlot(1, sealed(seq1, 101));
        SlotRecord r = record();
        byte[] loaded = r.load();
        assertNotNull(loaded);
        assertEquals(100 + expectedSlot, value(loaded));
        assertEquals(expectedSlot, r.currentSlot());
        assertEquals(expectedSlot == 0 ? seq0 : seq1, r.currentSeq());
    }

    @Test
    void aSlotWithABadCrcIsSkippedEvenWhenItsSeqIsNewer() throws IOException {
        putSlot(0, sealed(3, 100));
        byte[] newer = sealed(4, 101);
        newer[20] ^= 1; // payload damaged after sealing
        putSlot(1, newer);
        SlotRecord r = record();
        assertEquals(100, value(r.load()));
        assertEquals(0, r.currentSlot());
        assertEquals(3, r.currentSeq());

        // and the other way round
        byte[] older = sealed(7, 200);
        older[0] ^= 1; // crc damaged
        putSlot(0, older);
        putSlot(1, sealed(6, 201));
        assertEquals(201, value(r.load()));
        assertEquals(1, r.currentSlot());
    }

    @Test
    void bothSlotsBadGivesNull() throws IOException {
        assertNull(record().load(), "all-zero slots have no valid CRC (the seed is not 0)");
        byte[] a = sealed(1, 1);
        byte[] b = sealed(2, 2);
        a[9] ^= 4;
        b[4] ^= 4; // seq byte is covered by the CRC too
        putSlot(0, a);
        putSlot(1, b);
        assertNull(record().load());
    }

    @Test
    void storeWritesTheOtherSlotAndKeepsTheNewestValidCopy() throws IOException {
        putSlot(0, sealed(9, 100));
        putSlot(1, sealed(10, 101));
        SlotRecord r = record();
        r.load();
        byte[] slot1Before = slot(1);

        r.store(payload(102));
        assertArrayEquals(slot1Before, slot(1), "the newest valid copy must not be overwritten");
        assertEquals(0, r.currentSlot());
        assertEquals(11, r.currentSeq());
        assertArrayEquals(sealed(11, 102), slot(0));

        byte[] slot0Before = slot(0);
        r.store(payload(103));
        assertArrayEquals(slot0Before, slot(0));
        assertEquals(1, r.currentSlot());
        assertArrayEquals(sealed(12, 103), slot(1));

        SlotRecord fresh = record();
        assertEquals(103, value(fresh.load()));
        assertEquals(12, fresh.currentSeq());
    }

    @Test
    void storeAfterAOneSlotLoadGoesToTheOtherSlot() throws IOException {
        putSlot(1, sealed(1, 100)); // slot 0 never written
        SlotRecord r = record();
        r.load();
        r.store(payload(101));
        assertArrayEquals(sealed(2, 101), slot(0));
        assertArrayEquals(sealed(1, 100), slot(1));
    }

    @Test
    void resetZeroZeroPutsTheFirstStoreInSlotOneWithSeqOne() throws IOException {
        SlotRecord r = record();
        r.reset(0, 0);
        r.store(payload(100));
        assertEquals(1, r.currentSlot());
        assertEquals(1, r.currentSeq());
        assertArrayEquals(sealed(1, 100), slot(1));
        assertArrayEquals(new byte[SIZE], slot(0), "slot 0 untouched");
    }

    @Test
    void resetOneZeroPutsTheFirstStoreInSlotZeroWithSeqOne() throws IOException {
        SlotRecord r = record();
        r.reset(1, 0);
        r.store(payload(100));
        assertEquals(0, r.currentSlot());
        assertEquals(1, r.currentSeq());
        assertArrayEquals(sealed(1, 100), slot(0));
        assertArrayEquals(new byte[SIZE], slot(1), "slot 1 untouched");
    }

    @Test
    void resetDoesNotTouchTheDeviceAndWrapsSeq() throws IOException {
        SlotRecord r = record();
        r.reset(1, 255);
        assertArrayEquals(new byte[SIZE], slot(0));
        assertArrayEquals(new byte[SIZE], slot(1));
        r.store(payload(5));
        assertEquals(0, r.currentSeq(), "seq 255 + 1 wraps to 0");
        assertEquals(0, r.currentSlot());
        assertThrows(IllegalArgumentException.class, () -> r.reset(2, 0));
        assertThrows(IllegalArgumentException.class, () -> r.reset(-1, 0));
    }

    @Test
    void aStoreOfTheWrongSizeIsRefused() {
        SlotRecord r = record();
        assertThrows(IllegalArgumentException.class, () -> r.store(new byte[SIZE + 1]));
    }

    @Test
    void aTornStoreLeavesThePreviousCopyLoadable() throws IOException {
        TearingRegion tearing = new TearingRegion(dev.region);
        SlotRecord r = new SlotRecord(tearing, dev.crc, "cache_info", BASE, STRIDE, SIZE);
        r.reset(0, 0);
        r.store(payload(100)); // slot 1, seq 1
        r.store(payload(101)); // slot 0, seq 2
        tearing.tearAt = BASE + STRIDE; // the next store goes to slot 1
        assertThrows(IOException.class, () -> r.store(payload(102)));

        SlotRecord afterCrash = record();
        assertEquals(101, value(afterCrash.load()));
        assertEquals(0, afterCrash.currentSlot());
        assertEquals(2, afterCrash.currentSeq());
    }

    @Test
    void aCorruptedNewCopyFallsBackToThePreviousOne() throws IOException {
        SlotRecord r = record();
        r.reset(0, 0);
        r.store(payload(100));
        r.store(payload(101));
        r.store(payload(102)); // slot 1, seq 3
        dev.corrupt(BASE + STRIDE + 12);
        SlotRecord afterCrash = record();
        assertEquals(101, value(afterCrash.load()));
        // and the next store overwrites the damaged slot, not the surviving copy
        afterCrash.store(payload(103));
        assertArrayEquals(sealed(2, 101), slot(0));
        assertEquals(103, value(record().load()));
    }

    /** Every store, across several seq wrap-arounds, is what the next load returns. */
    @Test
    void longSequencesOfStoresAlwaysLoadTheLastOne() throws IOException {
        SlotRecord r = record();
        r.reset(0, 0);
        for (int i = 1; i <= 600; i++) {
            byte[] previous = i == 1 ? null : slot(r.currentSlot());
            int previousSlot = r.currentSlot();
            r.store(payload(i));
            if (previous != null) {
                assertArrayEquals(previous, slot(previousSlot));
            }
            SlotRecord loaded = record();
            assertEquals(i, value(loaded.load()), "store " + i);
            assertEquals(i & 0xFF, loaded.currentSeq());
        }
    }

    @Test
    void slotGeometryIsChecked() {
        assertThrows(IllegalArgumentException.class,
                () -> new SlotRecord(dev.region, dev.crc, "x", 0, 16, PcacheFormat.META_HEADER_SIZE - 1));
        assertThrows(IllegalArgumentException.class, () -> new SlotRecord(dev.region, dev.crc, "x", 0, 8, 16));
    }
}
