package pcache.backing.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import pcache.api.BlockExtent;

/**
 * Block status of a remote export: the client selects {@code base:allocation} in the handshake
 * (again after a reconnect) and passes the server's answer on (nbdkit's file plugin over a sparse
 * file, which reports the file's holes); a server that does not offer the context gives all data.
 */
@Timeout(60)
class NbdBlockStatusTest {
    private static final long MIB = 1 << 20;
    private static final int HOLE_ZERO = BlockExtent.HOLE | BlockExtent.ZERO;

    @TempDir
    Path dir;

    private Path sparseFile(long size) throws IOException {
        Path file = dir.resolve("sparse.img");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(size);
            f.seek(2 * MIB);
            f.write(new byte[64 << 10]);
        }
        return file;
    }

    @Test
    void theServersHolesAreReportedAndFollowWritesAndReconnects() throws Exception {
        Path file = sparseFile(8 * MIB);
        try (Nbdkit server = Nbdkit.unix(dir, "file", file.toString());
                NbdBackingDevice device = NbdBackingDevice.connect(NbdSettings.of("sparse", server.uri())
                        .withBackoff(Duration.ofMillis(20), Duration.ofMillis(100)))) {
            assertTrue(device.export().canBlockStatus(), device.export().summary());
            assertEquals(List.of(new BlockExtent(0, 2 * MIB, HOLE_ZERO), new BlockExtent(2 * MIB, 64 << 10, 0),
                    new BlockExtent(2 * MIB + (64 << 10), 6 * MIB - (64 << 10), HOLE_ZERO)),
                    device.blockStatus(0, 8 * MIB, 100));
            // a limit, and a range starting inside a hole and ending inside data
            assertEquals(List.of(new BlockExtent(MIB + 512, MIB - 512, HOLE_ZERO)),
                    device.blockStatus(MIB + 512, 2 * MIB, 1));
            assertEquals(List.of(new BlockExtent(MIB, MIB, HOLE_ZERO), new BlockExtent(2 * MIB, 4096, 0)),
                    device.blockStatus(MIB, MIB + 4096, 10));

            device.write(5 * MIB, ByteBuffer.wrap(new byte[4096]).put(0, (byte) 1), false);
            device.flush();
            server.restart(); // the next request reconnects and selects the context again
            List<BlockExtent> after = device.blockStatus(4 * MIB, 2 * MIB, 10);
            assertEquals(List.of(new BlockExtent(4 * MIB, MIB, HOLE_ZERO), new BlockExtent(5 * MIB, 4096, 0),
                    new BlockExtent(5 * MIB + 4096, MIB - 4096, HOLE_ZERO)), after);
            assertTrue(device.reconnectCount() >= 1);
        }
    }

    /**
     * A block-status question asked while the device reconnects, answered after it reconnected to
     * a server that no longer offers {@code base:allocation} (restarted without structured
     * replies): all data. Before, the question was sent there without a selected context, which
     * the protocol forbids, and failed with the server's EINVAL.
     */
    @Test
    void aQuestionParkedWhileReconnectingToAServerWithoutBlockStatusMeansAllData() throws Exception {
        Path file = sparseFile(4 * MIB);
        try (Nbdkit first = Nbdkit.unix(dir, "file", file.toString());
                NbdBackingDevice device = NbdBackingDevice.connect(NbdSettings.of("downgraded", first.uri())
                .withBackoff(Duration.ofMillis(20), Duration.ofMillis(100)))) {
            assertTrue(device.export().canBlockStatus(), device.export().summary());
            first.kill();
            first.close();
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
            while (device.state() != pcache.api.BackingState.RECONNECTING) {
                assertTrue(System.nanoTime() < deadline, "the loss is seen: " + device.state());
                Thread.sleep(10);
            }
            java.util.concurrent.CompletableFuture<List<BlockExtent>> asked = java.util.concurrent.CompletableFuture
                    .supplyAsync(() -> {
                        try {
                            return device.blockStatus(0, 4 * MIB, 100);
                        } catch (IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    });
            while (device.parkedCount() == 0) {
                assertTrue(System.nanoTime() < deadline, "the question waits for the new connection");
                Thread.sleep(10);
            }
            try (Nbdkit second = Nbdkit.unix(dir, "--no-sr", "file", file.toString())) {
                assertEquals(List.of(new BlockExtent(0, 4 * MIB, 0)), asked.get(30, java.util.concurrent.TimeUnit.SECONDS));
                assertTrue(device.reconnectCount() >= 1, "answered after the reconnect");
            }
        }
    }

    @Test
    void aServerWithoutStructuredRepliesMeansAllData() throws Exception {
        Path file = sparseFile(4 * MIB);
        try (Nbdkit server = Nbdkit.unix(dir, "--no-sr", "file", file.toString());
                NbdBackingDevice device = NbdBackingDevice.connect(NbdSettings.of("plain", server.uri()))) {
            assertTrue(!device.export().canBlockStatus(), device.export().summary());
            assertEquals(List.of(new BlockExtent(0, 4 * MIB, 0)), device.blockStatus(0, 4 * MIB, 100));
        }
    }
}
