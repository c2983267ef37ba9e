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

    @Override
    boolean hasWritableViews() {
        return true;
    }

    /**
     * A failed write-back (msync) fails every later flush and fence until the device is opened
     * again: the kernel reports a failed write-out once per file, to whichever range's msync comes
     * first, so a later msync of another range would succeed over pages lost with it, and a FUA
     * write or a kset would be called durable. Before, only the flush that met the error failed.
     */
    @Test
    void aFailedFlushFailsEveryLaterFlushAndFenceUntilTheDeviceIsOpenedAgain() throws IOException {
        Path file = dir.resolve("msync-fails.img");
        java.util.concurrent.atomic.AtomicInteger forces = new java.util.concurrent.atomic.AtomicInteger();
        MappedPmemRegion.RangeForce failsOnce = (window, index, length) -> {
            if (forces.incrementAndGet() == 1) {
                throw new java.io.UncheckedIOException(new IOException("Input/output error"));
            }
            MappedPmemRegion.MSYNC.force(window, index, length);
        };
        try (PmemRegion region = MappedPmemRegion.open(file, deviceBytes(), WINDOW, failsOnce)) {
            region.putLong(0, 1);
            IOException first = assertThrows(IOException.class, () -> region.flush(0, 8));
            assertTrue(first.getMessage().contains("Input/output error"), first.getMessage());
            region.putLong(WINDOW, 2);
            IOException later = assertThrows(IOException.class, () -> region.flush(WINDOW, 8));
            assertTrue(later.getMessage().contains("an earlier flush failed") && later.getMessage().contains("restart"),
                    later.getMessage());
            assertThrows(IOException.class, region::fence);
            assertEquals(1, forces.get(), "no later msync that would succeed over the lost pages");
        }
        try (PmemRegion reopened = provider().open(file, deviceBytes())) {
            reopened.putLong(16, 3);
            reopened.flush(16, 8);
            reopened.fence();
        }
    }

    @Test
    void anOrdinaryFileIsMappedReadWriteNotSync() throws IOException {
        try (PmemRegion region = create(provider(), "mode.img")) {
            assertFalse(region.isDirectAccess(), "a temp file is not on a DAX file system");
            assertTrue(region.description().contains("READ_WRITE"), region.description());
            assertEquals(MappedPmemProvider.TYPE, provider().type());
        }
    }

    /**
     * On tmpfs (/dev/shm) a flush has nothing to write pages to, so it skips msync: the region says
     * so, and what it stored is in the file for any other reader at once. A file elsewhere (the
     * temporary directory, on a disk here) is flushed as before.
     */
    @Test
    void aFileInMemoryOnlyIsFlushedWithoutMsync() throws IOException {
        Path shm = Path.of("/dev/shm");
        boolean tmpfs = Files.isDirectory(shm) && Files.getFileStore(shm).type().equals("tmpfs");
        if (pcache.testkit.ExternalTools.inCi()) {
            assertTrue(tmpfs, "no tmpfs at /dev/shm (CI=true: a missing prerequisite fails the test)");
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(tmpfs, "no tmpfs at /dev/shm");
        Path file = Files.createTempFile(shm, "pcache-mapped", ".img");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(deviceBytes());
        }
        try {
            try (PmemRegion region = provider().open(file, deviceBytes())) {
                assertTrue(region.description().contains("in memory only: tmpfs"), region.description());
                region.putLong(WINDOW + 8, 0x1122334455667788L);
                region.flush(WINDOW + 8, 8);
                region.fence();
                ByteBuffer back = ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file)) {
                    ch.read(back, WINDOW + 8);
                }
                assertEquals(0x1122334455667788L, back.getLong(0));
            }
        } finally {
            Files.deleteIfExists(file);
        }
        String type = Files.getFileStore(dir).type();
        try (PmemRegion region = create(provider(), "disk.img")) {
            assertEquals(type.equals("tmpfs") || type.equals("ramfs"), region.description().contains("in memory only"),
                    region.description() + " on " + type);
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
    void anEmptyViewAtTheEndOfAnExactlyWindowedDevice() throws IOException {
        try (PmemRegion region = provider().open(dir.resolve("exact.img"), 2 * WINDOW)) {
            assertEquals(0, region.view(2 * WINDOW, 0).remaining());
            region.read(2 * WINDOW, new byte[0], 0, 0);
        }
    }

    /**
     * Closing unmaps the memory; calls racing with close must fail cleanly, never touch unmapped
     * memory (which would crash the JVM, and this test with it).
     */
    @Test
    void closeWhileOtherThreadsAccessTheMappingFailsThemCleanly() throws Exception {
        PmemRegion region = provider().open(dir.resolve("race.img"), deviceBytes());
        java.util.concurrent.CountDownLatch running = new java.util.concurrent.CountDownLatch(2);
        java.util.List<Thread> threads = new java.util.ArrayList<>();
        java.util.Queue<Throwable> unexpected = new java.util.concurrent.ConcurrentLinkedQueue<>();
        for (int t = 0; t < 2; t++) {
            Thread thread = new Thread(() -> {
                byte[] page = new byte[(int) WINDOW];
                running.countDown();
                try {
                    for (long i = 0;; i++) {
                        region.write((i % 3) * WINDOW, page, 0, page.length);
                        region.read(WINDOW - 100, page, 0, 200);
                        region.getLong(8);
                    }
                } catch (pcache.api.DeviceClosedException expected) {
                    // the only way out
                } catch (Throwable e) {
                    unexpected.add(e);
                }
            });
            thread.start();
            threads.add(thread);
        }
        running.await();
        Thread.sleep(20);
        region.close();
        for (Thread thread : threads) {
            thread.join(10_000);
            assertFalse(thread.isAlive());
        }
        assertTrue(unexpected.isEmpty(), unexpected.toString());
    }

    /** Unmapping a window under a live view would crash the JVM (and this test with it). */
    @Test
    void aViewTakenBeforeCloseStaysReadableAfterIt() throws IOException {
        PmemRegion region = provider().open(dir.resolve("view-close.img"), deviceBytes());
        region.putLong(WINDOW + 16, 0x5555);
        ByteBuffer view = region.view(WINDOW + 16, 8);
        region.close();
        assertEquals(0x5555, view.getLong(0));
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
    /**
     * Only a regular file on tmpfs or ramfs skips msync. A device node is not in memory only even
     * where {@code /dev} is a tmpfs (containers): before, a block device passed into a container
     * was mapped without msync, and its acknowledged writes lived in the page cache alone.
     */
    @Test
    void onlyARegularFileOnAMemoryFileSystemSkipsMsync() throws IOException {
        Path file = Files.createTempFile("pcache-memory-only", ".cache");
        try {
            assertTrue(MappedPmemRegion.inMemoryOnly(file, "tmpfs"));
            assertTrue(MappedPmemRegion.inMemoryOnly(file, "ramfs"));
            assertFalse(MappedPmemRegion.inMemoryOnly(file, "ext4"));
            assertFalse(MappedPmemRegion.inMemoryOnly(Path.of("/dev/null"), "tmpfs"), "a device node");
            assertFalse(MappedPmemRegion.inMemoryOnly(file.getParent(), "tmpfs"), "a directory");
        } finally {
            Files.deleteIfExists(file);
        }
    }
}
