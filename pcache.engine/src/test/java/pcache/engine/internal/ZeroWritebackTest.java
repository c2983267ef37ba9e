package pcache.engine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import pcache.engine.internal.engine.CacheEngine;
import pcache.writeback.internal.OrderedWritebackPolicy;

/**
 * Write-back sends runs of zeroes of 64 KiB or more as write-zeroes, not as data: whether they
 * came from a client's write-zeroes or from a write of zero bytes, alone or between data in one
 * run of adjacent extents; shorter ones stay data. The backing device starts full of ones, so
 * every range must end exactly as written.
 */
class ZeroWritebackTest {

    private static final long LOGICAL = 64 * Harness.MIB;
    private static final long MIB = Harness.MIB;

    @Test
    void runsOfZeroesReachTheBackingDeviceAsWriteZeroes() throws Exception {
        SimulatedPmem pmem = new SimulatedPmem(Harness.deviceBytes(6), false);
        MemoryBacking disk = MemoryBacking.filled(LOGICAL, "disk", (byte) 1);
        CacheEngine e = Harness.open(Harness.config("zeroes"), pmem, Harness.holder(disk),
                Harness.onlyWhenDraining(new OrderedWritebackPolicy()));
        try {
            e.writeZeroes(MIB, MIB, false); // a client's write-zeroes
            e.write(4 * MIB, ByteBuffer.allocate(256 << 10), false); // zero bytes written as data
            // one run of adjacent extents: data, 128 KiB of zeroes, data
            long run = 8 * MIB;
            e.write(run, Harness.pattern(run, 65536, 1), false);
            e.write(run + 65536, ByteBuffer.allocate(128 << 10), false);
            e.write(run + (192 << 10), Harness.pattern(run + (192 << 10), 65536, 1), false);
            // too short to be worth it: 4 KiB of zeroes on their own, 32 KiB between data
            e.write(12 * MIB, ByteBuffer.allocate(4096), false);
            long shortRun = 16 * MIB;
            e.write(shortRun, Harness.pattern(shortRun, 4096, 2), false);
            e.write(shortRun + 4096, ByteBuffer.allocate(32 << 10), false);
            e.write(shortRun + (36 << 10), Harness.pattern(shortRun + (36 << 10), 4096, 2), false);
            e.drain(null);
            assertEquals(0, e.statistics().dirtyBytes());
        } finally {
            e.close();
        }
        List<String> zeroes = new ArrayList<>();
        for (long[] z : disk.zeroLog) {
            zeroes.add(z[0] + "+" + z[1]);
        }
        assertEquals(List.of(MIB + "+" + MIB, 4 * MIB + "+" + (256 << 10), (8 * MIB + 65536) + "+" + (128 << 10)),
                zeroes.stream().sorted((a, b) -> Long.compare(Long.parseLong(a.split("\\+")[0]),
                        Long.parseLong(b.split("\\+")[0]))).toList(), "write-zeroes sent to the backing device");
        for (long[] w : disk.writeLog) {
            boolean inZeroRun = (w[0] < 2 * MIB && w[0] + w[1] > MIB)
                    || (w[0] < 4 * MIB + (256 << 10) && w[0] + w[1] > 4 * MIB)
                    || (w[0] < 8 * MIB + (192 << 10) && w[0] + w[1] > 8 * MIB + 65536);
            assertEquals(false, inZeroRun, "a data write over a run of zeroes: " + w[0] + "+" + w[1]);
        }
        assertArrayEquals(new byte[(int) MIB], disk.content(MIB, (int) MIB));
        assertArrayEquals(new byte[256 << 10], disk.content(4 * MIB, 256 << 10));
        assertArrayEquals(Harness.pattern(8 * MIB, 65536, 1).array(), disk.content(8 * MIB, 65536));
        assertArrayEquals(new byte[128 << 10], disk.content(8 * MIB + 65536, 128 << 10));
        assertArrayEquals(Harness.pattern(8 * MIB + (192 << 10), 65536, 1).array(),
                disk.content(8 * MIB + (192 << 10), 65536));
        assertArrayEquals(new byte[4096], disk.content(12 * MIB, 4096));
        assertArrayEquals(new byte[32 << 10], disk.content(16 * MIB + 4096, 32 << 10));
        assertArrayEquals(Harness.pattern(16 * MIB + (36 << 10), 4096, 2).array(),
                disk.content(16 * MIB + (36 << 10), 4096));
        // the ranges around stay as they were
        byte[] ones = new byte[(int) MIB];
        java.util.Arrays.fill(ones, (byte) 1);
        assertArrayEquals(ones, disk.content(2 * MIB, (int) MIB));
        assertEquals(1, disk.content(16 * MIB + (40 << 10), 512)[0]);
    }
}
