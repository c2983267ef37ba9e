package pcache.keyindex.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static pcache.keyindex.internal.LogDevice.assertSameKeys;
import static pcache.keyindex.internal.LogDevice.keysOf;
import static pcache.keyindex.internal.LogDevice.readLog;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import pcache.api.CachePos;
import pcache.api.CorruptMediaException;
import pcache.api.PcacheException;
import pcache.api.format.PcacheFormat;
import pcache.api.spi.CacheKey;
import pcache.api.spi.Kset;
import pcache.api.spi.SegmentUse;

/** The key log over a heap device with the real segment allocator (reference §3.5). */
class PmemKeyLogTest {

    private static final int SEGMENTS = 6;
    private static final int DATA = PcacheFormat.SEG_DATA_SIZE;
    private static final long SLICE = PcacheFormat.SUBTREE_SIZE;

    private ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();

    @AfterEach
    void stopScheduler() throws InterruptedException {
        scheduler.shutdownNow();
        assertTrue(scheduler.awaitTermination(10, TimeUnit.SECONDS));
    }

    /** Two streams, a flush delay that never fires during a test. */
    private LogDevice device() throws IOException {
        return new LogDevice(SEGMENTS, 2, TimeUnit.HOURS.toMillis(1), scheduler);
    }

    private static PmemKeyLog started(LogDevice dev, CachePos head) throws IOException {
        PmemKeyLog log = dev.openLog();
        log.start(head);
        return log;
    }

    /** Key {@code n} (0..2047) of slice {@code slice}: 2 KiB, distinct position, generation and CRC. */
    private static CacheKey key(int slice, int n) {
        CacheKey k = new CacheKey(slice * SLICE + n * 2048L, 2048).place(1 + slice % 4, n * 2048, 3 + n);
        k.setDataCrc(0x1000 * slice + n);
        if (n % 3 == 0) {
            k.markClean();
        }
        return k;
    }

    @Test
    void keysGoToTheBufferOfTheirSliceAndForceClosePersistsThatBufferOnly() throws IOException {
        LogDevice dev = device();
        PmemKeyLog log = started(dev, new CachePos(0, 0));
        // 2 streams: slices 0 and 2 share buffer 0, slices 1 and 3 buffer 1
        CacheKey a = key(0, 1);
        CacheKey b = key(1, 1);
        CacheKey c = key(2, 1);
        CacheKey d = key(3, 1);
        CacheKey e = key(0, 2);
        CacheKey f = key(1, 2);
        for (CacheKey k : List.of(a, b, c, d, e)) {
            log.append(k, false);
        }
        assertEquals(5, log.pendingKeys());
        assertNull(log.read(new CachePos(0, 0)), "nothing persisted yet");
        assertEquals(new CachePos(0, 0), log.head());

        log.append(f, true);
        assertEquals(3, log.pendingKeys(), "only buffer 1 was closed");
        assertEquals(new CachePos(0, 24 + 3 * 40), log.head());
        assertEquals(List.of(), dev.region.notDurable(), "a forced close makes the kset durable");
        assertEquals(List.of("0:0+144"), dev.persisted);

        log.flush();
        assertEquals(0, log.pendingKeys());
        assertEquals(new CachePos(0, 288), log.head());
        assertEquals(List.of(), dev.region.notDurable(), "flush makes every kset durable");
        assertEquals(List.of("0:0+144", "0:144+144"), dev.persisted);

        List<Kset> ksets = readLog(log, new CachePos(0, 0));
        assertEquals(2, ksets.size());
        assertSameKeys(List.of(b, d, f), ksets.get(0).keys());
        assertSameKeys(List.of(a, c, e), ksets.get(1).keys());
        assertFalse(ksets.get(0).last());
        assertNull(log.read(log.head()), "the zero terminator ends the log");
    }

    @Test
    void flushWithNothingPendingWritesNothing() throws IOException {
        LogDevice dev = device();
        PmemKeyLog log = started(dev, new CachePos(0, 4096));
        log.flush();
        assertEquals(new CachePos(0, 4096), log.head());
        assertEquals(List.of(), dev.persisted);
        assertNull(log.read(new CachePos(0, 4096)));
    }

    @Test
    void aBufferOf128KeysClosesByItself() throws IOException {
        LogDevice dev = device();
        PmemKeyLog log = started(dev, new CachePos(0, 0));
        List<CacheKey> keys = new ArrayList<>();
        for (int i = 0; i < 127; i++) {
            keys.add(key(0, i));
            log.append(keys.get(i), false);
        }
        assertEquals(127, log.pendingKeys());
        assertNull(log.read(new CachePos(0, 0)));
        keys.add(key(0, 127));
        log.append(keys.get(127), false);
        assertEquals(0, log.pendingKeys());
        assertEquals(new CachePos(0, 5144), log.head());
        assertEquals(List.of(), dev.region.notDurable());
        Kset k = log.read(new CachePos(0, 0));
        assertNotNull(k);
        assertEquals(5144, k.sizeBytes());
        assertSameKeys(keys, k.keys());

        log.append(key(0, 128), false);
        assertEquals(1, log.pendingKeys(), "the buffer is reused");
        log.flush();
        assertEquals(1, log.read(new CachePos(0, 5144)).keys().size());
    }

