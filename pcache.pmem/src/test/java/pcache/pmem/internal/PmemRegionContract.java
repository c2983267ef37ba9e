package pcache.pmem.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import pcache.api.DeviceClosedException;
import pcache.api.spi.PmemProvider;
import pcache.api.spi.PmemRegion;

/**
 * What every {@link PmemRegion} must do, run against each provider. Subclasses say how large a
 * test device is and where its internal boundaries (windows, chunks) lie, so that accesses are
 * aimed across them.
 */
abstract class PmemRegionContract {

    @TempDir
    Path dir;

    /** A fresh provider; tests that reopen use the same instance. */
    abstract PmemProvider provider();

    /** Size of the device the tests create. */
    abstract long deviceBytes();

    /** Offsets where an access must be split (window or chunk boundaries). */
    abstract long[] boundaries();

    /** Whether the provider hands out writable views of its memory (a mapping) within a window. */
    boolean hasWritableViews() {
        return false;
    }

    PmemRegion create(PmemProvider provider, String name) throws IOException {
        return provider.open(dir.resolve(name), deviceBytes());
    }

    @Test
    void createsAMissingDeviceWithTheGivenSize() throws IOException {
        try (PmemRegion region = create(provider(), "new.img")) {
            assertEquals(deviceBytes(), region.sizeBytes());
            assertEquals(0L, region.getLong(0));
            assertTrue(region.description().contains("new.img"), region.description());
        }
    }

    @Test
    void missingDeviceWithoutCreateSizeNamesThePath() {
        Path missing = dir.resolve("missing.img");
        NoSuchFileException e = assertThrows(NoSuchFileException.class,
                () -> provider().open(missing, 0));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
    }

    @Test
    void roundTripsAcrossBoundaries() throws IOException {
        SplittableRandom random = new SplittableRandom(1);
        byte[] model = new byte[(int) deviceBytes()];
        try (PmemRegion region = create(provider(), "rt.img")) {
            for (int op = 0; op < 400; op++) {
                long offset = aimedOffset(random);
                int length = (int) Math.min(random.nextInt(700), deviceBytes() - offset);
                byte[] data = new byte[length];
                random.nextBytes(data);
                switch (op % 3) {
                    case 0 -> region.write(offset, data, 0, length);
                    case 1 -> {
                        ByteBuffer heap = ByteBuffer.allocate(length + 5).position(5);
                        heap.put(data).position(5);
                        region.write(offset, heap);
                        assertEquals(length + 5, heap.position());
                    }
                    default -> {
                        ByteBuffer direct = ByteBuffer.allocateDirect(length).put(data).flip();
                        region.write(offset, direct);
                        assertFalse(direct.hasRemaining());
                    }
                }
                System.arraycopy(data, 0, model, (int) offset, length);

                long readAt = aimedOffset(random);
                int readLength = (int) Math.min(random.nextInt(700), deviceBytes() - readAt);
                byte[] expected = java.util.Arrays.copyOfRange(model, (int) readAt,
                        (int) readAt + readLength);
                byte[] viaArray = new byte[readLength + 3];
                region.read(readAt, viaArray, 3, readLength);
                assertArrayEquals(expected, java.util.Arrays.copyOfRange(viaArray, 3, readLength + 3));
                ByteBuffer viaDirect = ByteBuffer.allocateDirect(readLength);
                region.read(readAt, viaDirect);
                assertFalse(viaDirect.hasRemaining());
                assertEquals(ByteBuffer.wrap(expected), viaDirect.flip());
                assertEquals(ByteBuffer.wrap(expected), region.view(readAt, readLength));
            }
            byte[] all = new byte[model.length];
            region.read(0, all, 0, all.length);
            assertArrayEquals(model, all);
        }
    }

    @Test
    void longsAreLittleEndianAlignedOrNot() throws IOException {
        try (PmemRegion region = create(provider(), "long.img")) {
            for (long boundary : boundaries()) {
                for (long offset : new long[] {boundary - 8, boundary, boundary - 3}) {
                    long value = 0x0102030405060708L ^ offset;
                    region.putLong(offset, value);
                    assertEquals(value, region.getLong(offset));
                    byte[] bytes = new byte[8];
                    region.read(offset, bytes, 0, 8);
                    assertEquals(value, ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong());
                    assertEquals((byte) value, bytes[0], "least significant byte first");
                }
            }
            region.putLong(deviceBytes() - 8, -1L);
            assertEquals(-1L, region.getLong(deviceBytes() - 8));
            assertThrows(IndexOutOfBoundsException.class, () -> region.getLong(deviceBytes() - 7));
        }
    }

