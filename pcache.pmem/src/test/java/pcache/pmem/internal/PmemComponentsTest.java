package pcache.pmem.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import pcache.api.spi.PmemProvider;
import pcache.api.spi.PmemRegion;

/** Each provider DS registers names its type and opens regions. */
class PmemComponentsTest {

    @TempDir
    Path dir;

    @Test
    void eachComponentHasItsTypeAndOpensRegions() throws IOException {
        PmemProvider[] components = {new MappedPmemProvider(), new FileIoPmemProvider(), new HeapPmemProvider()};
        String[] types = {"mapped", "fileio", "heap"};
        for (int i = 0; i < components.length; i++) {
            assertEquals(types[i], components[i].type());
            try (PmemRegion region = components[i].open(dir.resolve(types[i] + ".img"), 8192)) {
                region.putLong(8, i + 1);
                assertEquals(i + 1, region.getLong(8));
                assertEquals(8192, region.sizeBytes());
            }
        }
    }
}
