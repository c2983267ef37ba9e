package pcache.pmem.testing.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

import pcache.api.spi.PmemRegion;

/**
 * The test mapping keeps exactly what was flushed: the file holds, per 4 KiB page, the page as it
 * was at the last flush that covered it (stores of the same page flushed with it are kept too),
 * and a region opened again after the first was abandoned without close (the process was
 * killed) sees that file and nothing else.
 */
class VolatileUntilFlushRegionTest {

    private static final int PAGE = VolatileUntilFlushRegion.PAGE_BYTES;
    private static final int SIZE = 8 * PAGE + 1000; // the last page is partial

    @TempDir
    Path dir;

    private final VolatileUntilFlushProvider provider = new VolatileUntilFlushProvider();

    @Test
    void unflushedStoresNeverReachTheFileAndFlushedOnesDo() throws IOException {
        Path file = dir.resolve("d.img");
        PmemRegion region = provider.open(file, SIZE);
        region.write(10, new byte[] {1, 2, 3}, 0, 3);
        region.putLong(3 * PAGE + 8, 0x1122334455667788L);
        assertEquals(0x1122334455667788L, region.getLong(3 * PAGE + 8), "loads see stores at once");
        assertEquals(2, ((VolatileUntilFlushRegion) region).unflushedPages());
        assertArrayEquals(new byte[SIZE], Files.readAllBytes(file), "nothing flushed: the file is untouched");

        region.flush(3 * PAGE, 16);
        region.fence();
        byte[] onFile = Files.readAllBytes(file);
        assertEquals(0x1122334455667788L, ByteBuffer.wrap(onFile, 3 * PAGE + 8, 8)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong());
        assertEquals(0, onFile[10], "page 0 was not flushed");

        // a kill: the region is abandoned without close; a new process opens the file again
        PmemRegion again = provider.open(file, 0);
        byte[] first = new byte[3];
        again.read(10, first, 0, 3);
        assertArrayEquals(new byte[3], first, "the unflushed store is lost");
        assertEquals(0x1122334455667788L, again.getLong(3 * PAGE + 8), "the flushed store is kept");
        again.close();
        region.close(); // close makes everything durable
        PmemRegion closed = provider.open(file, 0);
        closed.read(10, first, 0, 3);
        assertArrayEquals(new byte[] {1, 2, 3}, first);
        closed.close();
    }

    @Test
    void aMissingDeviceWithoutACreateSizeIsRefused() {
        assertThrows(NoSuchFileException.class, () -> provider.open(dir.resolve("none.img"), 0));
    }

    /**
     * Random stores, fills and flushes, any alignment, across page boundaries: every load equals a
     * plain model of the stored bytes, and after an abandoned region the file equals the model of
     * what flushes wrote (each flush copies the current content of every page it covers).
     */
    @Property(tries = 40)
    void aKillKeepsExactlyThePagesAsTheyWereFlushed(@ForAll long seed) throws IOException {
        Random random = new Random(seed);
        Path tries = Files.createDirectories(Path.of("target", "volatile-until-flush-tries")); // jqwik has no @TempDir
        Path file = tries.resolve("p-" + seed + ".img");
        Files.deleteIfExists(file);
        byte[] current = new byte[SIZE];
        byte[] flushed = new byte[SIZE];
        PmemRegion region = provider.open(file, SIZE);
        for (int op = 0; op < 200; op++) {
            int offset = random.nextInt(SIZE);
            int length = random.nextInt(Math.min(3 * PAGE, SIZE - offset) + 1);
            switch (random.nextInt(5)) {
                case 0, 1 -> {
                    byte[] data = new byte[length];
                    random.nextBytes(data);
                    region.write(offset, data, 0, length);
                    System.arraycopy(data, 0, current, offset, length);
                }
                case 2 -> {
                    byte value = (byte) random.nextInt();
                    region.fill(offset, length, value);
                    Arrays.fill(current, offset, offset + length, value);
                }
                case 3 -> {
                    region.flush(offset, length);
                    region.fence();
                    if (length > 0) {
                        int from = offset / PAGE * PAGE;
                        int to = Math.min(SIZE, ((offset + length - 1) / PAGE + 1) * PAGE);
                        System.arraycopy(current, from, flushed, from, to - from);
                    }
                }
                default -> {
                    byte[] read = new byte[length];
                    region.read(offset, read, 0, length);
                    assertArrayEquals(Arrays.copyOfRange(current, offset, offset + length), read,
                            "load of [" + offset + ", +" + length + ")");
                }
            }
        }
        assertArrayEquals(flushed, Files.readAllBytes(file), "after a kill the file holds what flushes wrote");
        try (PmemRegion reopened = provider.open(file, 0)) {
            byte[] all = new byte[SIZE];
            reopened.read(0, all, 0, SIZE);
            assertArrayEquals(flushed, all);
        }
        region.close();
        assertArrayEquals(current, Files.readAllBytes(file), "close writes every page");
        Files.delete(file);
    }
}