    @Test
    void fillsAcrossBoundaries() throws IOException {
        try (PmemRegion region = create(provider(), "fill.img")) {
            long boundary = boundaries()[0];
            region.fill(boundary - 100, 300, (byte) 0x5A);
            byte[] bytes = new byte[302];
            region.read(boundary - 101, bytes, 0, bytes.length);
            assertEquals(0, bytes[0]);
            for (int i = 1; i <= 300; i++) {
                assertEquals(0x5A, bytes[i], "byte " + i);
            }
            assertEquals(0, bytes[301]);
            region.fill(0, deviceBytes(), (byte) 1);
            assertEquals(0x0101010101010101L, region.getLong(deviceBytes() - 8));
            region.fill(5, 0, (byte) 9);
        }
    }

    @Test
    void viewIsReadOnlyWithTheBytesOfTheRange() throws IOException {
        try (PmemRegion region = create(provider(), "view.img")) {
            region.write(16, new byte[] {1, 2, 3, 4}, 0, 4);
            ByteBuffer view = region.view(16, 4);
            assertTrue(view.isReadOnly());
            assertEquals(0, view.position());
            assertEquals(4, view.remaining());
            assertEquals(ByteOrder.LITTLE_ENDIAN, view.order());
            assertEquals(0x04030201, view.getInt(0));
            long boundary = boundaries()[0];
            region.write(boundary - 2, new byte[] {7, 8, 9, 10}, 0, 4);
            assertEquals(ByteBuffer.wrap(new byte[] {7, 8, 9, 10}), region.view(boundary - 2, 4));
            assertEquals(0, region.view(boundary, 0).remaining());
        }
    }

    @Test
    void writableViewsStoreIntoTheRegionWhereTheProviderHasThem() throws IOException {
        PmemProvider provider = provider();
        long boundary = boundaries()[0];
        try (PmemRegion region = create(provider, "writable.img")) {
            ByteBuffer view = region.writableView(boundary - 16, 8);
            if (!hasWritableViews()) {
                assertNull(view, "a provider without a mapping hands out none");
                return;
            }
            assertFalse(view.isReadOnly());
            assertEquals(0, view.position());
            assertEquals(8, view.remaining());
            view.put(new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
            byte[] back = new byte[8];
            region.read(boundary - 16, back, 0, 8);
            assertArrayEquals(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}, back, "stores through the view are the region's");
            assertNull(region.writableView(boundary - 4, 8), "a range across a window boundary has no view");
            assertThrows(IndexOutOfBoundsException.class, () -> region.writableView(deviceBytes() - 4, 8));
            region.flush(boundary - 16, 8);
            region.fence();
        }
        try (PmemRegion region = provider.open(dir.resolve("writable.img"), 0)) {
            assertEquals(0x0807060504030201L, region.getLong(boundary - 16), "flushed stores through a view persist");
        }
        PmemRegion closed = create(provider, "writable-closed.img");
        closed.close();
        assertThrows(DeviceClosedException.class, () -> closed.writableView(0, 8));
    }

