package pcache.pmem.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import org.junit.jupiter.api.Test;

import pcache.io.DeviceFiles;
import pcache.api.spi.PmemProvider;
import pcache.api.spi.PmemRegion;
import pcache.io.InterruptSafeChannel;

class FileIoPmemRegionTest extends FileRegionContract {

    @Override
    PmemProvider provider() {
        return new FileIoPmemProvider();
    }

    @Override
    long deviceBytes() {
        return 3 * 4096 + 1000;
    }

    @Override
    long[] boundaries() {
        return new long[] {4096, 8192, 12_288}; // pages: nothing splits here, but aim there anyway
    }

    @Test
    void storesReachTheFileAndViewsAreCopies() throws IOException {
        Path file = dir.resolve("plain.img");
        try (PmemRegion region = provider().open(file, deviceBytes())) {
            assertFalse(region.isDirectAccess());
            region.write(100, new byte[] {9, 8, 7}, 0, 3);
            region.flush(100, 3);
            region.fence();
            region.fence(); // nothing flushed since: no second sync needed, still fine
            byte[] onDisk = Files.readAllBytes(file);
            assertArrayEquals(new byte[] {9, 8, 7}, java.util.Arrays.copyOfRange(onDisk, 100, 103));
            ByteBuffer view = region.view(100, 3);
            region.write(100, new byte[] {1}, 0, 1);
            assertEquals(9, view.get(0), "a view of a fileio region is a copy");
        }
    }

    @Test
    void anInterruptedCallerNeitherFailsNorBreaksTheDevice() throws IOException {
        try (PmemRegion region = provider().open(dir.resolve("interrupt.img"), deviceBytes())) {
            Thread.currentThread().interrupt();
            try {
                region.putLong(0, 77);
                region.flush(0, 8);
                region.fence();
                assertTrue(Thread.currentThread().isInterrupted(), "interrupt status kept");
            } finally {
                Thread.interrupted();
            }
            assertEquals(77, region.getLong(0));
        }
    }

    /** A channel over a new 8 KiB file at {@code file}, its FileChannel closed as another thread's interrupt closes it. */
    private static InterruptSafeChannel closedUnderneath(Path file) throws IOException {
        RegionFiles.OpenedFile opened = RegionFiles.open(file, 8192);
        FileChannel raw = opened.channel();
        InterruptSafeChannel channel = new InterruptSafeChannel(raw, file,
                java.util.Set.of(StandardOpenOption.READ, StandardOpenOption.WRITE), "test");
        raw.close(); // what an interrupt during someone else's I/O does to a FileChannel
        return channel;
    }

    @Test
    void reopensTheChannelWhenAnotherThreadsInterruptClosedIt() throws Exception {
        Path file = dir.resolve("reopen-channel.img");
        InterruptSafeChannel channel = closedUnderneath(file);
        int written = channel.call(ch -> ch.write(ByteBuffer.wrap(new byte[] {1, 2}), 10));
        assertEquals(2, written);
        channel.close();
        assertEquals(1, Files.readAllBytes(file)[10]);
    }

    /**
     * A data sync whose file was closed under it (another thread's interrupt) is not run again on
     * the reopened file, which could succeed over a write-back error the cut-off sync took: it
     * fails, and the next sync runs on the reopened file. Before, it was re-run and succeeded.
     */
    @Test
    void aSyncCutOffByAnInterruptFailsAndTheNextOneRuns() throws Exception {
        InterruptSafeChannel channel = closedUnderneath(dir.resolve("sync-cut-off.img"));
        java.util.concurrent.atomic.AtomicInteger runs = new java.util.concurrent.atomic.AtomicInteger();
        IOException e = assertThrows(IOException.class, () -> channel.callSyncing(ch -> {
            runs.incrementAndGet();
            ch.force(false);
            return null;
        }));
        assertTrue(e.getMessage().contains("a data sync was cut off"), e.getMessage());
        assertEquals(1, runs.get(), "not run again");
        channel.callSyncing(ch -> {
            runs.incrementAndGet();
            ch.force(false);
            return null;
        });
        assertEquals(2, runs.get());
        channel.close();
    }

    /**
     * A data sync that fails fails every later one until the device is opened again: the kernel
     * reports a failed write-out once, so a second sync would succeed without the lost pages, and a
     * fence of another thread (a kset, a FUA write) would say durable over them. Before, the next
     * fence synced again and succeeded.
     */
    @Test
    void aFailedDataSyncFailsEveryLaterFenceUntilTheDeviceIsOpenedAgain() throws IOException {
        Path file = dir.resolve("sync-fails.img");
        java.util.concurrent.atomic.AtomicInteger syncs = new java.util.concurrent.atomic.AtomicInteger();
        FileIoPmemRegion.SyncAction failsOnce = channel -> {
            if (syncs.incrementAndGet() == 1) {
                throw new IOException("Input/output error");
            }
            FileIoPmemRegion.FDATASYNC.sync(channel);
        };
        try (PmemRegion region = FileIoPmemRegion.open(file, deviceBytes(), failsOnce)) {
            region.putLong(0, 1);
            region.flush(0, 8);
            IOException first = assertThrows(IOException.class, region::fence);
            assertTrue(first.getMessage().contains("data sync failed: Input/output error"), first.getMessage());
            region.putLong(8, 2);
            region.flush(8, 8);
            IOException later = assertThrows(IOException.class, region::fence);
            assertTrue(later.getMessage().contains("an earlier data sync failed") && later.getMessage()
                    .contains("Input/output error") && later.getMessage().contains("restart"), later.getMessage());
            assertEquals(1, syncs.get(), "no second sync that would succeed over the lost pages");
        } catch (IOException closing) {
            assertTrue(closing.getMessage().contains("an earlier data sync failed"), closing.getMessage());
        }
        try (PmemRegion reopened = provider().open(file, deviceBytes())) {
            reopened.putLong(16, 3);
            reopened.flush(16, 8);
            reopened.fence();
        }
    }

    @Test
    void probingFindsTheEndOfAFileOfAnySize() throws IOException {
        for (long size : new long[] {1, 4095, 1 << 20, (1 << 20) + 1, 5_000_000}) {
            Path file = dir.resolve("probe-" + size);
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                channel.write(ByteBuffer.wrap(new byte[] {1}), size - 1);
                assertEquals(size, DeviceFiles.probeEnd(channel), "size " + size);
            }
        }
    }
}
