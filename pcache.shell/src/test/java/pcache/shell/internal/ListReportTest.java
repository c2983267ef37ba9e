package pcache.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

import pcache.api.BackingState;
import pcache.api.CacheMode;
import pcache.api.spi.BackingDevice;
import pcache.io.scr.BackingFailures;
import pcache.shell.internal.Fakes.FakeBacking;
import pcache.shell.internal.Fakes.FakeCache;

class ListReportTest {

    @Test
    void nothingRegistered() {
        assertEquals("""
                caches: none
                backing devices: none
                pmem providers: none
                write-back policies: none
                crc providers: none
                key indices: none
                segment allocators: none
                """, ListReport.format(List.of(), List.of(), List.of(), InstalledParts.NONE));
    }

    @Test
    void cachesBackingsAndProvidersSortedByName() {
        FakeCache b = new FakeCache("pcache1", 4L << 30, CacheMode.WRITETHROUGH,
                Fakes.status("pcache1", false, BackingState.RECONNECTING, "nbd://127.0.0.1:10810/disk"));
        FakeCache a = new FakeCache("pcache0", 1536L << 20, CacheMode.WRITEBACK,
                Fakes.status("pcache0", true, BackingState.ONLINE, "file:/data/pcache0.backing"));
        BackingDevice file = new FakeBacking(1536L << 20, "/data/pcache0.backing", BackingState.ONLINE);
        BackingDevice nbd = new FakeBacking(4L << 30, "nbd://127.0.0.1:10810/disk", BackingState.RECONNECTING);

        String text = ListReport.format(List.of(b, a), List.of(),
                List.of(Fakes.backing("pcache1.backing", "nbd", nbd), Fakes.backing("pcache0.backing", "file", file)),
                new InstalledParts(List.of("mapped", "heap", "fileio"), List.of("ordered", "mine", "batching"),
                        List.of("crc32c-pcache"), List.of("striped"), List.of("fifo")));

        assertEquals("""
                caches (2):
                  NAME     SIZE     MODE          STATE  BACKING
                  pcache0  1.5 GiB  writeback     clean  file:/data/pcache0.backing
                  pcache1  4 GiB    writethrough  dirty  nbd://127.0.0.1:10810/disk (reconnecting)
                backing devices (2):
                  NAME             DRIVER  STATE         SIZE     IDENTITY
                  pcache0.backing  file    online        1.5 GiB  /data/pcache0.backing
                  pcache1.backing  nbd     reconnecting  4 GiB    nbd://127.0.0.1:10810/disk
                pmem providers: fileio, heap, mapped
                write-back policies: batching, mine, ordered
                crc providers: crc32c-pcache
                key indices: striped
                segment allocators: fifo
                """, text);
    }

    @Test
    void aFailingCacheIsShownWithItsErrorAndTheRestIsListed() {
        FakeCache broken = new FakeCache("bad", 1L << 30, CacheMode.WRITEBACK, null);
        FakeCache good = new FakeCache("good", 1L << 30, CacheMode.WRITEBACK,
                Fakes.status("good", true, BackingState.ONLINE, "file:/x"));

        String text = ListReport.format(List.of(broken, good), List.of(), List.of(), InstalledParts.NONE);

        assertTrue(text.contains("  bad   1 GiB  writeback  unknown  status failed: cache bad is closing\n"), text);
        assertTrue(text.contains("  good  1 GiB  writeback  clean    file:/x\n"), text);
    }

    /**
     * Configured caches that are not open are listed with why. Before, {@code pcache:list} said
     * "caches: none" while a configured cache had failed to open, and only the log said why.
     */
    @Test
    void configuredCachesThatAreNotOpenAreListedWithWhy() {
        FakeCache open = new FakeCache("good", 1L << 30, CacheMode.WRITEBACK,
                Fakes.status("good", true, BackingState.ONLINE, "file:/x"));
        String text = ListReport.format(List.of(open), List.of(new Fakes.OpenFailure("z", "superblock damaged", false),
                new Fakes.OpenFailure("a", "no backing device", true)), List.of(), InstalledParts.NONE);
        assertTrue(text.startsWith("""
                caches (1):
                  NAME  SIZE   MODE       STATE  BACKING
                  good  1 GiB  writeback  clean  file:/x
                configured caches not open (2):
                  NAME  STATE              WHY
                  a     waits for backing  no backing device
                  z     failed             superblock damaged
                backing devices: none
                """), text);
        String none = ListReport.format(List.of(), List.of(new Fakes.OpenFailure("z", "superblock damaged", false)),
                List.of(), InstalledParts.NONE);
        assertTrue(none.startsWith("caches open: none\nconfigured caches not open (1):\n"), none);
    }

    /**
     * Configured backing devices that did not open are listed with why, after the open ones.
     * Before, {@code pcache:list} said "backing devices: none" while a backing device had failed to
     * open (its file locked by another pcache, say), and only the log said why.
     */
    @Test
    void configuredBackingDevicesThatDidNotOpenAreListedWithWhy() {
        String text = ListReport.format(List.of(), List.of(new Fakes.OpenFailure("c", "it waits for its backing device",
                true)), List.of(), List.of(new BackingFailures.Failure("c.backing", "path=/d/x is in use")),
                InstalledParts.NONE);
        assertTrue(text.contains("""
                backing devices: none
                configured backing devices not open (1):
                  NAME       WHY
                  c.backing  path=/d/x is in use
                pmem providers: """), text);
    }

    @Test
    void aBackingDeviceWithoutServicePropertiesShowsQuestionMarks() {
        BackingDevice device = new FakeBacking(512, "x", BackingState.FAILING);
        String text = ListReport.format(List.of(), List.of(), List.of(new ListReport.BackingEntry(java.util.Map.of(), device)),
                InstalledParts.NONE);
        assertTrue(text.contains("  ?     ?       failing  512 B  x\n"), text);
    }
}
