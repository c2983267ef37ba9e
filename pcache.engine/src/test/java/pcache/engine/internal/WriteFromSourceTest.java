package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import pcache.api.BlockDevice;
import pcache.api.CacheMode;
import pcache.api.format.PcacheFormat;
import pcache.engine.internal.engine.CacheEngine;
import pcache.engine.internal.engine.EngineConfig;
import pcache.pmem.internal.MappedPmemProvider;

/**
 * {@code tryWriteFrom}: a write whose bytes the source places straight into cache space (the
 * mapping where the region has one, a scratch buffer elsewhere). It writes what {@code write}
 * would, logs its keys only once every piece is filled, refuses without calling the source when
 * space is short, and leaves the range as it was when the source fails.
 */
@Timeout(60)
class WriteFromSourceTest {

    private static final long LOGICAL = 256 * Harness.MIB;

    @TempDir
    Path dir;

    /** Hands out {@code data} in order; records the buffers it was given. */
    static final class ArraySource implements BlockDevice.WriteSource {
        final byte[] data;
        final List<ByteBuffer> given = new ArrayList<>();
        int taken;

        ArraySource(byte[] data) {
            this.data = data;
        }

        @Override
        public void fill(ByteBuffer dst) {
            given.add(dst);
            int n = dst.remaining();
            dst.put(data, taken, n);
            taken += n;
        }
    }

    /**
     * An engine on a simulated device of {@code segments} segments that claims writable views,
     * without a write-back policy (nothing is reclaimed), over a memory backing device.
     */
    private static CacheEngine openWithViews(int segments) throws Exception {
        return Harness.open(Harness.config("t"), new SimulatedPmem(Harness.deviceBytes(segments), false).claimViews(),
                Harness.holder(new MemoryBacking(LOGICAL, "disk", false)), null);
    }

    @Test
    void aWriteAcrossASliceEndIsFilledPieceByPieceIntoTheMappingAndSurvivesAReopen() throws Exception {
        Path file = dir.resolve("cache.img");
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        EngineConfig config = Harness.config("t").withDataCrc(true);
        long offset = PcacheFormat.SUBTREE_SIZE - 256 * 1024; // ends 768 KiB into the next slice
        byte[] data = Harness.pattern(offset, (int) Harness.MIB, 7).array();
        CacheEngine e = Harness.open(config, new MappedPmemProvider().open(file, Harness.deviceBytes(8)),
                Harness.holder(backing), Harness.drainOnlyPolicy());
        try {
            ArraySource source = new ArraySource(data);
            assertTrue(e.tryWriteFrom(offset, data.length, false, source));
            assertEquals(data.length, source.taken);
            // one piece per key: with data CRCs a key holds at most 64 KiB (one per slice without)
            assertEquals(data.length / (64 << 10), source.given.size(), "one piece per 64 KiB");
            assertTrue(source.given.get(0).isDirect(), "the mapping itself, not a scratch buffer");
            assertEquals(1, e.statistics().writeRequests());
            assertEquals(1, e.statistics().placedWrites(), "counted as received straight into the cache");
            assertEquals(data.length, e.statistics().bytesWritten());
            assertArrayEquals(data, Harness.read(e, offset, data.length));
            e.flush();
        } finally {
            e.close();
        }
        e = Harness.open(config, new MappedPmemProvider().open(file, 0), Harness.holder(backing),
                Harness.drainOnlyPolicy());
        try {
            assertArrayEquals(data, Harness.read(e, offset, data.length), "replayed from the key log");
            e.drain(null); // write-back checks each key's data CRC
            assertArrayEquals(data, backing.content(offset, data.length));
            assertTrue(e.quarantined().isEmpty(), "no CRC failed: " + e.quarantined());
        } finally {
            e.close();
        }
    }