    /** Large writes: 16 keys of 1 MiB fill a data segment's worth, and the kset closes there. */
    @Test
    void aBufferClosesByItselfOnceItsKeysCoverADataSegment() throws IOException {
        LogDevice dev = device();
        PmemKeyLog log = started(dev, new CachePos(0, 0));
        int mib = 1 << 20;
        int perKset = (int) ((PmemKeyLog.KSET_DATA_BYTES_MAX + mib - 1) / mib);
        List<CacheKey> keys = new ArrayList<>();
        for (int i = 0; i <= perKset; i++) {
            // 1 MiB keys in slice 0 (4 MiB), their data back to back in segments 1 and 2
            CacheKey k = new CacheKey((i % 4) * (long) mib, mib).place(1 + i / 15, (i % 15) * mib, 3);
            keys.add(k);
            log.append(k, false);
            if (i < perKset - 1) {
                assertEquals(i + 1, log.pendingKeys(), "open after " + (i + 1) + " MiB");
            }
        }
        assertEquals(1, log.pendingKeys(), "closed at " + perKset + " MiB; the next key starts a new kset");
        Kset k = log.read(new CachePos(0, 0));
        assertNotNull(k);
        assertSameKeys(keys.subList(0, perKset), k.keys());
    }

    /**
     * Which kset boundaries a client flush or FUA write lies on: a flush marks the last kset
     * reserved when it seals (not the ones it seals before it), a FUA append its own kset, a
     * kset closed by its size nothing; a kset written back is forgotten, and so is everything
     * from before a restart (reported as a barrier, the safe answer).
     */
    @Test
    void flushesAndFuaWritesAreBarriersAndSizeClosesAreNot() throws IOException {
        LogDevice dev = device();
        PmemKeyLog log = started(dev, new CachePos(0, 0));
        for (int i = 0; i < 128; i++) {
            log.append(key(0, i), false); // closes by itself at 128 keys
        }
        CachePos full = new CachePos(0, 0);
        log.append(key(0, 200), false);
        log.append(key(1, 1), false);
        log.flush(); // seals slice 0's buffer, then slice 1's: the barrier follows the second
        List<Kset> ksets = readLog(log, full);
        assertEquals(3, ksets.size());
        assertFalse(log.flushBarrierAfter(ksets.get(0).position()), "closed by size");
        assertFalse(log.flushBarrierAfter(ksets.get(1).position()), "sealed by the flush, not its last");
        assertTrue(log.flushBarrierAfter(ksets.get(2).position()), "the flush's last kset");

        log.append(key(1, 2), false);
        log.append(key(0, 201), true); // FUA: its own kset is a barrier
        CachePos fua = ksets.get(2).next();
        Kset fuaKset = log.read(fua);
        assertSameKeys(List.of(key(0, 201)), fuaKset.keys());
        assertTrue(log.flushBarrierAfter(fua));

        log.writtenBack(ksets.get(0).position());
        assertTrue(log.flushBarrierAfter(ksets.get(0).position()), "forgotten once written back");

        PmemKeyLog restarted = started(dev, log.head());
        assertTrue(restarted.flushBarrierAfter(ksets.get(1).position()), "nothing known from before a restart");
    }

