package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.util.List;

import org.junit.jupiter.api.Test;

import pcache.api.BlockExtent;
import pcache.engine.internal.engine.CacheEngine;
import pcache.writeback.internal.OrderedWritebackPolicy;

/**
 * Block status reports zeroes the cache holds dirty as zero, also when no write-zeroes marked them:
 * after a restart (the marks live in memory only, the replayed keys have none) and for data written
 * as zero bytes. Write-back is held back, so everything stays dirty in the cache; the backing
 * device is empty (a hole everywhere).
 */
class ZeroMarksAfterRestartTest {

    private static final long MIB = Harness.MIB;
    private static final int HOLE_ZERO = BlockExtent.HOLE | BlockExtent.ZERO;

    @Test
    void dirtyZeroesShowAsZeroBeforeAndAfterARestart() throws Exception {
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(6), false);
        MemoryBacking disk = new MemoryBacking(16 * MIB, "disk", false);
        List<BlockExtent> expected = List.of(new BlockExtent(0, MIB, HOLE_ZERO),
                new BlockExtent(MIB, 2 * MIB, BlockExtent.ZERO), // write-zeroes
                new BlockExtent(3 * MIB, MIB, HOLE_ZERO),
                new BlockExtent(4 * MIB, 256 << 10, BlockExtent.ZERO), // zero bytes written as data
                new BlockExtent(4 * MIB + (256 << 10), 4 * MIB - (256 << 10), HOLE_ZERO),
                new BlockExtent(8 * MIB, MIB, 0), // data
                new BlockExtent(9 * MIB, 7 * MIB, HOLE_ZERO));
        CacheEngine e = Harness.open(Harness.config("zero-marks"), pmem, Harness.holder(disk),
                Harness.onlyWhenDraining(new OrderedWritebackPolicy()));
        try {
            e.writeZeroes(MIB, 2 * MIB, false);
            e.write(4 * MIB, ByteBuffer.allocate(256 << 10), false);
            e.write(8 * MIB, Harness.pattern(8 * MIB, (int) MIB, 1), false);
            e.flush();
            assertEquals(expected, e.blockStatus(0, 16 * MIB, 100), "before the restart");
        } finally {
            e.close();
        }
        CacheEngine again = Harness.open(Harness.config("zero-marks"), pmem.reopen(), Harness.holder(disk),
                Harness.onlyWhenDraining(new OrderedWritebackPolicy()));
        try {
            assertEquals(expected, again.blockStatus(0, 16 * MIB, 100), "after the restart");
            assertEquals(expected, again.blockStatus(0, 16 * MIB, 100), "asked again (each key looked at once)");
            assertEquals(3 * MIB + (256 << 10), again.statistics().dirtyBytes(), "still dirty: nothing written back");
        } finally {
            again.close();
        }
        assertEquals(List.of(), disk.writeLog, "nothing written back");
    }
}
