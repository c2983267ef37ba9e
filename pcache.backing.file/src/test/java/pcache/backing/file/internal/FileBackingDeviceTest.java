package pcache.backing.file.internal;

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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import pcache.io.DeviceFiles;
import pcache.api.DeviceClosedException;
import pcache.api.MisalignedIoException;
import pcache.api.OutOfRangeException;
import pcache.api.spi.BackingIdentity;

class FileBackingDeviceTest {

    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    private Path file(String name, int size, byte fill) throws IOException {
        byte[] bytes = new byte[size];
        Arrays.fill(bytes, fill);
        return Files.write(dir.resolve(name), bytes);
    }

    private FileBackingDevice open(Path path) throws IOException {
        return FileBackingDevice.open(FileBackingSettings.of("disk", path.toString()));
    }

    /**
     * The file is locked while the device is open: a second backing device on it, by any name (a
     * hard link in another folder here), is refused with what to do, and opens once the first has
     * closed. Before, both opened, and two caches wrote back to one disk over each other's data.
     */
    @Test
    void aFileInUseByAnotherBackingDeviceIsRefusedUntilItCloses() throws IOException {
        org.junit.jupiter.api.Assumptions.assumeTrue(pcache.io.lock.DeviceFileLock.supportedPlatform(),
                "open file description locks of 64-bit x86 and ARM Linux");
        Path path = file("disk.img", 64 * 1024, (byte) 0);
        Path link = Files.createLink(Files.createDirectories(dir.resolve("elsewhere")).resolve("other.img"), path);
        try (FileBackingDevice first = open(path)) {
            BackingConfigurationException refused = assertThrows(BackingConfigurationException.class,
                    () -> open(link).close());
            assertEquals("backing device 'disk' (" + FileBackingComponent.PID + "): path=" + link + " is in use by"
                    + " another user that locks it (another pcache's backing or cache device on this file, reached"
                    + " by any name (a hard link, a bind mount), a backing device of this pcache on it under another"
                    + " name, or a program that locks the images it opens, such as qemu); stop that first, then restart"
                    + " pcache or update this backing device's configuration to open it (a backing device pcache"
                    + " writes to must be its alone: a disk written by two users, or read by one while the other"
                    + " writes, keeps neither's data safe)", refused.getMessage());
            assertThrows(BackingConfigurationException.class, () -> FileBackingDevice.open(
                    FileBackingSettings.of("disk", path.toString()).withReadOnly(true)).close(),
                    "a reader is refused while a writer has it");
            assertEquals(64 * 1024, first.sizeBytes(), "the first is unaffected");
        }
        try (FileBackingDevice again = open(link)) {
            assertEquals(64 * 1024, again.sizeBytes());
        }
    }

    /** Waits (up to 30 s) for the NBD server on {@code socket} to send its greeting. */
    private void awaitGreeting(Path socket, Process server) throws Exception {
        java.util.concurrent.ExecutorService reader = java.util.concurrent.Executors.newSingleThreadExecutor();
        try (java.nio.channels.SocketChannel probe = java.nio.channels.SocketChannel.open(
                java.net.UnixDomainSocketAddress.of(socket))) {
            java.util.concurrent.Future<String> greeting = reader.submit(() -> {
                java.nio.ByteBuffer magic = java.nio.ByteBuffer.allocate(8);
                while (magic.hasRemaining() && probe.read(magic) >= 0) {
                    // until the whole magic, or the server closed
                }
                return new String(magic.array(), 0, magic.position(), java.nio.charset.StandardCharsets.US_ASCII);
            });
            assertEquals("NBDMAGIC", greeting.get(30, TimeUnit.SECONDS),
                    "qemu-nbd's greeting (alive: " + server.isAlive() + "): " + Files.readString(dir.resolve("qemu-nbd.log")));
        } finally {
            reader.shutdownNow();
        }
    }

