package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import pcache.api.CacheConfigurationException;
import pcache.api.CacheDevice;
import pcache.api.CacheImageTool.FsckReport;
import pcache.api.CachePos;
import pcache.api.CorruptMediaException;
import pcache.api.format.PcacheFormat;
import pcache.api.spi.CacheKey;
import pcache.api.spi.WritebackContext;
import pcache.api.spi.WritebackOutcome;
import pcache.api.spi.WritebackPolicy;
import pcache.engine.internal.engine.CacheEngine;
import pcache.engine.internal.engine.EngineConfig;
import pcache.engine.internal.image.ImageFile;
import pcache.engine.internal.image.ImageInspector;
import pcache.engine.internal.media.CachePosCodec;
import pcache.engine.internal.media.SuperblockCodec;
import pcache.keyindex.internal.KsetCodec;

/**
 * Every kind of damaged or foreign cache device is refused with an error that names the
 * structure and its device offset — or, where the format allows, recovered from.
 */
class BadMediaTest {

    private static final long LOGICAL = 64 * Harness.MIB;
    private static final int SEGMENTS = 6;

    private SimulatedPmem pmem;
    private MemoryBacking backing;

    /** A formatted cache holding some data, closed cleanly. */
    @BeforeEach
    void formatted() throws Exception {
        pmem = new SimulatedPmem(Harness.deviceBytes(SEGMENTS), false);
        backing = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine e = Harness.open(Harness.config("bad"), pmem, Harness.holder(backing), null);
        e.write(0, Harness.pattern(0, 65536, 1), false);
        e.close();
        pmem = pmem.reopen();
    }

    private CacheEngine open() throws Exception {
        return Harness.open(Harness.config("bad"), pmem, Harness.holder(backing), null);
    }

    private CorruptMediaException refused(String structure, long offset) {
        CorruptMediaException e = assertThrows(CorruptMediaException.class, this::open);
        assertEquals(structure, e.structure(), e.getMessage());
        assertEquals(offset, e.deviceOffset(), e.getMessage());
        assertTrue(e.getMessage().contains(structure), e.getMessage());
        return e;
    }

    private void corruptBoth(long slot0, int stride) {
        pmem.corrupt(slot0 + 9, 0x40);
        pmem.corrupt(slot0 + stride + 9, 0x40);
    }

    private void writeRaw(long offset, byte[] bytes) throws Exception {
        pmem.write(offset, bytes, 0, bytes.length);
    }

    @Test
    void wrongMagic() throws Exception {
        pmem.corrupt(PcacheFormat.SB_OFF + 8, 0x5a);
        CorruptMediaException e = refused("superblock", PcacheFormat.SB_OFF);
        assertTrue(e.getMessage().contains("magic"), e.getMessage());
    }

    /**
     * A zeroed superblock on a device that holds a cache is damage, not a blank device: dm-pcache
     * formats whenever the magic is 0, which would discard the cache's dirty data. Zeroing the
     * first 24 KiB, as the refusal says, starts an empty cache. Before, the open formatted at once.
     */
    @Test
    void aZeroedSuperblockOnADeviceThatHoldsACacheIsRefusedNotFormatted() throws Exception {
        writeRaw(PcacheFormat.SB_OFF, new byte[PcacheFormat.SB_STRUCT_SIZE]);
        CorruptMediaException e = refused("superblock", PcacheFormat.SB_OFF);
        assertTrue(e.getMessage().contains("magic 0, but the device is not blank")
                && e.getMessage().contains("zero its first 24 KiB"), e.getMessage());
        pmem = pmem.reopen();
        assertEquals(0, pmem.getLong(PcacheFormat.SB_OFF + 8), "nothing written");
        writeRaw(0, new byte[24 * 1024]);
        CacheEngine fresh = open();
        try {
            assertArrayEquals(new byte[4096], Harness.read(fresh, 0, 4096), "an empty cache over the disk");
        } finally {
            fresh.close();
        }
    }

    /**
     * A format cut off while writing the superblock (its CRC and seg_num there, not its magic) on
     * a device whose cache_info it had zeroed is formatted again, as the kernel would: only
     * cache_info tells a damaged cache from a blank device.
     */
    @Test
    void aSuperblockCutOffBeforeItsMagicOverAZeroCacheInfoIsFormattedAgain() throws Exception {
        writeRaw(PcacheFormat.CACHE_INFO_OFF, new byte[3 * PcacheFormat.CACHE_INFO_SLOT_STRIDE]); // info and ctrl
        writeRaw(PcacheFormat.SB_OFF + 8, new byte[8]); // the magic only
        CacheEngine fresh = open();
        try {
            assertArrayEquals(new byte[4096], Harness.read(fresh, 0, 4096), "formatted: an empty cache");
        } finally {
            fresh.close();
        }
    }

