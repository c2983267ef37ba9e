package pcache.backing.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import pcache.api.BackingDeviceException;
import pcache.api.BackingState;

/** The client against nbdkit's file plugin and its error, delay and blocksize-policy filters. */
class NbdFaultFilterTest {

    @TempDir
    Path dir;

    private final List<AutoCloseable> resources = new ArrayList<>();

    @AfterEach
    void cleanUp() throws Exception {
        for (int i = resources.size() - 1; i >= 0; i--) {
            resources.get(i).close();
        }
    }

    private NbdBackingDevice open(String... args) throws Exception {
        Nbdkit server = Nbdkit.unix(dir, args);
        resources.add(server);
        NbdBackingDevice device = NbdBackingDevice.connect(NbdSettings.of("t", server.uri())
                .withIoTimeout(Duration.ofSeconds(20)));
        resources.add(device);
        return device;
    }

    @Test
    void flushedWritesReachTheFile() throws Exception {
        Path image = dir.resolve("disk.img");
        try (var file = java.nio.channels.FileChannel.open(image,
                java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE)) {
            file.truncate(8 << 20).write(ByteBuffer.wrap(new byte[] {1}), (8 << 20) - 1);
        }
        NbdBackingDevice device = open("file", image.toString());
        byte[] expected = Files.readAllBytes(image);
        Random random = new Random(3);
        for (int i = 0; i < 200; i++) {
            int length = (1 + random.nextInt(64)) * 512;
            int offset = random.nextInt((8 << 20) / 512 - length / 512) * 512;
            byte[] data = new byte[length];
            random.nextBytes(data);
            device.write(offset, ByteBuffer.wrap(data), i % 10 == 0);
            System.arraycopy(data, 0, expected, offset, length);
        }
        device.writeZeroes(1 << 20, 1 << 20, false);
        Arrays.fill(expected, 1 << 20, 2 << 20, (byte) 0);
        device.flush();
        assertArrayEquals(expected, Files.readAllBytes(image));
    }

    @Test
    void serverErrorsFailTheRequestButNotTheConnection() throws Exception {
        NbdBackingDevice device = open("--filter=error", "memory", "16M", "error=EIO",
                "error-rate=0.2");
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
            int failures = 0;
            int successes = 0;
            Random random = new Random(5);
            for (int i = 0; i < 300; i++) {
                long offset = random.nextInt(4096) * 4096L;
                try {
                    switch (i % 4) {
                        case 0 -> device.write(offset, ByteBuffer.allocate(4096), false);
                        case 1 -> device.read(offset, ByteBuffer.allocate(4096));
                        case 2 -> device.flush();
                        default -> device.writeZeroes(offset, 8192, false);
                    }
                    successes++;
                } catch (BackingDeviceException e) {
                    assertTrue(e.getMessage().contains("EIO"), e.getMessage());
                    assertTrue(e.getMessage().contains("nbd+unix:///"), e.getMessage());
                    failures++;
                }
            }
            assertTrue(failures > 20 && successes > 100, failures + " failures, " + successes
                    + " successes");
        });
        assertEquals(BackingState.ONLINE, device.state());
        assertEquals(0, device.reconnectCount(), "errors must not cost the connection");
    }

    @Test
    void requestsArePipelined() throws Exception {
        // every read and write takes 1 s in the server, which runs 16 threads by default: long
        // enough that scheduling delays on a loaded machine are small against it
        NbdBackingDevice device = open("--filter=delay", "memory", "16M", "rdelay=1000ms",
                "wdelay=1000ms");
        int requests = 16;
        ExecutorService pool = Executors.newFixedThreadPool(requests);
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<?>> calls = new ArrayList<>();
            for (int i = 0; i < requests; i++) {
                long offset = i * 65536L;
                boolean write = i % 2 == 0;
                calls.add(pool.submit(() -> {
                    start.await();
                    if (write) {
                        device.write(offset, ByteBuffer.allocate(4096), false);
                    } else {
                        device.read(offset, ByteBuffer.allocate(4096));
                    }
                    return null;
                }));
            }
            long began = System.nanoTime();
            start.countDown();
            for (Future<?> call : calls) {
                call.get(20, TimeUnit.SECONDS);
            }
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began);
            // serialised they would take 16 x 1 s = 16 s; pipelined, about 1 s
            assertTrue(millis < requests * 1000 / 2, "16 delayed requests took " + millis + " ms");
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void largerMinimumBlockIsHiddenByReadModifyWrite() throws Exception {
        // the server rejects anything not 4096-aligned with EINVAL
        NbdBackingDevice device = open("--filter=blocksize-policy", "memory", "8M",
                "blocksize-minimum=4096", "blocksize-preferred=4096", "blocksize-error-policy=error");
        assertEquals(4096, device.export().minimumBlock());
        assertEquals(512, device.logicalBlockSize());

        // the model run uses 512-byte granularity everywhere
        new ModelDisk(device, 3 * 512, 1 << 20, 11).run(300, 20 * 1024);

        // sixteen threads write interleaved 512-byte sectors of the same 4 KiB blocks
        long base = 4 << 20;
        int threads = 16;
        int rounds = 20;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> writers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                writers.add(pool.submit(() -> {
                    for (int round = 0; round < rounds; round++) {
                        byte[] sector = new byte[512];
                        Arrays.fill(sector, (byte) (thread + 1));
                        long offset = base + (round * threads + thread) * 512L;
                        device.write(offset, ByteBuffer.wrap(sector), false);
                    }
                    return null;
                }));
            }
            for (Future<?> writer : writers) {
                writer.get(20, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        ByteBuffer all = ByteBuffer.allocate(threads * rounds * 512);
        device.read(base, all);
        for (int s = 0; s < threads * rounds; s++) {
            byte expected = (byte) (s % threads + 1);
            for (int b = 0; b < 512; b++) {
                if (all.get(s * 512 + b) != expected) {
                    fail("sector " + s + " lost its write: byte " + b + " is " + all.get(s * 512 + b));
                }
            }
        }
    }

    @Test
    void serverWithoutFlushIsReportedAsNotDurable() throws Exception {
        Path image = dir.resolve("plain.img");
        Files.write(image, new byte[1 << 20]);
        // the eval plugin offers no flush, FUA or trim unless told to
        NbdBackingDevice device = open("eval", "get_size=echo 1048576",
                "pread=dd if=" + image + " skip=$4 count=$3 iflag=count_bytes,skip_bytes status=none",
                "pwrite=dd of=" + image + " seek=$4 conv=notrunc oflag=seek_bytes status=none",
                "can_write=exit 0");
        assertFalse(device.durableFlush());
        assertFalse(device.export().canTrim());
        assertTrue(device.description().contains("flush not durable"), device.description());
        byte[] data = new byte[4096];
        Arrays.fill(data, (byte) 9);
        device.write(8192, ByteBuffer.wrap(data), true);
        device.trim(0, 4096); // ignored
        device.flush(); // nothing to send; must not fail
        byte[] file = Files.readAllBytes(image);
        assertArrayEquals(data, Arrays.copyOfRange(file, 8192, 8192 + 4096));
    }

    static void quietly(IOException ignored) {
    }
}
