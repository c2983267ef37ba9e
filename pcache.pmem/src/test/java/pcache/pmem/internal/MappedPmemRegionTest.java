package pcache.pmem.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

import pcache.api.spi.PmemProvider;
import pcache.api.spi.PmemRegion;

class MappedPmemRegionTest extends FileRegionContract {

    private static final long WINDOW = 4096;

    @Override
    PmemProvider provider() {
        return new MappedPmemProvider(WINDOW);
    }

    @Override
    long deviceBytes() {
        return 3 * WINDOW + 1000; // the last window is shorter
    }

    @Override
    long[] boundaries() {
        return new long[] {WINDOW, 2 * WINDOW, 3 * WINDOW};
    }

    @Test
    void anOrdinaryFileIsMappedReadWriteNotSync() throws IOException {
        try (PmemRegion region = create(provider(), "mode.img")) {
            assertFalse(region.isDirectAccess(), "a temp file is not on a DAX file system");
            assertTrue(region.description().contains("READ_WRITE"), region.description());
            assertEquals(MappedPmemProvider.TYPE, provider().type());
        }
    }

    @Test
    void viewInsideOneWindowIsALiveSliceOfTheMapping() throws IOException {
        try (PmemRegion region = create(provider(), "live.img")) {
            ByteBuffer view = region.view(WINDOW + 8, 16);
            assertTrue(view.isDirect());
            region.putLong(WINDOW + 8, 42);
            assertEquals(42, view.getLong(0), "the slice shows later stores");

            ByteBuffer across = region.view(WINDOW - 8, 16);
            assertFalse(across.isDirect(), "a range across windows is copied");
            region.putLong(WINDOW - 8, 7);
            assertEquals(0, across.getLong(0), "a copy does not change");
        }
    }

    @Test
    void windowSizeMustBeAPowerOfTwo() {
        assertThrows(IllegalArgumentException.class,
                () -> new MappedPmemProvider(3000).open(dir.resolve("w.img"), 8192));
    }

    @Test
    void closeWritesBackAndUnmapsSoTheFileHoldsTheStores() throws IOException {
        Path file = dir.resolve("close.img");
        PmemRegion region = provider().open(file, deviceBytes());
        region.fill(0, deviceBytes(), (byte) 0x33);
        region.close(); // no explicit flush: close forces everything
        byte[] bytes = Files.readAllBytes(file);
        assertEquals(deviceBytes(), bytes.length);
        for (byte b : bytes) {
            assertEquals(0x33, b);
        }
    }

    @Test
    void mapsTheDefaultOneGibWindowsOfALargeSparseFile() throws IOException {
        long size = (2L << 30) + 4096; // three windows, the last one 4 KiB
        try (PmemRegion region = new MappedPmemProvider().open(dir.resolve("big.img"), size)) {
            long boundary = 1L << 30;
            region.putLong(boundary - 4, 0x1122334455667788L);
            assertEquals(0x1122334455667788L, region.getLong(boundary - 4));
            region.putLong(size - 8, 5);
            region.flush(boundary - 4, 8);
            assertEquals(5, region.getLong(size - 8));
        }
    }
}