    /**
     * pcache and qemu see each other's locks, qemu's way: while the device is open, a qemu that
     * would write to the file ({@code qemu-io}) or read it without sharing writes ({@code qemu-img
     * convert}) is refused, and one that shares everything ({@code qemu-img convert -U}) reads it;
     * once the device has closed, {@code qemu-io} writes. A qemu serving the file ({@code qemu-nbd})
     * keeps pcache out in turn. Before, qemu could write to a backing file in use; with the first
     * lock (the whole file), even {@code -U} readers were refused, and a qemu-nbd holding the file
     * was not seen.
     */
    @Test
    void pcacheAndQemuSeeEachOthersLocks() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(pcache.io.lock.DeviceFileLock.supportedPlatform(),
                "open file description locks of 64-bit x86 and ARM Linux");
        pcache.testkit.ExternalTools.require("qemu-io", "qemu-img", "qemu-nbd");
        Path path = file("disk.img", 64 * 1024, (byte) 3);
        Path copy = dir.resolve("copy.img");
        List<String> write = List.of("qemu-io", "-f", "raw", "-c", "write -P 7 0 4k", path.toString());
        try (FileBackingDevice device = open(path)) {
            String refused = run(1, write);
            assertTrue(refused.contains("Failed to get \"write\" lock"), refused);
            String convert = run(1, List.of("qemu-img", "convert", "-f", "raw", "-O", "raw", path.toString(),
                    copy.toString()));
            assertTrue(convert.contains("Failed to get shared \"write\" lock"), convert);
            run(0, List.of("qemu-img", "convert", "-U", "-f", "raw", "-O", "raw", path.toString(), copy.toString()));
            assertArrayEquals(Files.readAllBytes(path), Files.readAllBytes(copy), "qemu-img convert -U read it");
        }
        run(0, write);
        assertEquals(7, Files.readAllBytes(path)[0], "qemu-io wrote once the device had closed");
        Path socket = dir.resolve("qemu-nbd.sock");
        Process qemuNbd = new ProcessBuilder("qemu-nbd", "-f", "raw", "-t", "-k", socket.toString(), path.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("qemu-nbd.log").toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!Files.exists(socket)) {
                assertTrue(qemuNbd.isAlive() && System.nanoTime() < deadline,
                        "qemu-nbd not listening within 30 s: " + Files.readString(dir.resolve("qemu-nbd.log")));
                Thread.sleep(20);
            }
            // qemu-nbd listens before it opens the image (seen in a fresh-clone run: the device
            // opened, the lock not yet taken); it greets a client only from its main loop, with the
            // image open and locked
            awaitGreeting(socket, qemuNbd);
            BackingConfigurationException kept = assertThrows(BackingConfigurationException.class,
                    () -> open(path).close());
            assertTrue(kept.getMessage().contains("is in use by another user that locks it"), kept.getMessage());
        } finally {
            qemuNbd.destroy();
            if (!qemuNbd.waitFor(10, TimeUnit.SECONDS)) {
                // qemu-nbd 7.2 can take SIGTERM and go on waiting (seen in a fresh-clone run: the
                // signal caught, none pending, the main thread in poll for minutes); the test is
                // about the locks, not how qemu-nbd stops
                qemuNbd.destroyForcibly();
            }
            assertTrue(qemuNbd.waitFor(30, TimeUnit.SECONDS), "qemu-nbd stopped");
        }
        try (FileBackingDevice again = open(path)) {
            assertEquals(64 * 1024, again.sizeBytes());
        }
    }

    /** Runs {@code command} (bounded), checks its exit status, and returns its output. */
    private static String run(int expectedStatus, List<String> command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), command.get(0) + " ended within 60 s");
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(expectedStatus, p.exitValue(), command + ": " + out);
        return out;
    }

    /**
     * A part that fails to close does not keep the parts after it open: the lock, closed last,
     * is released whatever failed before it. Before, a failed close of the direct-write channel
     * left the channel and the file's lock held, and every later open of the file in the process
     * was refused as in use.
     */
    @Test
    void everyPartClosesWhateverFailedBeforeIt() {
        List<String> closed = new ArrayList<>();
        AutoCloseable failing = () -> {
            closed.add("failing");
            throw new IOException("direct channel close failed");
        };
        AutoCloseable alsoFailing = () -> {
            closed.add("also failing");
            throw new IllegalStateException("second");
        };
        IOException thrown = assertThrows(IOException.class, () -> FileBackingDevice.closeAll(
                () -> closed.add("holes"), null, failing, alsoFailing, () -> closed.add("lock")));
        assertEquals(List.of("holes", "failing", "also failing", "lock"), closed);
        assertEquals("direct channel close failed", thrown.getMessage());
        assertEquals("second", thrown.getSuppressed()[0].getMessage());
    }

    /** Read-only backing devices share their file with each other, and keep a writer out. */
    @Test
    void readOnlyDevicesShareTheirFileAndKeepAWriterOut() throws IOException {
        org.junit.jupiter.api.Assumptions.assumeTrue(pcache.io.lock.DeviceFileLock.supportedPlatform(),
                "open file description locks of 64-bit x86 and ARM Linux");
        Path path = file("disk.img", 64 * 1024, (byte) 0);
        FileBackingSettings readOnly = FileBackingSettings.of("ro", path.toString()).withReadOnly(true);
        try (FileBackingDevice a = FileBackingDevice.open(readOnly); FileBackingDevice b = FileBackingDevice.open(readOnly)) {
            BackingConfigurationException refused = assertThrows(BackingConfigurationException.class,
                    () -> open(path).close());
            assertTrue(refused.getMessage().contains("stop that first"), refused.getMessage());
            assertTrue(a.isReadOnly() && b.isReadOnly());
        }
        try (FileBackingDevice writer = open(path)) {
            BackingConfigurationException refused = assertThrows(BackingConfigurationException.class,
                    () -> FileBackingDevice.open(readOnly).close());
            assertTrue(refused.getMessage().contains("is locked for writing by another user of it"),
                    refused.getMessage());
            assertFalse(writer.isReadOnly());
        }
    }

    @Test
    void opensAnExistingFileWithItsSizeAndRealPathIdentity() throws IOException {
        Path path = file("disk.img", 64 * 1024, (byte) 0);
        Path link = Files.createSymbolicLink(dir.resolve("link.img"), path);
        try (FileBackingDevice device = open(link)) {
            assertEquals(64 * 1024, device.sizeBytes());
            assertEquals(512, device.logicalBlockSize());
            assertEquals(new BackingIdentity(64 * 1024, "file:" + path.toRealPath()), device.identity());
            assertEquals("file:" + path.toRealPath(), device.description());
            assertFalse(device.isReadOnly());
        }
    }

    @Test
    void aConfiguredIdentityLabelReplacesThePath() throws IOException {
        Path path = file("labelled.img", 4096, (byte) 0);
        try (FileBackingDevice device = FileBackingDevice.open(
                FileBackingSettings.of("disk", path.toString()).withIdentity("vm-42-root"))) {
            assertEquals(new BackingIdentity(4096, "vm-42-root"), device.identity());
        }
    }

    @Test
    void writesAndReadsBackThroughHeapAndDirectBuffers() throws IOException {
        Path path = file("rw.img", 64 * 1024, (byte) 0);
        try (FileBackingDevice device = open(path)) {
            byte[] data = new byte[4096];
            new SplittableRandom(3).nextBytes(data);
            ByteBuffer src = ByteBuffer.allocate(4096 + 10).position(10);
            src.put(data).position(10);
            device.write(8192, src, false);
            assertFalse(src.hasRemaining());
            ByteBuffer direct = ByteBuffer.allocateDirect(4096).put(data).flip();
            device.write(16_384, direct, true);
            device.flush();

            ByteBuffer back = ByteBuffer.allocateDirect(4096);
            device.read(8192, back);
            assertFalse(back.hasRemaining());
            assertEquals(ByteBuffer.wrap(data), back.flip());
            ByteBuffer heap = ByteBuffer.allocate(4096);
            device.read(16_384, heap);
            assertArrayEquals(data, heap.array());
            byte[] onDisk = Files.readAllBytes(path);
            assertArrayEquals(data, Arrays.copyOfRange(onDisk, 8192, 8192 + 4096));
        }
    }

    @Test
    void rejectsMisalignedAndOutOfRangeRequestsWithoutChangingAnything() throws IOException {
        Path path = file("checks.img", 8192, (byte) 7);
        try (FileBackingDevice device = open(path)) {
            assertThrows(MisalignedIoException.class, () -> device.write(100, ByteBuffer.allocate(512), false));
            assertThrows(MisalignedIoException.class, () -> device.read(0, ByteBuffer.allocate(100)));
            assertThrows(MisalignedIoException.class, () -> device.writeZeroes(512, 100, false));
            assertThrows(MisalignedIoException.class, () -> device.trim(1, 512));
            OutOfRangeException e = assertThrows(OutOfRangeException.class,
                    () -> device.write(8192, ByteBuffer.allocate(512), false));
            assertTrue(e.getMessage().contains(device.description()), e.getMessage());
            assertThrows(OutOfRangeException.class, () -> device.writeZeroes(7680, 1024, false));
            assertThrows(OutOfRangeException.class, () -> device.read(-512, ByteBuffer.allocate(512)));
            ByteBuffer unchanged = ByteBuffer.allocate(512).put(0, (byte) 1);
            assertThrows(OutOfRangeException.class, () -> device.read(8192, unchanged));
            assertEquals(0, unchanged.position());
        }
        byte[] expected = new byte[8192];
        Arrays.fill(expected, (byte) 7);
        assertArrayEquals(expected, Files.readAllBytes(path));
    }

    @Test
    void writeZeroesClearsExactlyTheRangeInChunks() throws IOException {
        int size = 4 * MIB;
        Path path = file("zeroes.img", size, (byte) 0x6B);
        long offset = 512;
        long length = 3L * MIB + 1024; // more than three reused chunks
        try (FileBackingDevice device = open(path)) {
            device.writeZeroes(offset, length, true);
            device.writeZeroes(0, 0, false);
        }
        byte[] bytes = Files.readAllBytes(path);
        for (int i = 0; i < size; i++) {
            boolean inside = i >= offset && i < offset + length;
            if (bytes[i] != (inside ? 0 : 0x6B)) {
                throw new AssertionError("byte " + i + " is " + bytes[i]);
            }
        }
    }

    @Test
    void concurrentPositionalIoFromSeveralThreads() throws Exception {
        int threads = 4;
        int share = 256 * 1024;
        Path path = file("concurrent.img", threads * share, (byte) 0);
        try (FileBackingDevice device = open(path)) {
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try {
                List<Future<byte[]>> models = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    int base = t * share;
                    int seed = t;
                    models.add(pool.submit(() -> {
                        SplittableRandom random = new SplittableRandom(seed);
                        byte[] model = new byte[share];
                        for (int op = 0; op < 200; op++) {
                            int blocks = 1 + random.nextInt(16);
                            int at = random.nextInt(share / 512 - blocks + 1) * 512;
                            byte[] data = new byte[blocks * 512];
                            random.nextBytes(data);
                            device.write(base + at, ByteBuffer.wrap(data), op % 50 == 0);
                            System.arraycopy(data, 0, model, at, data.length);
                            ByteBuffer check = ByteBuffer.allocate(data.length);
                            device.read(base + at, check);
                            assertArrayEquals(data, check.array());
                        }
                        device.flush();
                        return model;
                    }));
                }
                for (int t = 0; t < threads; t++) {
                    byte[] model = models.get(t).get(60, TimeUnit.SECONDS);
                    ByteBuffer actual = ByteBuffer.allocate(share);
                    device.read((long) t * share, actual);
                    assertArrayEquals(model, actual.array(), "share of thread " + t);
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    /**
     * A large heap buffer goes to the file in slices: the JDK copies a heap buffer through a
     * temporary direct buffer of the call's size and keeps it for the thread, so 16 MiB read at
     * once kept 16 MiB of direct memory on every thread that did it.
     */
    @Test
    void largeHeapBuffersDoNotPinTheirSizeInDirectMemory() throws Exception {
        Path path = file("large.img", 16 << 20, (byte) 5);
        java.lang.management.BufferPoolMXBean direct = java.lang.management.ManagementFactory
                .getPlatformMXBeans(java.lang.management.BufferPoolMXBean.class).stream()
                .filter(b -> b.getName().equals("direct")).findFirst().orElseThrow();
        try (FileBackingDevice device = open(path)) {
            java.util.concurrent.CompletableFuture<Long> kept = new java.util.concurrent.CompletableFuture<>();
            Thread reader = new Thread(() -> {
                try {
                    long before = direct.getMemoryUsed();
                    ByteBuffer big = ByteBuffer.allocate(16 << 20);
                    device.read(0, big);
                    device.write(0, big.flip(), false);
                    kept.complete(direct.getMemoryUsed() - before); // this thread's cache is still alive
                } catch (Throwable t) {
                    kept.completeExceptionally(t);
                }
            });
            reader.start();
            long grew = kept.get(60, TimeUnit.SECONDS);
            reader.join();
            assertTrue(grew < 8 << 20, "direct memory grew by " + grew + " bytes for one thread's 16 MiB read and write");
        }
    }

    @Test
    void anInterruptedCallerDoesNotBreakTheDevice() throws IOException {
        Path path = file("interrupt.img", 4096, (byte) 0);
        try (FileBackingDevice device = open(path)) {
            Thread.currentThread().interrupt();
            try {
                device.write(0, ByteBuffer.allocate(512).put(0, (byte) 9), true);
                device.flush();
                assertTrue(Thread.currentThread().isInterrupted(), "interrupt status kept");
            } finally {
                Thread.interrupted();
            }
            ByteBuffer back = ByteBuffer.allocate(512);
            device.read(0, back);
            assertEquals(9, back.get(0));
        }
    }

    @Test
    void callsAfterCloseFailWithDeviceClosed() throws IOException {
        FileBackingDevice device = open(file("closed.img", 4096, (byte) 0));
        device.close();
        device.close();
        DeviceClosedException e = assertThrows(DeviceClosedException.class,
                () -> device.read(0, ByteBuffer.allocate(512)));
        assertTrue(e.getMessage().contains("closed.img"), e.getMessage());
        assertThrows(DeviceClosedException.class, () -> device.write(0, ByteBuffer.allocate(512), false));
        assertThrows(DeviceClosedException.class, device::flush);
        assertThrows(DeviceClosedException.class, () -> device.trim(0, 512));
        assertThrows(DeviceClosedException.class, () -> device.writeZeroes(0, 512, false));
    }

    @Test
    void probingFindsTheEndOfAFile() throws IOException {
        for (long size : new long[] {1, 512, 1 << 20, (1 << 20) + 512, 7_000_000}) {
            Path path = dir.resolve("probe-" + size);
            try (FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                channel.write(ByteBuffer.wrap(new byte[] {1}), size - 1);
                assertEquals(size, DeviceFiles.probeEnd(channel), "size " + size);
            }
        }
    }

    /** A 4 KiB-aligned direct buffer of {@code length} bytes filled with {@code fill}. */
    private static java.nio.ByteBuffer aligned(int length, byte fill) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocateDirect((length + 4095) / 4096 * 4096 + 4096).alignedSlice(4096);
        b.limit(length);
        while (b.hasRemaining()) {
            b.put(fill);
        }
        return b.flip();
    }

    private static byte[] bytes(FileBackingDevice device, long offset, int length) throws IOException {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(length);
        device.read(offset, b);
        return b.array();
    }

    private static byte[] filled(int length, byte fill) {
        byte[] b = new byte[length];
        Arrays.fill(b, fill);
        return b;
    }

    /**
     * Aligned native buffers are written past the page cache where the file system allows it
     * (the local disk file systems do; the test says which one it ran on), everything else through
     * it, and reads see the newest data whichever way it went: direct over buffered, buffered over
     * direct, a FUA write, and the file read back from scratch after closing.
     */
    @Test
    void alignedWritesGoDirectlyAndStayCoherentWithBufferedOnes() throws IOException {
        Path path = file("direct.img", 4 * MIB, (byte) 0);
        String fs = Files.getFileStore(path).type();
        try (FileBackingDevice device = open(path)) {
            System.out.println("direct writes on " + fs + ": " + device.writesDirectly());
            if (java.util.Set.of("ext4", "xfs", "btrfs").contains(fs)) {
                assertTrue(device.writesDirectly(), "O_DIRECT on " + fs);
            }
            boolean direct = device.writesDirectly();
            device.write(0, java.nio.ByteBuffer.wrap(filled(MIB, (byte) 1)), false); // heap: buffered
            assertEquals(0, device.directWrites());
            device.write(0, aligned(MIB, (byte) 2), false); // direct over buffered
            assertEquals(direct ? 1 : 0, device.directWrites());
            assertArrayEquals(filled(MIB, (byte) 2), bytes(device, 0, MIB));
            device.write(4096, java.nio.ByteBuffer.wrap(filled(8192, (byte) 3)), false); // buffered over direct
            device.write(512, aligned(1024, (byte) 4), false); // misaligned position and length: buffered
            device.write(3 * MIB, aligned(4096, (byte) 8), false); // aligned but small: buffered
            device.write(MIB, aligned(MIB, (byte) 5), true); // FUA, direct
            java.nio.ByteBuffer shifted = aligned(65536 + 4096, (byte) 6);
            shifted.position(512).limit(512 + 65536); // native, length aligned, start not: buffered
            device.write(2 * MIB, shifted, false);
            assertEquals(512 + 65536, shifted.position(), "the source is consumed whichever way");
            assertEquals(direct ? 2 : 0, device.directWrites());
            device.flush();
        }
        byte[] expected = filled(4 * MIB, (byte) 0);
        Arrays.fill(expected, 0, MIB, (byte) 2);
        Arrays.fill(expected, 4096, 4096 + 8192, (byte) 3);
        Arrays.fill(expected, 512, 512 + 1024, (byte) 4);
        Arrays.fill(expected, MIB, 2 * MIB, (byte) 5);
        Arrays.fill(expected, 2 * MIB, 2 * MIB + 65536, (byte) 6);
        Arrays.fill(expected, 3 * MIB, 3 * MIB + 4096, (byte) 8);
        assertArrayEquals(expected, Files.readAllBytes(path));
    }

    @Test
    void directWritesCanBeTurnedOff() throws IOException {
        Path path = file("buffered.img", MIB, (byte) 0);
        try (FileBackingDevice device = FileBackingDevice.open(
                FileBackingSettings.of("disk", path.toString()).withDirectWrites(false))) {
            assertFalse(device.writesDirectly());
            device.write(0, aligned(MIB, (byte) 7), false);
            assertArrayEquals(filled(MIB, (byte) 7), bytes(device, 0, MIB));
        }
    }
}
