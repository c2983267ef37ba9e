package pcache.backing.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static pcache.backing.nbd.internal.NbdProtocolCornerTest.waitUntil;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import pcache.api.BackingDeviceException;
import pcache.api.BackingState;
import pcache.api.BackingUnavailableException;

/** nbdkit dies under load and comes back: requests wait, are re-sent and complete. */
class NbdReconnectTest {

    private static final int SIZE = 8 << 20;

    @TempDir
    Path dir;

    private Path image;
    private final List<AutoCloseable> resources = new ArrayList<>();

    @AfterEach
    void cleanUp() throws Exception {
        for (int i = resources.size() - 1; i >= 0; i--) {
            resources.get(i).close();
        }
    }

    private Nbdkit fileServer(boolean tcp, String... filters) throws Exception {
        image = dir.resolve("disk.img");
        if (!Files.exists(image)) {
            try (FileChannel file = FileChannel.open(image, StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE)) {
                file.truncate(SIZE);
                file.write(ByteBuffer.allocate(1), SIZE - 1);
            }
        }
        List<String> args = new ArrayList<>(List.of(filters));
        args.addAll(List.of("file", image.toString()));
        args.addAll(List.of(filters).contains("--filter=delay")
                ? List.of("rdelay=150ms", "wdelay=150ms") : List.of());
        Nbdkit server = tcp ? Nbdkit.tcp(dir, args.toArray(String[]::new))
                : Nbdkit.unix(dir, args.toArray(String[]::new));
        resources.add(server);
        return server;
    }

    private NbdBackingDevice connect(Nbdkit server, Duration ioTimeout) throws Exception {
        NbdBackingDevice device = NbdBackingDevice.connect(NbdSettings.of("re", server.uri())
                .withIoTimeout(ioTimeout)
                .withBackoff(Duration.ofMillis(20), Duration.ofMillis(100)));
        resources.add(device);
        return device;
    }

