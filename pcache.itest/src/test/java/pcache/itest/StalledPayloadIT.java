package pcache.itest;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.EOFException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.service.cm.Configuration;

import pcache.api.CacheDevice;
import pcache.api.NbdExports;
import pcache.api.nbd.NbdWire;

/**
 * A real cache behind the real export: a client stops in the middle of a large WRITE's payload,
 * which the export receives straight into the cache's mapping (holding that cache space and the
 * cache's request gate). A swap of the cache's pmem mapping, which waits for the requests in
 * flight and gives up after 30 s, still goes through: the export disconnects the stalled client
 * after {@code payload_stall_timeout_seconds} (1 here), the cache gives the space back, and the
 * stalled write is not done. A second client is served before and after.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class StalledPayloadIT extends PcacheTestSupport {

    private static final int MIB = 1 << 20;
    private static final long SEED = 0x57A11EDL;
    /** NBD_CMD_WRITE. */
    private static final int WRITE = 1;

    @Test
    public void aSwapGoesThroughWhileAClientIsStalledInsideAPlacedPayload() throws Exception {
        Path dir = workDirectory("stall");
        Path disk = dir.resolve("disk.img");
        Path cache = dir.resolve("cache.img");
        Path socket = dir.resolve("export.sock");
        for (Path p : List.of(disk, cache, socket)) {
            Files.deleteIfExists(p);
        }
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(64L << 20);
        }
        Configuration export = configure("pcache.export.nbd", Map.of("listen", "unix:" + socket,
                "payload_stall_timeout_seconds", 1));
        configure("pcache.backing.file", "stall-file", Map.of("name", "stall-file", "path", disk.toString()));
        Hashtable<String, Object> target = new Hashtable<>();
        target.put("name", "stall");
        target.put("cache_dev", cache.toString());
        target.put("cache_dev_size_bytes", 512L << 20); // the least a cache device may be
        target.put("backing.target", "(pcache.backing.name=stall-file)");
        target.put("pmem.target", "(pcache.pmem.type=mapped)");
        Configuration targetConfig = configure("pcache.target", "stall", target);
        CacheDevice device = awaitService(CacheDevice.class, "(pcache.cache.name=stall)");
        NbdExports exports = awaitService(NbdExports.class, null);
        waitFor("the cache exported", TIMEOUT.toMillis(), () -> Files.exists(socket) && exports.exports().stream()
                .anyMatch(e -> e.name().equals("stall") && e.exported()));

        byte[] before = new byte[MIB];
        new Random(SEED).nextBytes(before);
        try (SocketChannel other = open(socket)) {
            write(other, 1, 0, before);
            assertEquals("a large write before the stall", 0, replyError(other, 1));
            long placedBefore = device.statistics().placedWrites();
            assertTrue("large writes are received straight into the cache", placedBefore >= 1);

            try (SocketChannel stalled = open(socket)) {
                header(stalled, WRITE, 7, 0, MIB);
                sendAll(stalled, ByteBuffer.wrap(new byte[MIB / 2])); // zeros over the first half, then nothing
                Thread.sleep(300); // the export is inside the payload, holding cache space and the gate

                long start = System.nanoTime();
                update(targetConfig, "pmem.target", "(pcache.pmem.type=fileio)");
                waitFor("the swap to fileio", TIMEOUT.toMillis(), () -> device.status().cacheDevice().contains("(fileio)"));
                long seconds = (System.nanoTime() - start) / 1_000_000_000L;
                assertTrue("the swap went through well within its 30 s: " + seconds + " s", seconds < 20);
                assertTrue("the stalled client was disconnected", closedByServer(stalled));
            }

            ByteBuffer read = ByteBuffer.allocate(MIB);
            device.read(0, read);
            assertArrayEquals("the stalled write was not done, seed " + SEED, before, read.array());
            write(other, 2, MIB, before);
            assertEquals("the other client is served on", 0, replyError(other, 2));
        }
        targetConfig.delete();
        export.delete();
    }

    /** Connects and runs the fixed-newstyle handshake up to NBD_OPT_GO for the export "stall". */
    private static SocketChannel open(Path socket) throws IOException {
        SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
        c.connect(UnixDomainSocketAddress.of(socket));
        ByteBuffer greeting = readFully(c, 18);
        assertEquals(NbdWire.INIT_PASSWD, greeting.getLong());
        assertEquals(NbdWire.OPTION_MAGIC, greeting.getLong());
        byte[] name = "stall".getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(4 + 16 + 4 + name.length + 2);
        out.putInt(NbdWire.CLIENT_FLAG_FIXED_NEWSTYLE | NbdWire.CLIENT_FLAG_NO_ZEROES);
        out.putLong(NbdWire.OPTION_MAGIC).putInt(NbdWire.OPT_GO).putInt(4 + name.length + 2);
        out.putInt(name.length).put(name).putShort((short) 0);
        sendAll(c, out.flip());
        while (true) {
            ByteBuffer reply = readFully(c, 20);
            assertEquals(NbdWire.OPTION_REPLY_MAGIC, reply.getLong());
            assertEquals(NbdWire.OPT_GO, reply.getInt());
            int type = reply.getInt();
            int length = reply.getInt();
            readFully(c, length);
            if (type == NbdWire.REP_ACK) {
                return c;
            }
            assertEquals("an NBD_REP_INFO before the ACK", NbdWire.REP_INFO, type);
        }
    }

    private static void header(SocketChannel c, int type, long cookie, long offset, int length) throws IOException {
        ByteBuffer h = ByteBuffer.allocate(28);
        h.putInt(NbdWire.REQUEST_MAGIC).putShort((short) 0).putShort((short) type).putLong(cookie)
                .putLong(offset).putInt(length);
        sendAll(c, h.flip());
    }

    private static void write(SocketChannel c, long cookie, long offset, byte[] data) throws IOException {
        header(c, WRITE, cookie, offset, data.length);
        sendAll(c, ByteBuffer.wrap(data));
    }

    /** The error of the next simple reply, which must answer {@code cookie}. */
    private static int replyError(SocketChannel c, long cookie) throws IOException {
        ByteBuffer r = readFully(c, NbdWire.SIMPLE_REPLY_HEADER_BYTES);
        assertEquals(NbdWire.SIMPLE_REPLY_MAGIC, r.getInt());
        int error = r.getInt();
        assertEquals(cookie, r.getLong());
        return error;
    }

    /** True when the server closes the connection within the test's timeout (EOF or reset). */
    private static boolean closedByServer(SocketChannel c) throws Exception {
        c.configureBlocking(false);
        ByteBuffer sink = ByteBuffer.allocate(4096);
        long deadline = System.currentTimeMillis() + TIMEOUT.toMillis();
        while (System.currentTimeMillis() < deadline) {
            try {
                if (c.read(sink.clear()) < 0) {
                    return true;
                }
            } catch (IOException reset) {
                return true;
            }
            Thread.sleep(20);
        }
        return false;
    }

    private static void sendAll(SocketChannel c, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            c.write(b);
        }
    }

    private static ByteBuffer readFully(SocketChannel c, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            if (c.read(b) < 0) {
                throw new EOFException("the server closed the connection with " + b.remaining() + " bytes expected");
            }
        }
        return b.flip();
    }
}
