package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real NBD clients (qemu-io, nbdinfo, nbdcopy, fio, nbdsh) against the assembled product: one
 * pcache distribution process for the class, two caches on files, NBD on a unix socket and on a
 * free loopback TCP port. Each test works in its own range of the {@code disk} export.
 */
@Timeout(120)
class NbdClientsIT {

    private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(60);
    private static final long DISK_BYTES = 256L << 20;
    private static final int COPY_BYTES = 16 << 20;
    private static final int MIB = 1 << 20;

    @TempDir
    static Path dir;

    private static PcacheProcess pcache;
    private ExternalTools tools;

    @BeforeAll
    static void startPcache() throws Exception {
        pcache = PcacheProcess.startOnFreePort(port -> PcacheProcess.configure(dir, Optional.of(port), """
                cache.disk.cache_dev = disk.cache
                cache.disk.cache_dev_size = 512M
                cache.disk.backing_dev = file:disk.backing
                cache.disk.backing_dev_size = %d
                cache.copy.cache_dev = copy.cache
                cache.copy.cache_dev_size = 512M
                cache.copy.backing_dev = file:copy.backing
                cache.copy.backing_dev_size = %d
                cache.copy.data_crc = true
                """.formatted(DISK_BYTES, COPY_BYTES)), "disk", "copy");
    }

    @AfterAll
    static void stopPcache() throws Exception {
        if (pcache != null && pcache.isAlive()) {
            assertEquals(0, pcache.stop(), "clean stop on SIGTERM:\n" + pcache.log());
        }
    }

    @BeforeEach
    void tools() {
        tools = new ExternalTools(dir);
    }

    @AfterEach
    void killTools() throws InterruptedException {
        tools.close();
    }

    @Test
    void qemuIoWritethroughPatternsReadBackOnANewConnection() throws Exception {
        ExternalTools.assumeInstalled("qemu-io");
        String uri = pcache.tcpUri("disk");
        // qemu's default cache mode (writethrough) sends FUA with every write
        tools.qemuIo(TOOL_TIMEOUT, uri, false, List.of("write -P 0xab 0 1M", "read -P 0xab 0 1M",
                "write -P 0x11 1M 4k", "write -P 0x22 1052672 512", "write -z 2M 64k", "write -P 0x33 3M 1M",
                "discard 3M 64k", "read -P 0x33 3211264 983040"));
        tools.qemuIo(TOOL_TIMEOUT, pcache.unixUri("disk"), false, List.of("read -P 0xab 0 1M",
                "read -P 0x11 1M 4k", "read -P 0x22 1052672 512", "read -P 0 1053184 3584",
                "read -P 0 2M 64k", "read -P 0x33 3211264 983040"));
        // the checks can fail: a wrong pattern is reported
        ExternalTools.Result mismatch = tools.run(TOOL_TIMEOUT,
                ExternalTools.qemuIoCommand(uri, false, List.of("read -P 0x77 0 4k")));
        assertTrue(mismatch.exitCode() != 0 && mismatch.all().contains("Pattern verification failed"),
                mismatch.all());
    }

    @Test
    void qemuIoWritebackWithFlushReadsBackOnANewConnection() throws Exception {
        ExternalTools.assumeInstalled("qemu-io");
        long base = 4 * MIB;
        tools.qemuIo(TOOL_TIMEOUT, pcache.unixUri("disk"), true, List.of("write -P 0x5a " + base + " 256k",
                "write -P 0x5b " + (base + 256 * 1024) + " 4k", "aio_write -P 0x5c " + (base + MIB) + " 64k",
                "aio_flush", "flush", "read -P 0x5a " + base + " 256k"));
        tools.qemuIo(TOOL_TIMEOUT, pcache.tcpUri("disk"), true, List.of("read -P 0x5a " + base + " 256k",
                "read -P 0x5b " + (base + 256 * 1024) + " 4k", "read -P 0x5c " + (base + MIB) + " 64k"));
    }