    @Test
    void requestsInFlightWhenTheServerDiesCompleteAfterItRestarts() throws Exception {
        Nbdkit server = fileServer(false, "--filter=delay");
        NbdBackingDevice device = connect(server, Duration.ofSeconds(20));
        byte[] expected = Files.readAllBytes(image);

        // one write acknowledged and not flushed before the crash
        byte[] early = new byte[4096];
        Arrays.fill(early, (byte) 0x11);
        device.write(0, ByteBuffer.wrap(early), false);
        System.arraycopy(early, 0, expected, 0, early.length);

        Set<BackingState> seen = EnumSet.noneOf(BackingState.class);
        Set<BackingState> seenSync = ConcurrentHashMap.newKeySet();
        ExecutorService pool = Executors.newFixedThreadPool(9);
        try {
            pool.submit(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    seenSync.add(device.state());
                    Thread.sleep(2);
                }
                return null;
            });
            List<Future<?>> calls = new ArrayList<>();
            Random random = new Random(9);
            for (int t = 0; t < 8; t++) {
                byte[] data = new byte[64 * 1024];
                random.nextBytes(data);
                long offset = (1 << 20) + t * 128 * 1024L;
                System.arraycopy(data, 0, expected, (int) offset, data.length);
                calls.add(pool.submit(() -> {
                    device.write(offset, ByteBuffer.wrap(data), false);
                    ByteBuffer back = ByteBuffer.allocate(data.length);
                    device.read(offset, back); // sent after the write returned
                    assertArrayEquals(data, back.array());
                    return null;
                }));
            }
            Thread.sleep(50); // the writes are now in the server's 150 ms delay
            seenSync.add(device.state()); // ONLINE, even if the sampler has not run yet
            server.kill();
            waitUntil(() -> device.state() == BackingState.RECONNECTING, "RECONNECTING");
            Thread.sleep(300);
            assertEquals(BackingState.RECONNECTING, device.state());
            server.restart();
            for (Future<?> call : calls) {
                call.get(20, TimeUnit.SECONDS);
            }
            waitUntil(() -> device.state() == BackingState.ONLINE, "ONLINE");
        } finally {
            pool.shutdownNow();
            pool.awaitTermination(5, TimeUnit.SECONDS);
        }
        seen.addAll(seenSync);
        assertTrue(seen.containsAll(EnumSet.of(BackingState.ONLINE, BackingState.RECONNECTING)),
                seen.toString());
        assertTrue(device.reconnectCount() >= 1);

        // the early write was acknowledged before the crash and never flushed: the first flush
        // must not vouch for it; once the caller wrote it again, flushing succeeds
        BackingDeviceException lost = assertThrows(BackingDeviceException.class, device::flush);
        assertTrue(lost.getMessage().contains("not yet flushed"), lost.getMessage());
        device.write(0, ByteBuffer.wrap(early), false);
        device.flush();

        ByteBuffer all = ByteBuffer.allocate(SIZE);
        device.read(0, all);
        assertArrayEquals(expected, all.array());
        assertArrayEquals(expected, Files.readAllBytes(image));
    }

    @Test
    void serverDownLongerThanTheIoTimeoutFailsRequestsUntilItIsBack() throws Exception {
        Nbdkit server = fileServer(true);
        // the timeout also bounds the FUA write and the flush, each an fdatasync in nbdkit: 2 s
        // leaves room for a busy disk
        NbdBackingDevice device = connect(server, Duration.ofSeconds(2));
        device.write(0, ByteBuffer.allocate(4096), true);
        server.kill();
        long began = System.nanoTime();
        BackingUnavailableException e = assertThrows(BackingUnavailableException.class,
                () -> device.read(0, ByteBuffer.allocate(4096)));
        long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began);
        assertTrue(waited >= 1800 && waited < 15_000, "waited " + waited + " ms");
        assertTrue(e.getMessage().contains("did not complete within")
                && e.getMessage().contains("nbd://127.0.0.1:")
                && e.getMessage().contains("reconnect attempt"), e.getMessage());
        assertEquals(BackingState.RECONNECTING, device.state());

        server.restart();
        waitUntil(() -> device.state() == BackingState.ONLINE, "ONLINE");
        device.read(0, ByteBuffer.allocate(4096));
        device.flush(); // the only write before the crash had FUA: nothing was at risk
    }

    @Test
    void reconnectToAnExportOfAnotherSizeIsRefused() throws Exception {
        Nbdkit server = fileServer(false);
        NbdBackingDevice device = connect(server, Duration.ofSeconds(5));
        server.kill();
        try (FileChannel file = FileChannel.open(image, StandardOpenOption.WRITE)) {
            file.truncate(SIZE / 2);
        }
        server.restart();
        waitUntil(() -> device.state() == BackingState.FAILING, "FAILING");
        BackingDeviceException e = assertThrows(BackingDeviceException.class,
                () -> device.read(0, ByteBuffer.allocate(512)));
        assertTrue(e.getMessage().contains("export size changed from " + SIZE + " to "
                + SIZE / 2), e.getMessage());
        assertThrows(BackingDeviceException.class, device::flush);
        assertEquals(BackingState.FAILING, device.state());
    }

    @Test
    void closeWhileReconnectingFailsWaitingRequests() throws Exception {
        Nbdkit server = fileServer(false);
        NbdBackingDevice device = connect(server, Duration.ZERO); // wait forever
        server.kill();
        waitUntil(() -> device.state() == BackingState.RECONNECTING, "RECONNECTING");
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<?> read = pool.submit(() -> {
                device.read(0, ByteBuffer.allocate(512));
                return null;
            });
            Thread.sleep(100);
            device.close();
            var e = assertThrows(java.util.concurrent.ExecutionException.class,
                    () -> read.get(5, TimeUnit.SECONDS));
            assertTrue(e.getCause() instanceof pcache.api.DeviceClosedException, e.toString());
        } finally {
            pool.shutdownNow();
        }
    }
}
