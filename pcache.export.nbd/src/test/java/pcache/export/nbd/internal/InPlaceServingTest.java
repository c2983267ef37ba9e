package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static pcache.api.nbd.NbdWire.CHUNK_OFFSET_DATA;
import static pcache.export.nbd.internal.ConcurrencyTest.await;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The connection's reader serves small requests itself when the device can do them without
 * waiting ({@code tryRead}, {@code tryWrite}, {@code tryFlush}) and hands everything else to the
 * workers: replies stay correct and complete either way, and a request the device must wait for
 * never holds up the ones behind it.
 */
@Timeout(30)
class InPlaceServingTest {
    private static final int READ = NbdCommand.READ.type;
    private static final int WRITE = NbdCommand.WRITE.type;
    private static final int FLUSH = NbdCommand.FLUSH.type;
    private static final long SEED = 0x5EED_16L;

    /** A pipelined burst of writes, flushes and reads: every one served in place, every reply right. */
    @Test
    void aPipelinedBurstIsServedInPlace() throws Exception {
        try (ServerFixture fixture = new ServerFixture();
             RawNbdClient c = fixture.open("disk", true)) {
            Random random = new Random(SEED);
            int blocks = 96;
            byte[][] data = new byte[blocks][4096];
            for (int i = 0; i < blocks; i++) {
                random.nextBytes(data[i]);
                c.request(0, WRITE, i, i * 4096L, 4096, data[i]);
                if (i % 8 == 7) {
                    c.request(0, FLUSH, 1000 + i, 0, 0, null);
                }
            }
            Set<Long> answered = new HashSet<>();
            for (int i = 0; i < blocks + blocks / 8; i++) {
                RawNbdClient.Reply r = c.readReply(0);
                assertEquals(0, r.error(), "request " + r.cookie());
                assertTrue(answered.add(r.cookie()), "one reply per request, seed " + SEED);
            }
            for (int i = 0; i < blocks; i++) {
                c.request(0, READ, i, i * 4096L, 4096, null);
            }
            for (int i = 0; i < blocks; i++) {
                RawNbdClient.Reply r = c.readReply(4096);
                assertEquals(CHUNK_OFFSET_DATA, r.type());
                ByteBuffer b = ByteBuffer.wrap(r.payload());
                assertEquals(r.cookie() * 4096, b.getLong());
                byte[] got = new byte[4096];
                b.get(got);
                assertArrayEquals(data[(int) r.cookie()], got, "block " + r.cookie() + ", seed " + SEED);
            }
            assertEquals(blocks * 2L + blocks / 8, fixture.disk.servedAtOnce.get(), "all served in place");
        }
    }

    /** A read the device must wait for goes to a worker; requests behind it are answered meanwhile. */
    @Test
    void aRequestTheDeviceMustWaitForDoesNotHoldUpTheOnesBehindIt() throws Exception {
        try (ServerFixture fixture = new ServerFixture();
             RawNbdClient c = fixture.open("disk", false)) {
            ConcurrencyTest.Gate gate = new ConcurrencyTest.Gate("read", 65536);
            fixture.disk.makeSlow(65536, gate);
            byte[] block = new byte[4096];
            new Random(SEED).nextBytes(block);
            fixture.disk.fill(65536, block);
            c.request(0, READ, 1, 65536, 4096, null);
            await(() -> gate.entered.get() == 1);
            for (int i = 0; i < 10; i++) {
                c.request(0, WRITE, 10 + i, i * 4096L, 4096, new byte[4096]);
            }
            c.request(0, FLUSH, 30, 0, 0, null);
            for (int i = 0; i < 11; i++) {
                RawNbdClient.Reply r = c.readReply(0);
                assertTrue(r.cookie() >= 10, "only the requests behind the parked read are answered: " + r.cookie());
                assertEquals(0, r.error());
            }
            gate.release();
            RawNbdClient.Reply parked = c.readReply(4096);
            assertEquals(1, parked.cookie());
            assertArrayEquals(block, parked.payload());
            assertEquals(11, fixture.disk.servedAtOnce.get());
        }
    }

    /** With in-place serving off (limit 0) every request goes through a worker, with the same results. */
    @Test
    void withInPlaceServingOffEveryRequestGoesToAWorker() throws Exception {
        NbdServerConfig config = NbdServerConfig.defaults().withDrainTimeout(Duration.ofSeconds(5)).withInlineMaxBytes(0);
        try (ServerFixture fixture = new ServerFixture(config);
             RawNbdClient c = fixture.open("disk", false)) {
            Map<Long, byte[]> written = writeAndReadBack(c, 32);
            assertEquals(32, written.size());
            assertEquals(0, fixture.disk.servedAtOnce.get());
            assertEquals(32, fixture.disk.reads.get());
        }
    }

    /**
     * Requests above the limit go to a worker: their copy is worth overlapping with the next read.
     * (A WRITE above it is placed by the device instead, without a copy, when the device has the
     * space at once: {@link DirectWritesTest}; here the device declines that.)
     */
    @Test
    void requestsAboveTheLimitGoToAWorker() throws Exception {
        int limit = 16 << 10;
        NbdServerConfig config = NbdServerConfig.defaults().withDrainTimeout(Duration.ofSeconds(5))
                .withInlineMaxBytes(limit);
        try (ServerFixture fixture = new ServerFixture(config)) {
            fixture.disk.placesWrites = false;
            try (RawNbdClient c = fixture.open("disk", false)) {
                c.request(0, WRITE, 1, 0, limit, new byte[limit]);
                assertEquals(0, c.errorOf(1));
                // larger than the connection's read buffer: it cannot all be buffered there either
                c.request(0, WRITE, 2, limit, 8 * limit, new byte[8 * limit]);
                assertEquals(0, c.errorOf(2));
                assertEquals(1, fixture.disk.servedAtOnce.get(), "only the request at the limit is served in place");
            }
        }
    }

    /** A device that fails a request it would serve at once: the client gets EIO, the connection goes on. */
    @Test
    void aFailureInPlaceIsAnErrorReplyAndTheConnectionGoesOn() throws Exception {
        try (ServerFixture fixture = new ServerFixture();
             RawNbdClient c = fixture.open("disk", false)) {
            fixture.disk.atOnceFailure = new IOException("simulated media error");
            c.request(0, WRITE, 1, 0, 4096, new byte[4096]);
            assertEquals(NbdError.EIO.wireValue, c.errorOf(1));
            fixture.disk.atOnceFailure = null;
            assertEquals(8, writeAndReadBack(c, 8).size());
            assertEquals(1, fixture.server.statistics("disk").orElseThrow().errors());
        }
    }

    /** Writes {@code count} random blocks, reads them back and checks them; returns what was written. */
    private static Map<Long, byte[]> writeAndReadBack(RawNbdClient c, int count) throws IOException {
        Random random = new Random(SEED);
        Map<Long, byte[]> written = new HashMap<>();
        for (long i = 0; i < count; i++) {
            byte[] block = new byte[4096];
            random.nextBytes(block);
            written.put(i, block);
            c.request(0, WRITE, i, i * 4096, 4096, block);
        }
        for (int i = 0; i < count; i++) {
            assertEquals(0, c.readReply(0).error());
        }
        for (long i = 0; i < count; i++) {
            c.request(0, READ, i, i * 4096, 4096, null);
        }
        for (int i = 0; i < count; i++) {
            RawNbdClient.Reply r = c.readReply(4096);
            assertEquals(0, r.error());
            assertArrayEquals(written.get(r.cookie()), r.payload(), "block " + r.cookie() + ", seed " + SEED);
        }
        return written;
    }
}