    @Test
    void nbdinfoListsTheExportsWithSizeAndBlockSizes() throws Exception {
        ExternalTools.assumeInstalled("nbdinfo");
        ExternalTools.Result list = tools.run(TOOL_TIMEOUT, "nbdinfo", "--list",
                "nbd+unix:///?socket=" + dir.resolve("nbd.sock")).assertSucceeded();
        assertTrue(list.stdout().contains("export=\"disk\"") && list.stdout().contains("export=\"copy\""),
                list.stdout());
        ExternalTools.Result size = tools.run(TOOL_TIMEOUT, "nbdinfo", "--size", pcache.tcpUri("disk"))
                .assertSucceeded();
        assertEquals(Long.toString(DISK_BYTES), size.stdout().trim());
        ExternalTools.Result json = tools.run(TOOL_TIMEOUT, "nbdinfo", "--json", pcache.unixUri("copy"))
                .assertSucceeded();
        String compact = json.stdout().replaceAll("\\s", "");
        for (String expected : new String[] {"\"export-size\":" + COPY_BYTES, "\"block_size_minimum\":512",
            "\"block_size_preferred\":4096", "\"block_size_maximum\":33554432", "\"is_read_only\":false",
            "\"can_flush\":true", "\"can_fua\":true", "\"can_multi_conn\":true", "\"can_trim\":true",
            "\"can_zero\":true"}) {
            assertTrue(compact.contains(expected), expected + " in " + json.stdout());
        }
    }

    @Test
    void nbdcopyRoundTripsARandomFileAndWriteBackReachesTheBackingFile() throws Exception {
        copyRoundTrip("random", 17, pcache.unixUri("copy"), pcache.tcpUri("copy"));
    }

    /**
     * nbdcopy copies a random file of the "copy" export's size to {@code writeUri} (with
     * {@code writeOptions}, then a flush) and back from {@code readUri}: it comes back byte for
     * byte, and after write-back the backing file holds it.
     */
    private void copyRoundTrip(String name, long seed, String writeUri, String readUri, String... writeOptions)
            throws Exception {
        ExternalTools.assumeInstalled("nbdcopy");
        Path in = dir.resolve(name + ".bin");
        Path out = dir.resolve(name + "-copied.bin");
        byte[] data = new byte[COPY_BYTES];
        new Random(seed).nextBytes(data);
        Files.write(in, data);
        java.util.List<String> write = new java.util.ArrayList<>(java.util.List.of("nbdcopy", "--flush"));
        write.addAll(java.util.List.of(writeOptions));
        write.addAll(java.util.List.of(in.toString(), writeUri));
        tools.run(TOOL_TIMEOUT, write.toArray(new String[0])).assertSucceeded();
        tools.run(TOOL_TIMEOUT, "nbdcopy", readUri, out.toString()).assertSucceeded();
        assertEquals(-1, Files.mismatch(in, out), "the file came back byte for byte");
        pcache.awaitClean("copy", Duration.ofSeconds(60));
        assertEquals(-1, Files.mismatch(in, dir.resolve("data/copy.backing")),
                "after write-back the backing file holds the data");
    }

    /**
     * Large writes over TCP, whose payloads the export receives straight into the cache's mapping
     * as they come (through a buffer when no space is free at once): fio checks every block it wrote, and
     * nbdcopy's 1 MiB requests come back byte for byte and reach the backing file through
     * write-back, which checks each key's data CRC on the "copy" cache.
     */
    @Test
    void largeWritesOverTcpReadBackAndReachTheBackingFile() throws Exception {
        ExternalTools.assumeInstalled("fio");
        ExternalTools.Result r = tools.run(TOOL_TIMEOUT, "fio", "--name=verify-large", "--ioengine=nbd",
                "--uri=" + pcache.tcpUri("disk"), "--rw=write", "--bs=1m", "--iodepth=4",
                "--offset=128M", "--size=32M", "--verify=crc32c", "--do_verify=1", "--verify_fatal=1");
        r.assertSucceeded();
        assertFalse(r.all().contains("verify: bad"), r.all());
        assertTrue(r.all().contains("err= 0"), r.all());

        copyRoundTrip("random-tcp", 23, pcache.tcpUri("copy"), pcache.unixUri("copy"), "--request-size=" + MIB);
    }

    @Test
    void fioRandomWritesAtQueueDepth16VerifyWithCrc32c() throws Exception {
        ExternalTools.assumeInstalled("fio");
        ExternalTools.Result r = tools.run(TOOL_TIMEOUT, "fio", "--name=verify", "--ioengine=nbd",
                "--uri=" + pcache.unixUri("disk"), "--rw=randwrite", "--bs=4k", "--iodepth=16",
                "--offset=64M", "--size=8M", "--fsync=32", "--verify=crc32c", "--do_verify=1",
                "--verify_fatal=1");
        r.assertSucceeded();
        assertFalse(r.all().contains("verify: bad"), r.all());
        assertTrue(r.all().contains("err= 0"), r.all());
    }