    @Test
    void aRegionWithoutAMappingDeclinesAndNeverCallsTheSource() throws Exception {
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine e = Harness.open(Harness.config("t"), new SimulatedPmem(Harness.deviceBytes(8), false),
                Harness.holder(backing), null);
        try {
            ArraySource source = new ArraySource(new byte[65536]);
            assertFalse(e.tryWriteFrom(8192, 65536, false, source), "a copy through the caller's buffer costs the same");
            assertEquals(0, source.given.size());
            assertEquals(0, e.statistics().writeRequests());
            assertEquals(0, e.statistics().placedWrites());
        } finally {
            e.close();
        }
    }

    @Test
    void aPieceTheMappingCannotShowAsOneBufferIsFilledIntoScratchAndStored() throws Exception {
        // claims views but has none to give, as a mapping for a range across two of its windows
        CacheEngine e = openWithViews(8);
        try {
            byte[] data = Harness.pattern(8192, 65536, 3).array();
            ArraySource source = new ArraySource(data);
            assertTrue(e.tryWriteFrom(8192, data.length, true, source));
            assertEquals(1, source.given.size());
            assertFalse(source.given.get(0).isDirect());
            assertArrayEquals(data, Harness.read(e, 8192, data.length));
            assertEquals(1, e.statistics().fuaWrites());
        } finally {
            e.close();
        }
    }

    @Test
    void aSourceThatLeavesItsBufferUnfilledFailsTheWriteAndGivesItsSpaceBack() throws Exception {
        CacheEngine e = openWithViews(8);
        try {
            byte[] old = Harness.pattern(0, 8192, 1).array();
            e.write(0, ByteBuffer.wrap(old), false);
            long references = references(e);
            IOException thrown = assertThrows(IOException.class,
                    () -> e.tryWriteFrom(0, 8192, false, dst -> dst.put(new byte[dst.remaining() - 512])));
            assertTrue(thrown.getMessage().contains("512 bytes") && thrown.getMessage().contains("unfilled"),
                    thrown.getMessage());
            assertArrayEquals(old, Harness.read(e, 0, 8192), "nothing of it was logged");
            assertEquals(references, references(e), "its space was given back");
        } finally {
            e.close();
        }
    }

    /** References held on all segments: space taken holds one until its key (or a give-back) drops it. */
    static long references(CacheEngine e) {
        long sum = 0;
        for (int i = 0; i < e.segments().segmentCount(); i++) {
            sum += e.segments().references(i);
        }
        return sum;
    }

    @Test
    void withoutSpaceAtOnceItRefusesAndNeverCallsTheSource() throws Exception {
        // no write-back policy: nothing is ever reclaimed, so the cache fills for good
        CacheEngine e = openWithViews(6);
        try {
            long off = 0;
            while (e.tryWrite(off, Harness.pattern(off, (int) Harness.MIB, 2), false)) {
                off += Harness.MIB;
            }
            long requests = e.statistics().writeRequests();
            long references = references(e);
            ArraySource source = new ArraySource(new byte[(int) Harness.MIB]);
            // a write across a slice end: what is left of the current segment may take its first
            // piece before the second finds no segment; that space is given back
            long across = PcacheFormat.SUBTREE_SIZE * 8 - Harness.MIB / 2;
            assertFalse(e.tryWriteFrom(across, (int) Harness.MIB, false, source));
            assertEquals(0, source.given.size(), "the source was not called");
            assertEquals(references, references(e), "no space kept");
            assertEquals(requests, e.statistics().writeRequests(), "nothing counted");
            assertEquals(0, e.statistics().deferredRequests(), "nobody waited");
            for (long at = 0; at < off; at += Harness.MIB) {
                assertArrayEquals(Harness.pattern(at, (int) Harness.MIB, 2).array(), Harness.read(e, at, (int) Harness.MIB));
            }
        } finally {
            e.close();
        }
    }

