package pcache.backing.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import pcache.api.BackingState;
import pcache.api.MisalignedIoException;
import pcache.api.OutOfRangeException;
import pcache.api.ReadOnlyDeviceException;

/** The client against nbdkit's memory plugin: content model checks under concurrency. */
class NbdMemoryTest {

    private static final long SIZE = 64L << 20;

    @TempDir
    Path dir;

    private final List<AutoCloseable> resources = new ArrayList<>();

    @AfterEach
    void cleanUp() throws Exception {
        for (int i = resources.size() - 1; i >= 0; i--) {
            resources.get(i).close();
        }
    }

    private NbdBackingDevice open(Nbdkit server) throws Exception {
        NbdBackingDevice device = NbdBackingDevice.connect(NbdSettings.of("mem", server.uri())
                .withIoTimeout(Duration.ofSeconds(20)));
        resources.add(device);
        return device;
    }

    private Nbdkit server(String... args) throws Exception {
        Nbdkit server = Nbdkit.unix(dir, args);
        resources.add(server);
        return server;
    }

    /** Four threads, each on its own region, random ops checked against a model. */
    private static void concurrentModelRun(NbdBackingDevice device, int threads, int ops)
            throws Exception {
        int region = 4 << 20;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<ModelDisk>> runs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                long base = (long) t * region * 2 + 4096 * t;
                long seed = 1000 + t;
                runs.add(pool.submit(() -> {
                    ModelDisk model = new ModelDisk(device, base, region, seed);
                    model.run(ops, 256 * 1024);
                    return model;
                }));
            }
            for (Future<ModelDisk> run : runs) {
                run.get(40, TimeUnit.SECONDS).verifyAll();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @ParameterizedTest(name = "nbdkit {0}")
    @ValueSource(strings = {"", "--no-sr", "--mask-handshake=0",
            "--filter=nozero --filter=fua"})
    void concurrentRandomOperationsMatchTheModel(String options) throws Exception {
        List<String> args = new ArrayList<>(options.isEmpty() ? List.of()
                : List.of(options.split(" ")));
        args.addAll(List.of("memory", Long.toString(SIZE)));
        NbdBackingDevice device = open(server(args.toArray(String[]::new)));
        ExportInfo export = device.export();
        switch (options) {
            case "--no-sr" -> assertFalse(export.structuredReplies(), export.summary());
            case "--mask-handshake=0" -> assertFalse(export.negotiatedWithGo(), export.summary());
            case "--filter=nozero --filter=fua" -> assertFalse(export.canWriteZeroes()
                    || export.canFua(), export.summary());
            default -> assertTrue(export.structuredReplies() && export.negotiatedWithGo()
                    && export.canWriteZeroes() && export.canFua() && export.canTrim()
                    && export.canFlush(), export.summary());
        }
        assertEquals(SIZE, device.sizeBytes());
        concurrentModelRun(device, 4, 250);
        assertEquals(BackingState.ONLINE, device.state());
        assertEquals(0, device.reconnectCount());
    }

    @Test
    void requestsLargerThanTheMaximumPayloadAreSplit() throws Exception {
        NbdBackingDevice device = open(server("memory", Long.toString(SIZE)));
        byte[] data = new byte[40 << 20]; // > 32 MiB
        new Random(7).nextBytes(data);
        device.write(4096, ByteBuffer.wrap(data), false);
        ByteBuffer back = ByteBuffer.allocateDirect(data.length);
        device.read(4096, back);
        back.flip();
        byte[] got = new byte[data.length];
        back.get(got);
        assertArrayEquals(data, got);
        device.writeZeroes(0, SIZE, false);
        ByteBuffer zero = ByteBuffer.allocate(1 << 20);
        device.read(SIZE / 2, zero);
        assertArrayEquals(new byte[1 << 20], zero.array());
    }

    @Test
    void identityAndDescriptionComeFromTheUri() throws Exception {
        Nbdkit server = server("memory", "1M");
        NbdBackingDevice device = open(server);
        String normalised = NbdUri.parse(server.uri()).toString();
        assertEquals("nbd:" + normalised, device.identity().id());
        assertEquals(1 << 20, device.identity().sizeBytes());
        assertEquals(normalised, device.description());
        assertTrue(device.durableFlush());

        try (NbdBackingDevice labelled = NbdBackingDevice.connect(NbdSettings.of("m2",
                server.uri()).withIdentityLabel("disk-42"))) {
            assertEquals("disk-42", labelled.identity().id());
        }
    }

    @Test
    void badRequestsFailBeforeReachingTheServer() throws Exception {
        NbdBackingDevice device = open(server("memory", "1M"));
        assertThrows(OutOfRangeException.class,
                () -> device.read((1 << 20) - 512, ByteBuffer.allocate(1024)));
        assertThrows(MisalignedIoException.class,
                () -> device.write(100, ByteBuffer.allocate(512), false));
        assertThrows(MisalignedIoException.class, () -> device.writeZeroes(0, 100, false));
        assertThrows(OutOfRangeException.class, () -> device.trim(-512, 512));
        device.read(0, ByteBuffer.allocate(0));
        assertEquals(BackingState.ONLINE, device.state());
    }

    @Test
    void readOnlyExportRejectsWrites() throws Exception {
        NbdBackingDevice device = open(server("-r", "memory", "1M"));
        assertTrue(device.export().readOnly());
        assertThrows(ReadOnlyDeviceException.class,
                () -> device.write(0, ByteBuffer.allocate(512), false));
        assertThrows(ReadOnlyDeviceException.class, () -> device.writeZeroes(0, 512, false));
        assertThrows(ReadOnlyDeviceException.class, () -> device.trim(0, 512));
        device.read(0, ByteBuffer.allocate(4096));
        device.flush();
    }

    @Test
    void closeIsIdempotentAndFailsLaterRequests() throws Exception {
        NbdBackingDevice device = open(server("memory", "1M"));
        device.close();
        device.close();
        assertEquals(BackingState.UNAVAILABLE, device.state());
        assertThrows(pcache.api.DeviceClosedException.class,
                () -> device.read(0, ByteBuffer.allocate(512)));
        assertThrows(pcache.api.DeviceClosedException.class, device::flush);
    }
}