    @Test
    void aWriteFlushedOnOneConnectionIsReadOnAnother() throws Exception {
        ExternalTools.assumeInstalled("nbdsh");
        tools.nbdsh(TOOL_TIMEOUT,
                "import os",
                "h.connect_uri('" + pcache.unixUri("disk") + "')",
                "h2 = nbd.NBD()",
                "h2.connect_uri('" + pcache.tcpUri("disk") + "')",
                "assert h.can_multi_conn() and h2.can_multi_conn()",
                "base = 8 << 20",
                "for i in range(16):",
                "    data = os.urandom(65536)",
                "    h.pwrite(data, base + i * 65536)",
                "    h.flush()",
                "    assert h2.pread(65536, base + i * 65536) == data, 'flushed on h, read on h2'",
                "    data = os.urandom(4096)",
                "    h2.pwrite(data, base + i * 4096, nbd.CMD_FLAG_FUA)",
                "    assert h.pread(4096, base + i * 4096) == data, 'FUA on h2, read on h'",
                "h2.shutdown()",
                "h.shutdown()",
                "print('ok')").assertSucceeded();
    }

    @Test
    void misbehavingRawClientsDoNotDisturbAQemuIoClient() throws Exception {
        ExternalTools.assumeInstalled("qemu-io");
        List<SocketChannel> raw = new ArrayList<>();
        try {
            // 1: garbage instead of the client flags and options
            SocketChannel garbage = NbdProbe.connect(pcache.nbdAddress());
            raw.add(garbage);
            NbdProbe.readGreeting(NbdProbe.input(garbage));
            // the server may end each of these connections at any byte it finds wrong, so a write
            // that fails because it already did is one of the correct outcomes
            sendUntilClosed(garbage, out -> out.write(new byte[] {0, 0, 0, 3, 'N', 'O', 'T', 'M', 'A', 'G', 'I', 'C',
                1, 2, 3, 4, 5, 6, 7, 8}));
            // 2: connects and never says anything
            raw.add(NbdProbe.connect(pcache.nbdAddress()));
            // 3: announces a 1 GiB option and sends 3 bytes of it
            SocketChannel huge = NbdProbe.connect(pcache.nbdAddress());
            raw.add(huge);
            NbdProbe.readGreeting(NbdProbe.input(huge));
            sendUntilClosed(huge, h -> {
                h.writeInt(NbdProbe.FLAG_FIXED_NEWSTYLE | NbdProbe.FLAG_NO_ZEROES);
                h.writeLong(NbdProbe.IHAVEOPT);
                h.writeInt(7); // NBD_OPT_GO
                h.writeInt(1 << 30);
                h.write(new byte[] {0, 0, 0});
            });

            long base = 12 * MIB;
            tools.qemuIo(TOOL_TIMEOUT, pcache.tcpUri("disk"), false, List.of("write -P 0xe1 " + base + " 1M",
                    "read -P 0xe1 " + base + " 1M"));
            // the garbage client was answered with a clean end (or an error), not left hanging
            assertTrue(closedByServer(garbage, Duration.ofSeconds(10)), "the server ends a connection that sent garbage");
        } finally {
            for (SocketChannel c : raw) {
                c.close();
            }
        }
        tools.qemuIo(TOOL_TIMEOUT, pcache.unixUri("disk"), false, List.of("read -P 0xe1 " + (12 * MIB) + " 1M"));
        assertTrue(pcache.isAlive());
    }

    /** What a raw client sends. */
    private interface Sender {
        void send(DataOutputStream out) throws IOException;
    }

    /**
     * Sends what {@code sender} writes; a write refused because the server has already ended the
     * connection (broken pipe, reset) is accepted: the server may end a bad connection at any point.
     * Whether it did is checked by reading, never by the outcome of a write.
     */
    private static void sendUntilClosed(SocketChannel channel, Sender sender) {
        DataOutputStream out = new DataOutputStream(Channels.newOutputStream(channel));
        try {
            sender.send(out);
            out.flush();
        } catch (IOException endedByServer) {
            System.out.println("raw client: the server ended the connection while it was sending (" + endedByServer
                    + "), as it may");
        }
    }

    /** Reads (bounded) whatever the server still sends; true when it closes the connection. */
    private static boolean closedByServer(SocketChannel channel, Duration timeout) throws Exception {
        DataInputStream in = NbdProbe.input(channel);
        CompletableFuture<Boolean> end = CompletableFuture.supplyAsync(() -> {
            try {
                while (in.read(new byte[4096]) >= 0) {
                    // discard what the server answers before it closes
                }
                return true;
            } catch (IOException e) {
                return String.valueOf(e.getMessage()).contains("reset");
            }
        });
        try {
            return end.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            return false;
        }
    }
}