    /**
     * Space taken for the first pieces is given back when a later piece finds none. Data heads
     * belong to threads: another thread's head keeps a fresh segment while this thread's fills
     * the rest of the cache, then that thread asks for more than its segment has left.
     */
    @Test
    void spaceTakenForTheFirstPiecesIsGivenBackWhenALaterOneFindsNone() throws Exception {
        CacheEngine e = openWithViews(6);
        java.util.concurrent.ExecutorService other = java.util.concurrent.Executors.newSingleThreadExecutor();
        try {
            other.submit(() -> {
                e.write(0, Harness.pattern(0, 4096, 1), false); // its head takes a segment
                return null;
            }).get();
            long off = PcacheFormat.SUBTREE_SIZE;
            while (e.tryWrite(off, Harness.pattern(off, (int) Harness.MIB, 2), false)) {
                off += Harness.MIB;
            }
            e.flush();
            long references = references(e);
            int length = (int) (PcacheFormat.SEG_DATA_SIZE + Harness.MIB); // more than a whole segment
            long at = LOGICAL - 5 * PcacheFormat.SUBTREE_SIZE;
            ArraySource source = new ArraySource(new byte[length]);
            assertFalse(other.submit(() -> e.tryWriteFrom(at, length, false, source)).get());
            assertEquals(0, source.given.size(), "the source was not called");
            assertEquals(references - 1, references(e), "the pieces' space given back; the other head let go"
                    + " of its segment, whose space ran out, which only the 4 KiB write's key holds now");
            assertArrayEquals(Harness.pattern(0, 4096, 1).array(), Harness.read(e, 0, 4096));
        } finally {
            other.shutdownNow();
            e.close();
        }
    }

    @Test
    void aSourceThatFailsLeavesTheRangeAsItWasAndItsSpaceToGc() throws Exception {
        CacheEngine e = openWithViews(8);
        try {
            long offset = PcacheFormat.SUBTREE_SIZE - 4096;
            byte[] old = Harness.pattern(offset, 8192, 1).array();
            e.write(offset, ByteBuffer.wrap(old), false);
            long requests = e.statistics().writeRequests();
            long references = references(e);
            int[] calls = {0};
            IOException broken = new IOException("connection reset inside the payload");
            BlockDevice.WriteSource failing = dst -> {
                if (++calls[0] == 2) {
                    dst.put(new byte[dst.remaining() / 2]); // part of the second piece arrived
                    throw broken;
                }
                dst.put(new byte[dst.remaining()]);
            };
            IOException thrown = assertThrows(IOException.class, () -> e.tryWriteFrom(offset, 8192, true, failing));
            assertSame(broken, thrown);
            assertEquals(2, calls[0]);
            assertArrayEquals(old, Harness.read(e, offset, 8192), "no key of the failed write was logged");
            assertEquals(requests, e.statistics().writeRequests());
            assertEquals(references, references(e), "both pieces' space given back");
            byte[] next = Harness.pattern(offset, 8192, 9).array();
            assertTrue(e.tryWriteFrom(offset, next.length, false, new ArraySource(next)), "the cache goes on");
            assertArrayEquals(next, Harness.read(e, offset, 8192));
        } finally {
            e.close();
        }
    }

    @Test
    void theDeviceTakesSourcesOnlyInWriteBackMode() throws Exception {
        MemoryBacking backing = new MemoryBacking(LOGICAL, "disk", false);
        CacheEngine engine = Harness.open(Harness.config("t"), new SimulatedPmem(Harness.deviceBytes(8), false).claimViews(),
                Harness.holder(backing), Harness.drainOnlyPolicy());
        CacheDeviceFacade dev = new CacheDeviceFacade(engine, Harness.holder(backing), CacheMode.WRITEBACK);
        try {
            byte[] data = Harness.pattern(0, 4096, 3).array();
            assertTrue(dev.tryWriteFrom(0, 4096, false, new ArraySource(data)));
            assertArrayEquals(data, Harness.read(dev, 0, 4096));
            for (CacheMode mode : new CacheMode[] {CacheMode.WRITETHROUGH, CacheMode.PASSTHROUGH}) {
                dev.setMode(mode);
                ArraySource source = new ArraySource(Harness.pattern(0, 4096, 4).array());
                assertFalse(dev.tryWriteFrom(0, 4096, false, source), mode + " must reach the backing device");
                assertEquals(0, source.given.size());
            }
        } finally {
            dev.close();
        }
    }
}
