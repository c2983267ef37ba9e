package pcache.pmem.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

import pcache.api.spi.PmemProvider;
import pcache.api.spi.PmemRegion;

class HeapPmemRegionTest extends PmemRegionContract {

    private static final long CHUNK = HeapStore.CHUNK_BYTES;

    @Override
    PmemProvider provider() {
        return new HeapPmemProvider();
    }

    @Override
    long deviceBytes() {
        return 2 * CHUNK + 1000;
    }

    @Override
    long[] boundaries() {
        return new long[] {CHUNK, 2 * CHUNK};
    }

    @Test
    void devicesOfSeveralGibibytesWork() throws IOException {
        long size = (3L << 30) + 512;
        try (PmemRegion region = provider().open(Path.of("/virtual/big"), size)) {
            assertEquals(size, region.sizeBytes());
            region.putLong(size - 8, 123);
            region.putLong((2L << 30) - 4, 0x0A0B0C0D0E0F1011L); // across 2 GiB
            assertEquals(123, region.getLong(size - 8));
            assertEquals(0x0A0B0C0D0E0F1011L, region.getLong((2L << 30) - 4));
        }
    }

    @Test
    void storesArePerProviderAndDeletable() throws IOException {
        HeapPmemProvider provider = new HeapPmemProvider();
        Path name = Path.of("relative-name");
        try (PmemRegion region = provider.open(name, 4096)) {
            region.putLong(0, 9);
        }
        try (PmemRegion again = provider.open(name.toAbsolutePath(), 0)) {
            assertEquals(9, again.getLong(0), "same name, same bytes");
        }
        assertThrows(NoSuchFileException.class, () -> new HeapPmemProvider().open(name, 0));
        assertTrue(provider.delete(name));
        assertThrows(NoSuchFileException.class, () -> provider.open(name, 0));
    }
}