    /**
     * A cache formatted over a device whose cache_info was gone starts without the quarantined
     * ranges of the cache before it: they were that cache's lost data. Before, the format kept
     * them, and reads of those ranges of the new cache failed after its first restart; and the
     * tails of the cache before, left in cache_ctrl, could win over the new ones at the next open.
     */
    @Test
    void aFormatStartsWithoutTheQuarantineOfTheCacheBefore() throws Exception {
        pmem = new SimulatedPmem(Harness.deviceBytes(SEGMENTS), false);
        // write-back only when drained: else it may take the good bytes before they are damaged
        CacheEngine first = Harness.open(Harness.config("bad").withDataCrc(true), pmem, Harness.holder(backing),
                Harness.onlyWhenDraining(new pcache.writeback.internal.OrderedWritebackPolicy()));
        first.write(65536, Harness.pattern(65536, 16384, 1), false);
        pmem.corrupt(Harness.dataPlace(first, 65536 + 4096).deviceOffset(), 0x01);
        first.drain(null); // write-back quarantines the damaged extent
        assertEquals(1, first.statistics().quarantinedExtents());
        first.close();
        pmem = pmem.reopen();
        writeRaw(PcacheFormat.CACHE_INFO_OFF, new byte[PcacheFormat.META_SLOTS * PcacheFormat.CACHE_INFO_SLOT_STRIDE]);
        CacheEngine formatted = Harness.open(Harness.config("bad").withDataCrc(true), pmem, Harness.holder(backing),
                null);
        formatted.close();
        pmem = pmem.reopen();
        CacheEngine reopened = Harness.open(Harness.config("bad").withDataCrc(true), pmem, Harness.holder(backing),
                null);
        try {
            assertEquals(0, reopened.statistics().quarantinedExtents(), "the format started without it");
            Harness.read(reopened, 65536, 16384); // no DataIntegrityException
        } finally {
            reopened.close();
        }
    }

    /**
     * The newest copy of dirty_tail damaged, and a kset already written back damaged between
     * key_tail and the older copy: the open is refused. Before, write-back restarted at key_tail:
     * the ksets before the damage were written back again, older data over newer data the backing
     * device already held (here v1 of [0, 4 KiB) over v3).
     */
    @Test
    void aDamagedNewestDirtyTailWithTheLogBrokenBeforeTheOlderCopyIsRefused() throws Exception {
        pmem = new SimulatedPmem(Harness.deviceBytes(SEGMENTS), false);
        CacheEngine e = Harness.open(Harness.config("bad"), pmem, Harness.holder(backing), Harness.drainOnlyPolicy());
        e.write(0, Harness.pattern(0, 4096, 1), false);
        e.flush();
        e.write(65536, Harness.pattern(65536, 4096, 2), false);
        e.flush();
        e.write(0, Harness.pattern(0, 4096, 3), false);
        e.flush();
        e.drain(null);
        e.write(131072, Harness.pattern(131072, 4096, 4), false);
        e.flush();
        e.drain(null);
        e.close();
        pmem = pmem.reopen();
        assertArrayEquals(Harness.pattern(0, 4096, 3).array(), backing.content(0, 4096));
        // the two copies of dirty_tail: the newest is the one further along the log
        CachePos[] copies = new CachePos[2];
        for (int i = 0; i < 2; i++) {
            byte[] b = new byte[PcacheFormat.POS_STRUCT_SIZE];
            pmem.read(PcacheFormat.DIRTY_TAIL_OFF + (long) i * PcacheFormat.POS_STRUCT_SIZE, b, 0, b.length);
            copies[i] = CachePosCodec.decode(b);
        }
        int newest = copies[0].offset() > copies[1].offset() ? 0 : 1;
        CachePos older = copies[1 - newest];
        long kset0 = PcacheFormat.segmentOffset(0) + PcacheFormat.SEG_DATA_OFF;
        int secondKset = 24 + 40; // the first kset holds one key
        assertTrue(older.segment() == 0 && older.offset() > secondKset, "the older copy lies past the second kset: "
                + older);
        pmem.corrupt(PcacheFormat.DIRTY_TAIL_OFF + (long) newest * PcacheFormat.POS_STRUCT_SIZE + 8, 0x01);
        pmem.corrupt(kset0 + secondKset + 30, 0x01); // a key of the second kset: its CRC fails
        CorruptMediaException refused = refused("dirty_tail", PcacheFormat.DIRTY_TAIL_OFF);
        assertTrue(refused.getMessage().contains("breaks off at 0:" + secondKset)
                && refused.getMessage().contains("older data over newer data"), refused.getMessage());
        assertArrayEquals(Harness.pattern(0, 4096, 3).array(), backing.content(0, 4096), "nothing written back");
    }

