package pcache.pmem.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import pcache.api.spi.PmemRegion;

/** Faulting pages in never changes a byte, even while the region is written concurrently. */
class MappedPrefaultTest {

    @TempDir
    Path dir;

    @Test
    void prefaultKeepsContentAndConcurrentWrites() throws Exception {
        Path file = dir.resolve("cache.img");
        long size = 8L << 20;
        try (MappedPmemRegion region = (MappedPmemRegion) new MappedPmemProvider(1L << 20).open(file, size)) {
            Random r = new Random(3);
            byte[] before = new byte[(int) size];
            r.nextBytes(before);
            region.write(0, before, 0, before.length);
            AtomicBoolean stop = new AtomicBoolean();
            byte[] expected = before.clone();
            Thread writer = new Thread(() -> {
                Random w = new Random(4);
                try {
                    while (!stop.get()) {
                        int page = w.nextInt((int) (size / 4096));
                        long v = w.nextLong();
                        region.putLong(page * 4096L, v);
                        synchronized (expected) {
                            ByteBuffer.wrap(expected).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(page * 4096, v);
                        }
                    }
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            writer.start();
            for (int i = 0; i < 20; i++) {
                assertEquals(size / 4096, region.prefault());
            }
            stop.set(true);
            writer.join();
            byte[] after = new byte[(int) size];
            region.read(0, after, 0, after.length);
            synchronized (expected) {
                org.junit.jupiter.api.Assertions.assertArrayEquals(expected, after);
            }
        }
    }

    @Test
    void providerModesOpenUsableRegions() throws Exception {
        for (MappedPmemProvider.Prefault mode : MappedPmemProvider.Prefault.values()) {
            Path file = dir.resolve("m-" + mode + ".img");
            try (PmemRegion region = new MappedPmemProvider(mode).open(file, 4L << 20)) {
                region.putLong(4096, 42);
                assertEquals(42, region.getLong(4096));
            }
        }
        assertEquals(MappedPmemProvider.Prefault.SYNC, MappedPmemProvider.Prefault.parse(" Sync "));
    }
}