    /**
     * A flush returns only once the listener has heard of every kset the flush waited for, also
     * of ksets another thread made durable: a drain counts the ksets to write back from the
     * listener right after its flush, and must not count short.
     */
    @Test
    void aFlushReturnsOnlyOnceTheListenerHeardOfEveryKsetItWaitedFor() throws Exception {
        CountDownLatch inListener = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger heard = new AtomicInteger();
        LogDevice dev = new LogDevice(SEGMENTS, 2, TimeUnit.HOURS.toMillis(1), scheduler) {
            @Override
            public void ksetPersisted(CachePos position, int sizeBytes) {
                super.ksetPersisted(position, sizeBytes);
                if (Thread.currentThread().getName().equals("first flush")) {
                    inListener.countDown();
                    try {
                        release.await(10, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                heard.incrementAndGet();
            }
        };
        PmemKeyLog log = started(dev, new CachePos(0, 0));
        log.append(key(0, 1), false);
        AtomicInteger firstDone = new AtomicInteger();
        Thread first = new Thread(() -> {
            try {
                log.flush();
                firstDone.set(1);
            } catch (IOException e) {
                firstDone.set(-1);
            }
        }, "first flush");
        first.start();
        try {
            assertTrue(inListener.await(10, TimeUnit.SECONDS), "the first flush persisted its kset");
            // the kset is durable and its listener call not over: this flush has nothing of its own
            CompletableFuture<Integer> second = CompletableFuture.supplyAsync(() -> {
                try {
                    log.flush();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                return heard.get();
            });
            try {
                Integer early = second.get(500, TimeUnit.MILLISECONDS);
                assertEquals(1, early, "the second flush returned before the listener heard of the kset");
            } catch (TimeoutException expected) {
                // waiting for the listener, as it should
            }
            release.countDown();
            assertEquals(1, second.get(10, TimeUnit.SECONDS));
        } finally {
            release.countDown();
            first.join(10_000);
        }
        assertEquals(1, firstDone.get());
    }

    @Test
    void theFlushTimerPersistsAnOpenBuffer() throws Exception {
        CountDownLatch persistedLatch = new CountDownLatch(2);
        LogDevice dev = new LogDevice(SEGMENTS, 2, 20, scheduler) {
            @Override
            public void ksetPersisted(CachePos position, int sizeBytes) {
                super.ksetPersisted(position, sizeBytes);
                persistedLatch.countDown();
            }
        };
        PmemKeyLog log = started(dev, new CachePos(0, 0));
        log.append(key(0, 1), false);
        log.append(key(1, 1), false);
        assertTrue(persistedLatch.await(10, TimeUnit.SECONDS), "both buffers closed by their timers");
        assertEquals(0, log.pendingKeys());
        List<Kset> ksets = readLog(log, new CachePos(0, 0));
        assertEquals(2, ksets.size());
        assertEquals(1, ksets.get(0).keys().size());
        assertEquals(1, ksets.get(1).keys().size());
        assertTrue(dev.failures.isEmpty());
    }

    @Test
    void closeStopsTheTimersWithoutFlushing() throws Exception {
        LogDevice dev = new LogDevice(SEGMENTS, 1, 50, scheduler);
        PmemKeyLog log = started(dev, new CachePos(0, 0));
        log.append(key(0, 1), false);
        log.close();
        scheduler.shutdown(); // delayed tasks still pending would run now
        assertTrue(scheduler.awaitTermination(10, TimeUnit.SECONDS));
        assertEquals(1, log.pendingKeys());
        assertEquals(List.of(), dev.persisted);
        assertThrows(PcacheException.class, () -> log.append(key(0, 2), false));
    }

    @Test
    void placeholdersAreRefused() throws IOException {
        PmemKeyLog log = started(device(), new CachePos(0, 0));
        assertThrows(IllegalArgumentException.class, () -> log.append(CacheKey.placeholder(0, 4096), true));
        assertEquals(0, log.pendingKeys());
    }

    @Test
    void aFailedAppendLeavesItsKeyOutOfTheBuffer() throws Exception {
        LogDevice dev = device();
        PmemKeyLog notStarted = dev.openLog();
        assertThrows(IllegalStateException.class, () -> notStarted.append(key(0, 1), true));
        assertEquals(0, notStarted.pendingKeys());

        PmemKeyLog log = started(dev, new CachePos(0, 0));
        log.append(key(0, 1), false); // arms buffer 0's timer
        scheduler.shutdown(); // no new timer can be armed
        assertThrows(RejectedExecutionException.class, () -> log.append(key(1, 1), false));
        assertEquals(1, log.pendingKeys(), "the key whose timer could not be armed is not kept");
        log.append(key(0, 2), false); // buffer 0's timer is armed already
        assertEquals(2, log.pendingKeys());
        log.flush();
        assertSameKeys(List.of(key(0, 1), key(0, 2)), keysOf(readLog(log, new CachePos(0, 0))));
    }

    // ---- moving to a new key segment ---------------------------------------------------------

    /** Fills the data areas of segments 1.. with a pattern, as if they held data earlier. */
    private static void dirtyTheOtherSegments(LogDevice dev) throws IOException {
        for (int s = 1; s < SEGMENTS; s++) {
            dev.region.fill(dev.segments.dataOffset(s), DATA, (byte) 0xAB);
        }
        dev.region.flush(0, dev.region.sizeBytes());
        dev.region.fence();
    }

    private static void assertZeroFrom(LogDevice dev, int segment, int from) throws IOException {
        byte[] area = new byte[DATA - from];
        dev.region.read(dev.segments.dataOffset(segment) + from, area, 0, area.length);
        for (int i = 0; i < area.length; i++) {
            if (area[i] != 0) {
                throw new AssertionError("data area of segment " + segment + " not zero at " + (from + i));
            }
        }
    }

    @Test
    void aKsetThatDoesNotFitGoesToANewZeroedSegmentLinkedByALastKset() throws IOException {
        LogDevice dev = device();
        dirtyTheOtherSegments(dev);
        int start = DATA - 200;
        PmemKeyLog log = started(dev, new CachePos(0, start));
        List<CacheKey> keys = List.of(key(0, 1), key(0, 2), key(0, 3), key(0, 4)); // 184 B + 24 > 200
        for (CacheKey k : keys) {
            log.append(k, false);
        }
        log.flush();
        assertEquals(new CachePos(1, 184), log.head());
        assertTrue(dev.segments.isUsed(1));
        assertEquals(2, dev.segments.usedCount());
        assertEquals(List.of("0:" + start + "+24", "1:0+184"), dev.persisted);
        assertEquals(List.of(), dev.region.notDurable());

        Kset last = log.read(new CachePos(0, start));
        assertNotNull(last);
        assertTrue(last.last());
        assertEquals(1, last.nextSegment());
        assertEquals(24, last.sizeBytes());
        assertEquals(new CachePos(1, 0), last.next());
        List<Kset> ksets = readLog(log, new CachePos(0, start));
        assertEquals(2, ksets.size());
        assertSameKeys(keys, ksets.get(1).keys());
        assertZeroFrom(dev, 1, 184);
    }

    @Test
    void aKsetThatExactlyFitsWithItsTerminatorStaysAndTheNextOneMoves() throws IOException {
        LogDevice dev = device();
        dirtyTheOtherSegments(dev);
        int start = DATA - 64 - 24; // one key (64 B) plus room for a LAST kset
        PmemKeyLog log = started(dev, new CachePos(0, start));
        log.append(key(0, 1), true);
        assertEquals(new CachePos(0, DATA - 24), log.head());
        byte[] tail = new byte[24];
        dev.region.read(dev.segments.dataOffset(0) + DATA - 24, tail, 0, 24);
        assertTrue(Arrays.equals(new byte[24], tail), "the terminator fills the last 24 bytes");

        log.append(key(0, 2), true);
        assertEquals(new CachePos(1, 64), log.head());
        List<Kset> ksets = readLog(log, new CachePos(0, start));
        assertEquals(3, ksets.size());
        assertTrue(ksets.get(1).last());
        assertEquals(new CachePos(0, DATA - 24), ksets.get(1).position());
        assertSameKeys(List.of(key(0, 2)), ksets.get(2).keys());
        assertZeroFrom(dev, 1, 64);
    }

    @Test
    void theLogCrossesSeveralSegments() throws IOException {
        LogDevice dev = device();
        PmemKeyLog log = started(dev, new CachePos(0, 0));
        List<CacheKey> all = new ArrayList<>();
        // full ksets of 5144 B: 3259 fit in one data area (with room for the LAST kset)
        int ksetsPerSegment = (DATA - 24) / 5144;
        for (int i = 0; i < (ksetsPerSegment + 5) * 128; i++) {
            CacheKey k = key(0, i % 2048);
            all.add(k);
            log.append(k, false);
        }
        log.flush();
        assertEquals(List.of(), dev.region.notDurable());
        List<Kset> ksets = readLog(log, new CachePos(0, 0));
        assertEquals(ksetsPerSegment + 1 + 5, ksets.size(), "one LAST kset among them");
        assertTrue(ksets.get(ksetsPerSegment).last());
        assertEquals(new CachePos(1, 5 * 5144), log.head());
        assertSameKeys(all, keysOf(ksets));
    }

    // ---- read() ------------------------------------------------------------------------------

    @Test
    void readReturnsNullWhereThereIsNoKset() throws IOException {
        LogDevice dev = device();
        PmemKeyLog log = started(dev, new CachePos(0, 0));
        log.append(key(0, 1), false);
        log.append(key(0, 2), true);
        long base = dev.segments.dataOffset(0);

        assertNotNull(log.read(new CachePos(0, 0)));
        assertNull(log.read(new CachePos(0, 104)), "past the end: zero terminator");
        assertNull(log.read(new CachePos(0, 8)), "inside a kset");

        // offsets and segments outside the data area
        assertNull(log.read(new CachePos(0, DATA)));
        assertNull(log.read(new CachePos(0, DATA - 23)));
        assertNull(log.read(new CachePos(0, -1)));
        assertNull(log.read(new CachePos(0, Integer.MIN_VALUE)));
        assertNull(log.read(new CachePos(SEGMENTS, 0)));
        assertNull(log.read(new CachePos(-1, 0)));

        // bad CRC: one key byte changed
        byte[] saved = new byte[104];
        dev.region.read(base, saved, 0, 104);
        dev.region.write(base + 24 + 20, new byte[] {(byte) (saved[44] ^ 1)}, 0, 1);
        assertNull(log.read(new CachePos(0, 0)), "bad CRC");
        dev.region.write(base, saved, 0, 104);
        assertNotNull(log.read(new CachePos(0, 0)));

        // bad magic
        dev.region.write(base + 8, new byte[] {(byte) (saved[8] ^ 1)}, 0, 1);
        assertNull(log.read(new CachePos(0, 0)), "bad magic");
        dev.region.write(base, saved, 0, 104);
    }

    private static byte[] header(int keyNumOrNext, long flags) {
        ByteBuffer h = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        h.putInt(4, keyNumOrNext).putLong(8, PcacheFormat.KSET_MAGIC).putLong(16, flags);
        return h.array();
    }

    @Test
    void readReturnsNullForAKeyCountOutOfRangeOrABodyPastTheDataArea() throws IOException {
        LogDevice dev = device();
        PmemKeyLog log = started(dev, new CachePos(0, 0));
        long base = dev.segments.dataOffset(0);
        for (int n : new int[] {0, 129, -1}) {
            dev.region.write(base, header(n, 0), 0, 24);
            assertNull(log.read(new CachePos(0, 0)), "key_num " + n);
        }
        // a valid kset of 5 keys (224 B) whose last bytes would lie past the data area
        byte[] kset = KsetCodec.encode(List.of(key(0, 1), key(0, 2), key(0, 3), key(0, 4), key(0, 5)), dev.crc);
        dev.region.write(base + DATA - 200, kset, 0, 200);
        assertNull(log.read(new CachePos(0, DATA - 200)));
        dev.region.write(base + 1000, kset, 0, kset.length);
        assertEquals(5, log.read(new CachePos(0, 1000)).keys().size(), "the same kset inside the area");
    }

    @Test
    void aLastKsetWithABadCrcEndsTheLogAndOneLinkingOutsideTheCacheIsDamage() throws IOException {
        LogDevice dev = device();
        PmemKeyLog log = started(dev, new CachePos(0, 0));
        long base = dev.segments.dataOffset(0);
        byte[] last = KsetCodec.last(3, dev.crc);
        last[0] ^= 1;
        dev.region.write(base, last, 0, 24);
        assertNull(log.read(new CachePos(0, 0)));

        dev.region.write(base, KsetCodec.last(SEGMENTS, dev.crc), 0, 24);
        CorruptMediaException e = assertThrows(CorruptMediaException.class, () -> log.read(new CachePos(0, 0)));
        assertEquals("kset", e.structure());
        assertEquals(base, e.deviceOffset());
    }

    @Test
    void aKsetWithAValidCrcButImpossibleKeysIsDamage() throws IOException {
        LogDevice dev = device();
        PmemKeyLog log = started(dev, new CachePos(0, 0));
        long base = dev.segments.dataOffset(0) + 512;
        List<CacheKey> impossible = List.of(
                new CacheKey(0, 0).place(1, 0, 0), // empty
                new CacheKey(SLICE - 512, 1024).place(1, 0, 0), // crosses a 4 MiB boundary
                new CacheKey(-4096, 512).place(1, 0, 0), // offset 2^64 - 4096
                new CacheKey(Long.MAX_VALUE - 511, 512).place(1, 0, 0), // ends at 2^63: its end overflows
                new CacheKey(0, 512).place(SEGMENTS, 0, 0), // no such segment
                new CacheKey(0, 512).place(-1, 0, 0), // segment 2^32 - 1
                new CacheKey(0, 4096).place(1, DATA - 2048, 0), // past the data area
                new CacheKey(0, 512).place(1, -512, 0), // offset 2^32 - 512
                new CacheKey(4097, 512).place(1, 0, 0), // not at a sector
                new CacheKey(4096, 511).place(1, 0, 0), // not whole sectors
                new CacheKey(4096, 512).place(1, 100, 0)); // not at a sector of its segment
        for (CacheKey bad : impossible) {
            byte[] kset = KsetCodec.encode(List.of(key(0, 1), bad), dev.crc);
            dev.region.write(base, kset, 0, kset.length);
            CorruptMediaException e = assertThrows(CorruptMediaException.class, () -> log.read(new CachePos(0, 512)),
                    bad.toString());
            assertEquals("kset", e.structure());
            assertEquals(base, e.deviceOffset());
            assertTrue(e.getMessage().contains("key 1 "), e.getMessage());
        }
        // the limits themselves are fine: a whole 4 MiB slice, the last bytes of the data area
        byte[] kset = KsetCodec.encode(List.of(new CacheKey(SLICE, (int) SLICE).place(SEGMENTS - 1, 0, 0),
                new CacheKey(0, 512).place(1, DATA - 512, 0)), dev.crc);
        dev.region.write(base, kset, 0, kset.length);
        assertEquals(2, log.read(new CachePos(0, 512)).keys().size());
    }

    /**
     * dm-pcache always keeps room for a LAST kset after a kset (reference §3.5): one with a valid
     * CRC that ends within 24 bytes of the data area is damage. Appending after it would have
     * written the LAST kset past the data area, into the next segment's header or past the device.
     */
    @Test
    void aKsetThatLeavesNoRoomForALastKsetIsDamage() throws IOException {
        LogDevice dev = device();
        PmemKeyLog log = started(dev, new CachePos(0, 0));
        byte[] kset = KsetCodec.encode(List.of(key(0, 1)), dev.crc);
        int tight = DATA - kset.length - 8; // 8 bytes left after it
        long base = dev.segments.dataOffset(0) + tight;
        dev.region.write(base, kset, 0, kset.length);
        CorruptMediaException e = assertThrows(CorruptMediaException.class, () -> log.read(new CachePos(0, tight)));
        assertEquals("kset", e.structure());
        assertEquals(base, e.deviceOffset());
        assertTrue(e.getMessage().contains("room for a LAST kset"), e.getMessage());
        int roomy = DATA - kset.length - 24; // exactly a LAST kset's room after it
        dev.region.write(dev.segments.dataOffset(0) + roomy, kset, 0, kset.length);
        assertEquals(1, log.read(new CachePos(0, roomy)).keys().size());
    }

    // ---- out of space ------------------------------------------------------------------------

    @Test
    void withoutAFreeSegmentAForcedAppendFailsAndTheBufferKeepsWorking() throws IOException {
        LogDevice dev = device();
        while (dev.segments.allocate(SegmentUse.KEY_LOG) >= 0) {
            // take every segment
        }
        int start = DATA - 100;
        PmemKeyLog log = started(dev, new CachePos(0, start));
        log.append(key(0, 1), false);
        log.append(key(0, 2), false);
        IOException e = assertThrows(IOException.class, () -> log.append(key(0, 3), true));
        assertTrue(e.getMessage().contains("no free segment"), e.getMessage());
        assertEquals(2, log.pendingKeys(), "the failed key is taken back out, the others stay");
        assertEquals(new CachePos(0, start), log.head());
        assertNull(log.read(new CachePos(0, start)), "nothing written");
        assertThrows(IOException.class, log::flush);
        assertEquals(2, log.pendingKeys());

        dev.segments.release(3);
        log.append(key(0, 4), true);
        assertEquals(0, log.pendingKeys());
        List<Kset> ksets = readLog(log, new CachePos(0, start));
        assertEquals(2, ksets.size());
        assertEquals(3, ksets.get(0).nextSegment());
        assertSameKeys(List.of(key(0, 1), key(0, 2), key(0, 4)), ksets.get(1).keys());
    }

    @Test
    void aFullBufferThatCannotCloseGivesItsLastKeyBack() throws IOException {
        LogDevice dev = device();
        while (dev.segments.allocate(SegmentUse.KEY_LOG) >= 0) {
            // take every segment
        }
        PmemKeyLog log = started(dev, new CachePos(0, DATA - 1000)); // a full kset needs 5144 + 24
        for (int i = 0; i < 127; i++) {
            log.append(key(0, i), false);
        }
        assertThrows(IOException.class, () -> log.append(key(0, 127), false));
        assertEquals(127, log.pendingKeys());
        dev.segments.release(2);
        log.append(key(0, 200), false);
        assertEquals(0, log.pendingKeys());
        List<Kset> ksets = readLog(log, new CachePos(0, DATA - 1000));
        assertEquals(128, ksets.get(1).keys().size());
        assertEquals(200 * 2048L, ksets.get(1).keys().get(127).offset());
    }

    @Test
    void aTimerFlushWithoutSpaceIsReportedAndRetried() throws Exception {
        CountDownLatch persistedLatch = new CountDownLatch(1);
        CountDownLatch failedLatch = new CountDownLatch(1);
        LogDevice dev = new LogDevice(SEGMENTS, 1, 10, scheduler) {
            @Override
            public void ksetPersisted(CachePos position, int sizeBytes) {
                super.ksetPersisted(position, sizeBytes);
                if (sizeBytes > 24) {
                    persistedLatch.countDown();
                }
            }

            @Override
            public void flushFailed(IOException error) {
                super.flushFailed(error);
                failedLatch.countDown();
            }
        };
        while (dev.segments.allocate(SegmentUse.KEY_LOG) >= 0) {
            // take every segment
        }
        PmemKeyLog log = started(dev, new CachePos(0, DATA - 30));
        log.append(key(0, 1), false);
        assertTrue(failedLatch.await(10, TimeUnit.SECONDS), "the timer's failure is reported");
        assertEquals(1, log.pendingKeys());
        dev.segments.release(4);
        assertTrue(persistedLatch.await(10, TimeUnit.SECONDS), "the timer retries");
        assertEquals(0, log.pendingKeys());
        assertSameKeys(List.of(key(0, 1)), log.read(new CachePos(4, 0)).keys());
    }

    /**
     * A forced append whose kset is written, but which then waits in vain for an earlier kset
     * (whose write fails), says that its key is in the log ({@code KeyLoggedException}): the
     * caller must keep the key. The earlier kset's own append says its key is not.
     */
    @Test
    @org.junit.jupiter.api.Timeout(60)
    void aForcedAppendWhoseKsetIsWrittenButWhoseWaitFailsSaysItsKeyIsLogged() throws Exception {
        LogDevice dev = device();
        PmemKeyLog log = started(dev, new CachePos(0, 0));
        long first = dev.segments.dataOffset(0); // buffer 0's kset is reserved first, at 0:0
        CountDownLatch writing = new CountDownLatch(1);
        CountDownLatch fail = new CountDownLatch(1);
        dev.region.fault = (what, offset, length) -> {
            if (what.equals("write") && offset == first) {
                writing.countDown();
                try {
                    fail.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                throw new IOException("injected: the earlier kset's write fails");
            }
        };
        CompletableFuture<Void> earlier = CompletableFuture.runAsync(() -> {
            try {
                log.append(key(0, 1), true);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        assertTrue(writing.await(10, TimeUnit.SECONDS));
        Thread[] later = new Thread[1];
        CompletableFuture<Void> fua = CompletableFuture.runAsync(() -> {
            later[0] = Thread.currentThread();
            try {
                log.append(key(1, 1), true);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while ((later[0] == null || later[0].getState() != Thread.State.TIMED_WAITING) && System.nanoTime() < deadline) {
            Thread.sleep(1); // until the later kset is written and its append waits for the earlier one
        }
        assertSameKeys(List.of(key(1, 1)), log.read(new CachePos(0, 64)).keys()); // the later kset is written
        fail.countDown();
        java.util.concurrent.ExecutionException logged = assertThrows(java.util.concurrent.ExecutionException.class,
                () -> fua.get(10, TimeUnit.SECONDS));
        assertTrue(logged.getCause().getCause() instanceof pcache.api.spi.KeyLoggedException, logged.toString());
        java.util.concurrent.ExecutionException notLogged = assertThrows(
                java.util.concurrent.ExecutionException.class, () -> earlier.get(10, TimeUnit.SECONDS));
        assertFalse(notLogged.getCause().getCause() instanceof pcache.api.spi.KeyLoggedException,
                notLogged.toString());
    }

    /**
     * A log that failed for good (a kset's write failed) does not retry another buffer's timer
     * flush: it could only fail again. Before, that timer re-armed itself every 100 ms and
     * reported "retrying" each time, for as long as the process ran.
     */
    @Test
    void aLogThatFailedForGoodIsNotRetriedByItsTimers() throws Exception {
        java.util.concurrent.ScheduledThreadPoolExecutor timers = new java.util.concurrent.ScheduledThreadPoolExecutor(1);
        java.util.concurrent.atomic.AtomicInteger reports = new java.util.concurrent.atomic.AtomicInteger();
        CountDownLatch reported = new CountDownLatch(1);
        LogDevice dev = new LogDevice(SEGMENTS, 2, 20, timers) {
            @Override
            public void flushFailed(IOException error) {
                super.flushFailed(error);
                reports.incrementAndGet();
                reported.countDown();
            }
        };
        try {
            PmemKeyLog log = started(dev, new CachePos(0, 0));
            dev.region.fault = (what, offset, length) -> {
                if (what.equals("write")) {
                    throw new IOException("injected: the medium fails");
                }
            };
            log.append(key(0, 1), false); // buffer 0: its timer's kset write fails the log
            log.append(key(1, 1), false); // buffer 1: its timer finds the log failed
            assertTrue(reported.await(10, TimeUnit.SECONDS), "the failure is reported");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!timers.getQueue().isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(5); // both timers have run
            }
            Thread.sleep(300); // three periods of a retrying timer
            assertEquals(1, reports.get(), "reported once");
            assertTrue(timers.getQueue().isEmpty(), "no timer re-armed");
            IOException later = assertThrows(IOException.class, log::flush);
            assertTrue(later.getMessage().contains("failed earlier"), later.getMessage());
        } finally {
            timers.shutdownNow();
        }
    }

    /**
     * A flush seals buffer 0's kset, then cannot seal buffer 1's (the new key segment cannot be
     * zeroed). The kset it already reserved must still be written: it holds keys no longer in
     * any buffer, and its number is one every later flush waits for (before, the next flush
     * waited forever). The segment it failed to zero is given back.
     */
    @Test
    void aFlushThatCannotSealEveryBufferStillWritesTheKsetItReserved() throws Exception {
        LogDevice dev = device();
        int start = DATA - 64 - 24 - 10; // one kset of one key fits (with its LAST), a second does not
        PmemKeyLog log = started(dev, new CachePos(0, start));
        log.append(key(0, 1), false); // buffer 0
        log.append(key(1, 1), false); // buffer 1
        dev.region.fault = (what, offset, length) -> {
            if (what.equals("fill")) {
                throw new IOException("injected: zeroing the new key segment failed");
            }
        };
        IOException e = assertThrows(IOException.class, log::flush);
        assertTrue(e.getMessage().contains("injected"), e.getMessage());
        assertEquals(1, dev.segments.usedCount(), "the segment that could not be zeroed is free again");
        assertEquals(List.of("0:" + start + "+64"), dev.persisted, "buffer 0's kset was written");
        assertSameKeys(List.of(key(0, 1)), log.read(new CachePos(0, start)).keys());
        assertEquals(1, log.pendingKeys(), "buffer 1 keeps its key");

        dev.region.fault = (what, offset, length) -> { };
        CompletableFuture<Void> retry = CompletableFuture.runAsync(() -> {
            try {
                log.flush();
            } catch (IOException x) {
                throw new java.io.UncheckedIOException(x);
            }
        });
        retry.get(10, TimeUnit.SECONDS); // before: waited forever for the kset never written
        assertEquals(0, log.pendingKeys());
        assertSameKeys(List.of(key(0, 1), key(1, 1)), keysOf(readLog(log, new CachePos(0, start))));
    }

    /**
     * A flush whose barrier callback throws still writes the ksets it reserved: they hold keys
     * already out of their buffers. Before, they were never written: the log missed acknowledged
     * keys, and every later flush and FUA write waited forever for their numbers.
     */
    @Test
    void aFlushWhoseBarrierCallbackThrowsStillWritesTheKsetsItReserved() throws Exception {
        LogDevice dev = device();
        PmemKeyLog log = started(dev, new CachePos(0, 0));
        log.append(key(0, 1), false);
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> log.flushToBarrier(at -> {
                    throw new IllegalStateException("injected: the barrier's callback fails");
                }));
        assertTrue(e.getMessage().contains("injected"), e.getMessage());
        assertSameKeys(List.of(key(0, 1)), log.read(new CachePos(0, 0)).keys());
        log.append(key(1, 1), false);
        CompletableFuture.runAsync(() -> {
            try {
                log.flush();
            } catch (IOException x) {
                throw new java.io.UncheckedIOException(x);
            }
        }).get(10, TimeUnit.SECONDS); // before: waited forever for the kset never written
        assertSameKeys(List.of(key(0, 1), key(1, 1)), keysOf(readLog(log, new CachePos(0, 0))));
    }

    /**
     * The timer writes the kset it sealed outside the buffer's lock: an append to the same buffer
     * goes on while that write is under way, as beside another append's write. Before, the timer
     * wrote under the lock, and appends (with them the reads and writes of their slices) waited for
     * its msync. A close still waits for that write.
     */
    @Test
    @org.junit.jupiter.api.Timeout(60)
    void anAppendGoesOnWhileTheTimerWritesTheBuffersLastKset() throws Exception {
        LogDevice dev = new LogDevice(SEGMENTS, 1, 20, scheduler);
        PmemKeyLog log = started(dev, new CachePos(0, 0));
        long first = dev.segments.dataOffset(0);
        CountDownLatch writing = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        dev.region.fault = (what, offset, length) -> {
            if (what.equals("write") && offset == first) {
                writing.countDown();
                try {
                    release.await();
                } catch (InterruptedException x) {
                    Thread.currentThread().interrupt();
                }
            }
        };
        try {
            log.append(key(0, 1), false);
            assertTrue(writing.await(10, TimeUnit.SECONDS), "the timer writes the kset");
            CompletableFuture<Void> append = CompletableFuture.runAsync(() -> {
                try {
                    log.append(key(0, 2), false);
                } catch (IOException x) {
                    throw new java.io.UncheckedIOException(x);
                }
            });
            append.get(10, TimeUnit.SECONDS); // before: waited for the timer's write
            Thread closing = new Thread(log::close, "closing the key log");
            closing.start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (closing.getState() != Thread.State.BLOCKED && closing.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(1); // until the close has marked the log closed and waits for the timer's write
            }
            assertEquals(Thread.State.BLOCKED, closing.getState(), "the close waits for the timer's write");
            release.countDown();
            closing.join(TimeUnit.SECONDS.toMillis(10));
            assertFalse(closing.isAlive(), "the close returns once the write is done");
            assertSameKeys(List.of(key(0, 1)), log.read(new CachePos(0, 0)).keys());
            assertEquals(1, log.pendingKeys(), "the second key waits in its buffer");
        } finally {
            release.countDown();
        }
    }

    /**
     * A kset's write that ends in an Error (the JVM's InternalError for a fault in mapped memory)
     * fails the log, as an IOException does: the request gets an I/O error and every later flush
     * fails at once. Before, the failure was never recorded and every later flush waited forever.
     */
    @Test
    void aKsetWriteEndingInAnErrorFailsTheLogInsteadOfLeavingFlushesWaiting() throws Exception {
        LogDevice dev = device();
        PmemKeyLog log = started(dev, new CachePos(0, 0));
        dev.region.fault = (what, offset, length) -> {
            throw new InternalError("simulated fault in an unsafe memory access operation");
        };
        IOException e = assertThrows(IOException.class, () -> log.append(key(0, 1), true));
        assertTrue(e.getMessage().contains("simulated fault"), e.getMessage());
        dev.region.fault = (what, offset, length) -> { };
        CompletableFuture<IOException> later = CompletableFuture.supplyAsync(() -> {
            try {
                log.append(key(1, 1), false);
                log.flush();
                return null;
            } catch (IOException x) {
                return x;
            }
        });
        IOException failed = later.get(10, TimeUnit.SECONDS);
        assertNotNull(failed, "the log stays failed");
        assertTrue(failed.getMessage().contains("failed earlier"), failed.getMessage());
    }

    /** Each failed move to a new key segment gives the segment back: retries cannot use up the cache. */
    @Test
    void failedMovesToANewSegmentDoNotLeakSegments() throws IOException {
        LogDevice dev = device();
        PmemKeyLog log = started(dev, new CachePos(0, DATA - 30));
        dev.region.fault = (what, offset, length) -> {
            if (what.equals("fill")) {
                throw new IOException("injected: zeroing failed");
            }
        };
        for (int i = 0; i < 2 * SEGMENTS; i++) {
            assertThrows(IOException.class, () -> log.append(key(0, 1), true));
            assertEquals(1, dev.segments.usedCount(), "attempt " + i);
        }
        dev.region.fault = (what, offset, length) -> { };
        log.append(key(0, 1), true);
        assertEquals(2, dev.segments.usedCount());
    }

    // ---- concurrency -------------------------------------------------------------------------

    @Test
    void concurrentAppendsKeepEachSlicesOrder() throws Exception {
        LogDevice dev = new LogDevice(SEGMENTS, 3, 5, scheduler);
        PmemKeyLog log = started(dev, new CachePos(0, 0));
        int threads = 4;
        int perThread = 1500;
        List<Thread> workers = new ArrayList<>();
        List<Throwable> errors = new CopyOnWriteArrayList<>();
        for (int t = 0; t < threads; t++) {
            int slice = t;
            Thread w = new Thread(() -> {
                try {
                    for (int i = 0; i < perThread; i++) {
                        log.append(key(slice, i), i % 97 == 0);
                    }
                } catch (Throwable e) {
                    errors.add(e);
                }
            });
            workers.add(w);
            w.start();
        }
        for (Thread w : workers) {
            w.join();
        }
        assertEquals(List.of(), errors);
        log.flush();
        List<CacheKey> keys = keysOf(readLog(log, new CachePos(0, 0)));
        assertEquals(threads * perThread, keys.size());
        int[] next = new int[threads];
        for (CacheKey k : keys) {
            int slice = (int) (k.offset() / SLICE);
            int n = (int) ((k.offset() % SLICE) / 2048);
            assertEquals(next[slice]++, n, "slice " + slice + " keys in append order");
        }
    }
}