    @Test
    void rejectsRangesOutsideTheDevice() throws IOException {
        try (PmemRegion region = create(provider(), "range.img")) {
            long size = deviceBytes();
            assertThrows(IndexOutOfBoundsException.class, () -> region.read(size - 3, new byte[4], 0, 4));
            assertThrows(IndexOutOfBoundsException.class, () -> region.write(-1, new byte[1], 0, 1));
            assertThrows(IndexOutOfBoundsException.class, () -> region.fill(size, 1, (byte) 0));
            assertThrows(IndexOutOfBoundsException.class, () -> region.flush(0, size + 1));
            assertThrows(IndexOutOfBoundsException.class, () -> region.view(size - 1, 2));
            IndexOutOfBoundsException negative = assertThrows(IndexOutOfBoundsException.class,
                    () -> region.view(0, -1));
            assertTrue(negative.getMessage().contains("range.img"), negative.getMessage()); // names the device
            assertThrows(IndexOutOfBoundsException.class, () -> region.read(0, new byte[4], 2, 3));
            IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class,
                    () -> region.putLong(size, 1));
            assertTrue(e.getMessage().contains("range.img"), e.getMessage());
            region.read(size, new byte[0], 0, 0); // an empty range at the end is inside
        }
    }

    @Test
    void concurrentWritersToDisjointRanges() throws Exception {
        int threads = 4;
        long share = deviceBytes() / threads & ~7L;
        try (PmemRegion region = create(provider(), "concurrent.img")) {
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try {
                List<Future<byte[]>> results = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    long base = t * share;
                    int seed = t;
                    results.add(pool.submit(() -> writeShare(region, base, (int) share, seed)));
                }
                for (int t = 0; t < threads; t++) {
                    byte[] expected = results.get(t).get(60, TimeUnit.SECONDS);
                    byte[] actual = new byte[(int) share];
                    region.read(t * share, actual, 0, actual.length);
                    assertArrayEquals(expected, actual, "share of thread " + t);
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    private static byte[] writeShare(PmemRegion region, long base, int share, int seed)
            throws IOException {
        SplittableRandom random = new SplittableRandom(seed);
        byte[] model = new byte[share];
        for (int op = 0; op < 300; op++) {
            int offset = random.nextInt(share);
            int length = Math.min(random.nextInt(512), share - offset);
            byte[] data = new byte[length];
            random.nextBytes(data);
            if (op % 2 == 0) {
                region.write(base + offset, data, 0, length);
            } else {
                region.write(base + offset, ByteBuffer.wrap(data));
            }
            region.flush(base + offset, length);
            region.fence();
            System.arraycopy(data, 0, model, offset, length);
            int aligned = random.nextInt(share / 8) * 8;
            long value = random.nextLong();
            region.putLong(base + aligned, value);
            ByteBuffer.wrap(model, aligned, 8).order(ByteOrder.LITTLE_ENDIAN).putLong(value);
        }
        return model;
    }

    @Test
    void reopenKeepsFlushedData() throws IOException {
        PmemProvider provider = provider();
        long boundary = boundaries()[0];
        try (PmemRegion region = create(provider, "reopen.img")) {
            region.write(boundary - 4, new byte[] {1, 2, 3, 4, 5, 6, 7, 8}, 0, 8);
            region.putLong(deviceBytes() - 8, 0xCAFEBABEL);
            region.flush(boundary - 4, 8);
            region.flush(deviceBytes() - 8, 8);
            region.fence();
        }
        try (PmemRegion region = provider.open(dir.resolve("reopen.img"), 0)) {
            assertEquals(deviceBytes(), region.sizeBytes());
            byte[] bytes = new byte[8];
            region.read(boundary - 4, bytes, 0, 8);
            assertArrayEquals(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}, bytes);
            assertEquals(0xCAFEBABEL, region.getLong(deviceBytes() - 8));
        }
    }

    @Test
    void callsAfterCloseFailClearly() throws IOException {
        PmemRegion region = create(provider(), "closed.img");
        region.close();
        region.close(); // idempotent
        DeviceClosedException e = assertThrows(DeviceClosedException.class,
                () -> region.read(0, new byte[8], 0, 8));
        assertTrue(e.getMessage().contains("closed.img") && e.getMessage().contains("closed"),
                e.getMessage());
        assertThrows(DeviceClosedException.class, () -> region.write(0, ByteBuffer.allocate(8)));
        assertThrows(DeviceClosedException.class, () -> region.putLong(0, 1));
        assertThrows(DeviceClosedException.class, () -> region.getLong(0));
        assertThrows(DeviceClosedException.class, () -> region.view(0, 8));
        assertThrows(DeviceClosedException.class, () -> region.fill(0, 8, (byte) 0));
        assertThrows(DeviceClosedException.class, () -> region.flush(0, 8));
        assertThrows(DeviceClosedException.class, region::fence);
    }

    /** An offset within 300 bytes before one of the boundaries (or anywhere, sometimes). */
    long aimedOffset(SplittableRandom random) {
        long[] boundaries = boundaries();
        if (random.nextInt(5) == 0) {
            return random.nextLong(deviceBytes());
        }
        long boundary = boundaries[random.nextInt(boundaries.length)];
        return Math.max(0, Math.min(deviceBytes() - 1, boundary - random.nextInt(300)));
    }
}