    /**
     * Generations are u64 on media, as in the kernel: a key whose generation is 2^63 (a valid kset
     * CRC over it) is newer than its segment, and refused. Before, compared signed, it counted as
     * stale and was skipped without a word, with the data it describes.
     */
    @Test
    void aKeyGenerationAtOrPastTwoToTheSixtyThirdIsNewerNotStale() throws Exception {
        long kset0 = PcacheFormat.segmentOffset(0) + PcacheFormat.SEG_DATA_OFF;
        byte[] header = new byte[PcacheFormat.KSET_HEADER_SIZE];
        pmem.read(kset0, header, 0, header.length);
        int keys = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN).getInt(4);
        byte[] kset = new byte[PcacheFormat.KSET_HEADER_SIZE + keys * PcacheFormat.KEY_SIZE];
        pmem.read(kset0, kset, 0, kset.length);
        ByteBuffer b = ByteBuffer.wrap(kset).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(PcacheFormat.KSET_HEADER_SIZE + pcache.api.format.PcacheLayout.Key.GEN, 1L << 63);
        b.putInt(0, Harness.CRC.checksum(kset, 4, kset.length - 4));
        writeRaw(kset0, kset);
        CorruptMediaException e = assertThrows(CorruptMediaException.class, this::open);
        assertEquals("segment generation", e.structure(), e.getMessage());
        assertTrue(e.getMessage().contains("written under generation 9223372036854775808"), e.getMessage());
    }

    @Test
    void superblockCrc() throws Exception {
        pmem.corrupt(PcacheFormat.SB_OFF + 16, 0x01); // seg_num changes, CRC does not
        CorruptMediaException e = refused("superblock", PcacheFormat.SB_OFF);
        assertTrue(e.getMessage().contains("CRC"), e.getMessage());
    }

    @Test
    void bigEndianSuperblock() throws Exception {
        writeRaw(PcacheFormat.SB_OFF, SuperblockCodec.encode(PcacheFormat.SB_FLAG_BIGENDIAN, SEGMENTS, Harness.CRC));
        refused("superblock", PcacheFormat.SB_OFF);
    }

    @Test
    void truncatedDevice() throws Exception {
        // the superblock promises more segments than the device holds
        writeRaw(PcacheFormat.SB_OFF, SuperblockCodec.encode(0, SEGMENTS + 3, Harness.CRC));
        CorruptMediaException e = refused("superblock", PcacheFormat.SB_OFF);
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void cacheInfoBothSlotsBad() throws Exception {
        corruptBoth(PcacheFormat.CACHE_INFO_OFF, PcacheFormat.CACHE_INFO_SLOT_STRIDE);
        refused("cache_info", PcacheFormat.CACHE_INFO_OFF);
    }

    @Test
    void cacheInfoOneSlotBadIsRecovered() throws Exception {
        // every open stores cache_info into the other slot: damage the newest, the older one serves
        pmem.corrupt(PcacheFormat.CACHE_INFO_OFF + 9, 0x40);
        pmem.corrupt(PcacheFormat.CACHE_INFO_OFF + PcacheFormat.CACHE_INFO_SLOT_STRIDE + 9, 0x00);
        CacheEngine e = open();
        try {
            assertArrayEquals(Harness.pattern(0, 65536, 1).array(), Harness.read(e, 0, 65536));
        } finally {
            e.close();
        }
    }

    @Test
    void keyTailBothSlotsBad() throws Exception {
        corruptBoth(PcacheFormat.KEY_TAIL_OFF, PcacheFormat.POS_STRUCT_SIZE);
        refused("key_tail", PcacheFormat.KEY_TAIL_OFF);
    }

    @Test
    void dirtyTailBothSlotsBad() throws Exception {
        corruptBoth(PcacheFormat.DIRTY_TAIL_OFF, PcacheFormat.POS_STRUCT_SIZE);
        refused("dirty_tail", PcacheFormat.DIRTY_TAIL_OFF);
    }

    @Test
    void dirtyTailNotOnTheLog() throws Exception {
        // a valid record pointing into the middle of nowhere
        byte[] pos = CachePosCodec.encode(new pcache.api.CachePos(3, 4096));
        pos[4] = 9; // seq newer than both slots
        ByteBuffer.wrap(pos).order(ByteOrder.LITTLE_ENDIAN).putInt(0, Harness.CRC.checksum(pos, 4, 12));
        writeRaw(PcacheFormat.DIRTY_TAIL_OFF, pos);
        refused("dirty_tail", PcacheFormat.DIRTY_TAIL_OFF);
    }

    /** Both slots of a position record. */
    private byte[][] slots(long record) throws Exception {
        byte[][] slots = new byte[PcacheFormat.META_SLOTS][];
        for (int i = 0; i < slots.length; i++) {
            slots[i] = new byte[PcacheFormat.POS_STRUCT_SIZE];
            pmem.read(record + (long) i * PcacheFormat.POS_STRUCT_SIZE, slots[i], 0, PcacheFormat.POS_STRUCT_SIZE);
        }
        return slots;
    }

    /** The slot with the newer seq (both valid). */
    private static int newest(byte[][] slots) {
        return PcacheFormat.seqAfter(slots[0][4] & 0xFF, slots[1][4] & 0xFF) ? 0 : 1;
    }

    /**
     * The first store of dirty_tail after an open fills both slots: the older slot's copy may lie
     * anywhere behind, in a key segment GC has released since, and a damaged newest copy would
     * make replay use it. Before, one slot was stored and the other kept the format's start.
     */
    @Test
    void theFirstDirtyTailStoreAfterAnOpenFillsBothSlots() throws Exception {
        CacheEngine e = Harness.open(Harness.config("bad"), pmem, Harness.holder(backing), Harness.drainOnlyPolicy());
        e.drain(null); // the setup's 64 KiB: one advance of dirty_tail
        e.close();
        pmem = pmem.reopen();
        byte[][] dirtyTail = slots(PcacheFormat.DIRTY_TAIL_OFF);
        CachePos newest = CachePosCodec.decode(dirtyTail[newest(dirtyTail)]);
        assertTrue(newest.offset() > 0, "dirty_tail advanced: " + newest);
        assertEquals(newest, CachePosCodec.decode(dirtyTail[1 - newest(dirtyTail)]), "both slots");
    }

    @Test
    void dirtyTailOlderCopyBehindKeyTailRestartsWritebackAtKeyTail() throws Exception {
        // the 64 KiB at 0 of the setup is written back and passed by GC (key_tail = dirty_tail =
        // the end of the log), then 64 KiB at 1 MiB are written and stay dirty: write-back is
        // stopped first, as a step that began while draining or purging could otherwise take them
        GatedPolicy policy = new GatedPolicy(Harness.drainOnlyPolicy());
        CacheEngine e = Harness.open(Harness.config("bad"), pmem, Harness.holder(backing), policy);
        e.drain(null);
        // a second advance of dirty_tail: the first after an open stores both slots, a later one in
        // the same key segment leaves the older slot at the position before it (as the kernel's
        // images may hold it), which GC's purge then passes
        e.write(2 * Harness.MIB, Harness.pattern(2 * Harness.MIB, 4096, 3), true);
        e.drain(null);
        e.purge();
        policy.stop();
        e.write(Harness.MIB, Harness.pattern(Harness.MIB, 65536, 2), true);
        e.close();
        pmem = pmem.reopen();
        // damage the newest dirty_tail copy: the older one points behind key_tail
        byte[][] dirtyTail = slots(PcacheFormat.DIRTY_TAIL_OFF);
        byte[][] keyTail = slots(PcacheFormat.KEY_TAIL_OFF);
        int newest = newest(dirtyTail);
        CachePos keyTailPos = CachePosCodec.decode(keyTail[newest(keyTail)]);
        assertEquals(keyTailPos, CachePosCodec.decode(dirtyTail[newest]), "dirty_tail = key_tail");
        assertTrue(CachePosCodec.decode(dirtyTail[1 - newest]).offset() < keyTailPos.offset(),
                "the older dirty_tail copy is behind key_tail");
        pmem.corrupt(PcacheFormat.DIRTY_TAIL_OFF + (long) newest * PcacheFormat.POS_STRUCT_SIZE + 9, 0x40);
        FsckReport fsck = new ImageInspector(Harness.CRC).fsck(ImageFile.of(pmem));
        assertEquals(List.of(), fsck.errors());
        assertTrue(fsck.warnings().stream().anyMatch(w -> w.contains("writes back every kset from key_tail again")),
                fsck.warnings().toString());
        e = Harness.open(Harness.config("bad"), pmem, Harness.holder(backing), Harness.drainOnlyPolicy());
        try {
            assertArrayEquals(Harness.pattern(0, 65536, 1).array(), Harness.read(e, 0, 65536));
            assertArrayEquals(Harness.pattern(Harness.MIB, 65536, 2).array(), Harness.read(e, Harness.MIB, 65536));
            e.drain(null);
            assertTrue(e.isClean());
        } finally {
            e.close();
        }
        assertArrayEquals(Harness.pattern(Harness.MIB, 65536, 2).array(), backing.content(Harness.MIB, 65536));
        // write-back stored dirty_tail into the damaged slot: the next open finds both slots valid
        pmem = pmem.reopen();
        open().close();
    }

    @Test
    void segmentInfoBothSlotsBad() throws Exception {
        long seg3 = PcacheFormat.segmentOffset(3);
        corruptBoth(seg3, PcacheFormat.SEG_INFO_SLOT_STRIDE);
        refused("segment_info", seg3);
    }

    @Test
    void segmentGenerationBothSlotsBad() throws Exception {
        long gen = PcacheFormat.segmentOffset(2) + PcacheFormat.SEG_GEN_OFF;
        corruptBoth(gen, PcacheFormat.SEG_GEN_STRUCT_SIZE);
        CorruptMediaException e = refused("segment generation", gen);
        assertTrue(e.getMessage().contains("stale"), e.getMessage());
    }

    @Test
    void keyPointingOutsideTheCache() throws Exception {
        CacheKey bad = new CacheKey(8192, 4096).place(SEGMENTS + 5, 0, 0);
        int at = appendKsetAtHead(List.of(bad));
        // the key log refuses a kset whose CRC holds but whose keys cannot be right
        CorruptMediaException e = refused("kset", PcacheFormat.segmentOffset(0) + PcacheFormat.SEG_DATA_OFF + at);
        assertTrue(e.getMessage().contains("outside"), e.getMessage());
    }

    @Test
    void keyBeyondTheLogicalDevice() throws Exception {
        CacheKey bad = new CacheKey(LOGICAL - 512, 4096).place(1, 0, 0);
        int at = appendKsetAtHead(List.of(bad));
        CorruptMediaException e = refused("kset", PcacheFormat.segmentOffset(0) + PcacheFormat.SEG_DATA_OFF + at);
        assertTrue(e.getMessage().contains("key 0"), e.getMessage());
    }

    @Test
    void ksetWithBadCrcEndsTheLog() throws Exception {
        // a kset whose CRC fails is where the log ends (a torn write): earlier data survives
        CacheKey later = new CacheKey(0, 4096).place(1, 0, 0);
        int at = appendKsetAtHead(List.of(later));
        pmem.corrupt(PcacheFormat.segmentOffset(0) + PcacheFormat.SEG_DATA_OFF + at + 30, 0x10);
        CacheEngine e = open();
        try {
            assertArrayEquals(Harness.pattern(0, 65536, 1).array(), Harness.read(e, 0, 65536));
            assertEquals(at, e.status(pcache.api.CacheMode.WRITEBACK).keyHead().offset());
        } finally {
            e.close();
        }
    }

    /**
     * Damage write-back finds on the cache device after replay (a kset whose CRC holds but whose
     * key cannot be right) is reported as the cache device's, never as a failing backing device.
     */
    @Test
    void damageWritebackFindsInTheKeyLogIsTheCacheDevicesNotTheBackingDevices() throws Exception {
        try (Damaged d = new Damaged()) {
            CachePos tail = d.engine.status(pcache.api.CacheMode.WRITEBACK).dirtyTail();
            long at = PcacheFormat.segmentOffset(tail.segment()) + PcacheFormat.SEG_DATA_OFF + tail.offset();
            writeRaw(at, KsetCodec.encode(List.of(new CacheKey(0, 4096).place(SEGMENTS + 5, 0, 0)), Harness.CRC));
            d.drainFailsOnTheCacheDevice("kset", at, "outside");
        }
    }

    /**
     * A damaged kset inside a step's group ends the group there: the ksets before it are written
     * back and dirty_tail moves up to it, where write-back then stops and reports it. Before, the
     * damage failed the whole step, so nothing of the group was written back, and the report
     * said only what lay from the damage on was left in the cache.
     */
    @Test
    void damageInsideAGroupStopsWritebackAtTheDamageNotBeforeIt() throws Exception {
        try (Damaged d = new Damaged()) {
            long second = 4L << 20;
            d.engine.write(second, Harness.pattern(second, 65536, 3), false);
            d.engine.flush();
            CachePos third = d.engine.status(pcache.api.CacheMode.WRITEBACK).keyHead();
            d.engine.write(8L << 20, Harness.pattern(8L << 20, 65536, 4), false);
            d.engine.flush();
            long at = PcacheFormat.segmentOffset(third.segment()) + PcacheFormat.SEG_DATA_OFF + third.offset();
            writeRaw(at, KsetCodec.encode(List.of(new CacheKey(0, 4096).place(SEGMENTS + 5, 0, 0)), Harness.CRC));
            d.drainFailsOnTheCacheDevice("kset", at, "outside", false);
            assertArrayEquals(Harness.pattern(Damaged.AT, 65536, 2).array(), d.disk.content(Damaged.AT, 65536));
            assertArrayEquals(Harness.pattern(second, 65536, 3).array(), d.disk.content(second, 65536));
            assertEquals(third, d.engine.status(pcache.api.CacheMode.WRITEBACK).dirtyTail(), "dirty_tail at the damage");
        }
    }

    /**
     * Damage GC meets at key_tail stays reported, and logged once, while write-back goes on ahead
     * of it. Before, each kset write-back passed cleared the report; GC, woken by the same step,
     * found the damage again and logged it again: health flapped between critical and fine while
     * GC freed nothing, and the log filled with the same ERROR.
     */
    @Test
    void damageGcMeetsAtKeyTailStaysReportedWhileWritebackGoesOn() throws Exception {
        List<String> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.logging.Logger log = java.util.logging.Logger.getLogger(CacheEngine.class.getName());
        java.util.logging.Handler capture = new java.util.logging.Handler() {
            @Override
            public void publish(java.util.logging.LogRecord record) {
                if (record.getLevel().intValue() >= java.util.logging.Level.SEVERE.intValue()) {
                    errors.add(record.getMessage());
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        log.addHandler(capture);
        CacheEngine e = Harness.open(Harness.config("bad"), pmem, Harness.holder(backing), Harness.drainOnlyPolicy());
        try {
            e.setGcPercent(CacheDevice.GC_PERCENT_MAX); // GC waits: the first kset stays at key_tail
            e.drain(null);
            CachePos keyTail = e.status(pcache.api.CacheMode.WRITEBACK).keyTail();
            long ksetAt = PcacheFormat.segmentOffset(keyTail.segment()) + PcacheFormat.SEG_DATA_OFF + keyTail.offset();
            pmem.corrupt(ksetAt + 16, 0x40);
            e.setGcPercent(0); // GC looks at key_tail now
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
            while (e.conditions(null).keyLogDamage() == null) {
                assertTrue(System.nanoTime() < deadline, "GC reports the kset at key_tail");
                Thread.sleep(5);
            }
            for (int round = 0; round < 5; round++) {
                e.write(2 << 20, Harness.pattern(2 << 20, 4096, round), true);
                e.drain(null);
                String damage = e.conditions(null).keyLogDamage();
                assertTrue(damage != null && damage.contains("GC cannot pass it"), "round " + round + ": " + damage);
            }
            assertEquals(1, errors.stream().filter(m -> m.contains("GC cannot pass it")).count(), errors.toString());
        } finally {
            log.removeHandler(capture);
            e.close();
        }
    }

    /**
     * A key older than its segment (its segment reclaimed since) in a kset after dirty_tail is left
     * out by write-back as replay leaves it out: its bytes are another life's of the segment. The
     * kernel's GC can leave such keys behind (it gives references back before it stores key_tail).
     * Before, write-back wrote them over the backing device's good data, and took their bytes off
     * dirty_bytes, which replay had never counted.
     */
    @Test
    void aKeyOlderThanItsSegmentAfterDirtyTailIsNotWrittenBack() throws Exception {
        int segment = -1;
        long generation = 0;
        CacheEngine e = Harness.open(Harness.config("bad"), pmem, Harness.holder(backing), Harness.drainOnlyPolicy());
        try {
            e.setGcPercent(0);
            // overwrites free their segments: GC reclaims them, and their generations move on
            for (int round = 0; round < 200 && segment < 0; round++) {
                e.write(0, Harness.pattern(0, 1 << 20, round), true);
                e.drain(null);
                for (int s = 0; s < e.segments().segmentCount(); s++) {
                    if (e.segments().generation(s) > 0) {
                        segment = s;
                        generation = e.segments().generation(s);
                        break;
                    }
                }
            }
            assertTrue(segment >= 0, "GC reclaimed a segment");
        } finally {
            e.close();
        }
        pmem = pmem.reopen();
        long at = 32L << 20;
        backing.write(at, Harness.pattern(at, 4096, 77), false);
        backing.flush();
        CacheEngine head = open();
        CachePos keyHead = head.status(pcache.api.CacheMode.WRITEBACK).keyHead();
        head.close();
        pmem = pmem.reopen();
        CacheKey stale = new CacheKey(at, 4096).place(segment, 0, generation - 1);
        writeRaw(PcacheFormat.segmentOffset(keyHead.segment()) + PcacheFormat.SEG_DATA_OFF + keyHead.offset(),
                KsetCodec.encode(List.of(stale), Harness.CRC));
        CacheEngine reopened = Harness.open(Harness.config("bad"), pmem, Harness.holder(backing),
                Harness.drainOnlyPolicy());
        try {
            assertEquals(0, reopened.statistics().dirtyBytes(), "replay leaves the stale key out");
            assertTrue(!keyHead.equals(reopened.status(pcache.api.CacheMode.WRITEBACK).keyHead()),
                    "the kset was replayed");
            reopened.drain(null);
            assertArrayEquals(Harness.pattern(at, 4096, 77).array(), backing.content(at, 4096),
                    "the backing device's data stays");
            assertEquals(0, reopened.statistics().dirtyBytes());
        } finally {
            reopened.close();
        }
    }

    /** The same for dirty data the cache device cannot read back to write it. */
    @Test
    void dirtyDataTheCacheDeviceCannotReadIsItsDamageNotTheBackingDevices() throws Exception {
        try (Damaged d = new Damaged()) {
            d.drainFailsOnTheCacheDevice("cache data", unreadableDirtyData(d), "simulated media error");
        }
    }

    /**
     * A fault in mapped memory (the JVM's InternalError) while write-back reads dirty data is the
     * cache device's damage too, and does not end the write-back thread: once the data can be
     * read again, write-back goes on.
     */
    @Test
    void aFaultInTheMappingIsTheCacheDevicesDamageAndWritebackGoesOn() throws Exception {
        try (Damaged d = new Damaged()) {
            CacheKey key = dirtyKey(d);
            pmem.failReads(dataOffset(key), key.length(), true);
            d.drainFailsOnTheCacheDevice("cache device", 0, "simulated fault");
            pmem.readsWork();
            d.engine.drain(null);
            assertArrayEquals(Harness.pattern(Damaged.AT, 65536, 2).array(), d.disk.content(Damaged.AT, 65536));
            assertEquals(null, d.engine.conditions(null).keyLogDamage());
        }
    }

    /**
     * A read that meets a fault in mapped memory (the JVM's InternalError) while copying a hit
     * takes back the placeholders it put in the index for its misses: once the data can be read
     * again, the next read caches the missed range as usual. Before, the placeholders stayed: the
     * range was never cached again, and reads that must not wait refused it.
     */
    @Test
    void aReadMeetingAFaultTakesBackItsPlaceholders() throws Exception {
        try (Damaged d = new Damaged()) {
            CacheKey key = dirtyKey(d);
            long miss = Damaged.AT + 65536; // never written: read from the backing device
            pmem.failReads(dataOffset(key), key.length(), true);
            assertThrows(InternalError.class, () -> Harness.read(d.engine, Damaged.AT, 2 * 65536));
            pmem.readsWork();
            assertArrayEquals(new byte[65536], Harness.read(d.engine, miss, 65536), "read from the backing device");
            assertTrue(d.engine.tryRead(miss, ByteBuffer.allocate(65536)), "the miss is cached: a hit now");
        }
    }

    /** Damage met after a backing device error is still reported as the cache device's: the newest failure. */
    @Test
    void damageMetAfterABackingErrorIsTheCacheDevicesToo() throws Exception {
        // the drain's timeout leaves the step after the failed one (100 ms later) time to run
        try (Damaged d = new Damaged(1, 2000)) {
            d.drainFailsOnTheCacheDevice("cache data", unreadableDirtyData(d), "simulated media error");
        }
    }

    /** A read error that passes, then a backing device error: the damage is no longer reported. */
    @Test
    void aBackingErrorAfterAPassingReadErrorIsReportedAloneAndTheDamageForgotten() throws Exception {
        // the drain's timeout leaves the step that fails on the backing device (5 tries, 850 ms) time to
        try (Damaged d = new Damaged(0, 2000)) {
            long at = unreadableDirtyData(d);
            d.drainFailsOnTheCacheDevice("cache data", at, "simulated media error");
            pmem.readsWork();
            d.disk.failWrites.set(Integer.MAX_VALUE);
            assertThrows(pcache.api.BackingDeviceException.class, () -> d.engine.drain(null));
            assertEquals(null, d.engine.conditions(null).keyLogDamage(), "the read error is behind us");
            assertEquals(pcache.api.BackingState.FAILING, d.holder.state());
            d.disk.failWrites.set(0);
            d.engine.drain(null);
            assertArrayEquals(Harness.pattern(Damaged.AT, 65536, 2).array(), d.disk.content(Damaged.AT, 65536));
            assertEquals(pcache.api.BackingState.ONLINE, d.holder.state());
        }
    }

    /** Makes the cache device fail reads of the dirty data {@link Damaged} wrote; returns its device offset. */
    private long unreadableDirtyData(Damaged d) {
        CacheKey key = dirtyKey(d);
        pmem.failReads(dataOffset(key), key.length());
        return dataOffset(key);
    }

    /** The key of the dirty data {@link Damaged} wrote. */
    private static CacheKey dirtyKey(Damaged d) {
        CacheKey[] key = new CacheKey[1];
        d.engine.index().forEach(k -> {
            if (k.offset() == Damaged.AT) {
                key[0] = k;
            }
        });
        return key[0];
    }

    private static long dataOffset(CacheKey key) {
        return PcacheFormat.segmentOffset(key.segment()) + PcacheFormat.SEG_DATA_OFF + key.segmentOffset();
    }

    /** The formatted cache, opened with write-back only while draining and 64 KiB more written, not yet back. */
    private final class Damaged implements AutoCloseable {
        static final long AT = 1 << 20;
        final MemoryBacking disk = new MemoryBacking(LOGICAL, "disk", false);
        final BackingHolder holder = Harness.holder(disk);
        final CacheEngine engine;

        Damaged() throws Exception {
            this(0, 500);
        }

        /**
         * The write-back policy's first {@code backingFailures} steps fail as a backing device
         * would; a drain fails after {@code timeoutMillis} without progress.
         */
        Damaged(int backingFailures, long timeoutMillis) throws Exception {
            java.util.concurrent.atomic.AtomicInteger failures = new java.util.concurrent.atomic.AtomicInteger(backingFailures);
            WritebackPolicy policy = Harness.drainOnlyPolicy();
            engine = Harness.open(Harness.config("bad").withBackingTimeoutMillis(timeoutMillis), pmem, holder,
                    new WritebackPolicy() {
                        @Override
                        public String name() {
                            return policy.name();
                        }

                        @Override
                        public WritebackOutcome step(WritebackContext context) throws IOException, InterruptedException {
                            if (context.readKset(context.dirtyTail()) != null && failures.getAndDecrement() > 0) {
                                throw new IOException("injected backing device failure");
                            }
                            return policy.step(context);
                        }
                    });
            engine.write(AT, Harness.pattern(AT, 65536, 2), false);
            engine.flush();
        }

        void drainFailsOnTheCacheDevice(String structure, long offset, String cause) throws Exception {
            drainFailsOnTheCacheDevice(structure, offset, cause, true);
        }

        /** As above; with {@code damageFirst} false, the damage lies after the kset written at open, which is written back. */
        void drainFailsOnTheCacheDevice(String structure, long offset, String cause, boolean damageFirst) throws Exception {
            CorruptMediaException e = assertThrows(CorruptMediaException.class, () -> engine.drain(null));
            assertEquals(structure, e.structure(), e.getMessage());
            assertEquals(offset, e.deviceOffset(), e.getMessage());
            assertTrue(e.getMessage().contains(cause) && e.getMessage().contains("copy what reads still return"), e.getMessage());
            String damage = engine.conditions(null).keyLogDamage();
            assertTrue(damage != null && damage.contains("damage on the cache device (not the backing device)"),
                    "reported as the cache device's: " + damage);
            assertEquals(pcache.api.BackingState.ONLINE, holder.state(), "the backing device is not at fault");
            assertEquals(0, engine.statistics().backingErrors(), engine.statistics().toString());
            if (damageFirst) {
                assertArrayEquals(new byte[65536], disk.content(AT, 65536), "nothing was written back");
            }
        }

        @Override
        public void close() throws Exception {
            engine.close();
        }
    }

    @Test
    void foreignDataIsNotFormatted() throws Exception {
        SimulatedPmem foreign = new SimulatedPmem(Harness.deviceBytes(SEGMENTS), false);
        foreign.write(PcacheFormat.SB_OFF, "not a cache".getBytes(), 0, 11);
        CorruptMediaException e = assertThrows(CorruptMediaException.class,
                () -> Harness.open(Harness.config("bad"), foreign, Harness.holder(backing), null));
        assertEquals("superblock", e.structure());
    }

    @Test
    void deviceTooSmall() {
        SimulatedPmem tiny = new SimulatedPmem(Harness.deviceBytes(SEGMENTS), false);
        CacheConfigurationException e = assertThrows(CacheConfigurationException.class,
                () -> Harness.open(EngineConfig.defaults("small"), tiny, Harness.holder(backing), null));
        assertTrue(e.getMessage().contains("at least"), e.getMessage());
    }

    @Test
    void dataCrcMustMatchTheFormat() {
        CacheConfigurationException e = assertThrows(CacheConfigurationException.class,
                () -> Harness.open(Harness.config("bad").withDataCrc(true), pmem, Harness.holder(backing), null));
        assertTrue(e.getMessage().contains("data_crc"), e.getMessage());
    }

    /** The offset of key_head in segment 0 (the formatted cache's log is short). */
    private int headOffset() throws Exception {
        CacheEngine e = open();
        int off = e.status(pcache.api.CacheMode.WRITEBACK).keyHead().offset();
        e.close();
        pmem = pmem.reopen();
        return off;
    }

    /** Writes a kset at key_head, where replay will find it; returns key_head's offset. */
    private int appendKsetAtHead(List<CacheKey> keys) throws Exception {
        int at = headOffset();
        byte[] kset = KsetCodec.encode(keys, Harness.CRC);
        writeRaw(PcacheFormat.segmentOffset(0) + PcacheFormat.SEG_DATA_OFF + at, kset);
        return at;
    }

    /** A write-back policy that can be stopped: {@link #stop} returns once no step runs, and none starts after. */
    private static final class GatedPolicy implements WritebackPolicy {
        private final WritebackPolicy delegate;
        private boolean stopped;

        GatedPolicy(WritebackPolicy delegate) {
            this.delegate = delegate;
        }

        @Override
        public String name() {
            return delegate.name();
        }

        @Override
        public synchronized WritebackOutcome step(WritebackContext context) throws IOException, InterruptedException {
            return stopped ? WritebackOutcome.IDLE : delegate.step(context);
        }

        synchronized void stop() {
            stopped = true;
        }
    }
}
