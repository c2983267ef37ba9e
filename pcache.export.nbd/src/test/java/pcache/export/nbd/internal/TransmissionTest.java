package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static pcache.api.nbd.NbdWire.*;
import static pcache.export.nbd.internal.NbdProtocol.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import pcache.api.DeviceClosedException;
import pcache.api.ReadOnlyDeviceException;
import pcache.api.nbd.NbdWire;

/** Transmission-phase requests, valid and broken, with a raw client. */
@Timeout(30)
class TransmissionTest {
    private static final int READ = NbdCommand.READ.type;
    private static final int WRITE = NbdCommand.WRITE.type;
    private static final int DISC = NbdCommand.DISC.type;
    private static final int FLUSH = NbdCommand.FLUSH.type;
    private static final int TRIM = NbdCommand.TRIM.type;
    private static final int CACHE = NbdCommand.CACHE.type;
    private static final int ZEROES = NbdCommand.WRITE_ZEROES.type;
    private static final int BLOCK_STATUS = NbdCommand.BLOCK_STATUS.type;
    private static final int EINVAL = NbdError.EINVAL.wireValue;
    private static final int ENOSPC = NbdError.ENOSPC.wireValue;

    private ServerFixture fixture;

    @BeforeEach
    void start() throws IOException {
        fixture = new ServerFixture();
    }

    @AfterEach
    void stop() {
        fixture.close();
    }

    private static byte[] pattern(int length, long seed) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** Reads back [offset, +length) through the connection and checks the content. */
    private static void assertReads(RawNbdClient c, boolean structured, long offset, byte[] expected) throws IOException {
        c.request(0, READ, 1000, offset, expected.length, null);
        RawNbdClient.Reply r = c.readReply(expected.length);
        assertEquals(0, r.error());
        if (structured) {
            assertEquals(CHUNK_OFFSET_DATA, r.type());
            assertTrue(r.done());
            ByteBuffer b = ByteBuffer.wrap(r.payload());
            assertEquals(offset, b.getLong());
            byte[] data = new byte[b.remaining()];
            b.get(data);
            assertArrayEquals(expected, data);
        } else {
            assertArrayEquals(expected, r.payload());
        }
    }

    private void assertStillServes(RawNbdClient c) throws IOException {
        c.request(0, FLUSH, 4242, 0, 0, null);
        assertEquals(0, c.errorOf(4242));
    }

    private void assertServerStillServes() throws IOException {
        try (RawNbdClient c = fixture.open("disk", false)) {
            assertStillServes(c);
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void writeThenReadBack(boolean structured) throws IOException {
        try (RawNbdClient c = fixture.open("disk", structured)) {
            byte[] data = pattern(64 << 10, 1);
            c.request(0, WRITE, 1, 8192, data.length, data);
            assertEquals(0, c.errorOf(1));
            assertReads(c, structured, 8192, data);
            assertArrayEquals(data, fixture.disk.snapshot(8192, data.length));
            // a 2 MiB read takes the unpooled (heap) path
            byte[] big = pattern(2 << 20, 2);
            c.request(0, WRITE, 2, 4 << 20, big.length, big);
            assertEquals(0, c.errorOf(2));
            assertReads(c, structured, 4 << 20, big);
        }
    }

    @Test
    void fuaAndFlushReachTheDevice() throws IOException {
        try (RawNbdClient c = fixture.open("disk", false)) {
            c.request(CMD_FLAG_FUA, WRITE, 1, 0, 4096, new byte[4096]);
            assertEquals(0, c.errorOf(1));
            assertEquals(1, fixture.disk.fuaWrites.get());
            c.request(0, FLUSH, 2, 0, 0, null);
            assertEquals(0, c.errorOf(2));
            assertEquals(1, fixture.disk.flushes.get());
            c.request(CMD_FLAG_FUA, TRIM, 3, 0, 4096, null);
            assertEquals(0, c.errorOf(3));
            assertEquals(1, fixture.disk.trims.get());
            assertEquals(2, fixture.disk.flushes.get(), "TRIM with FUA is followed by a flush");
            c.request(CMD_FLAG_FUA | CMD_FLAG_NO_HOLE, ZEROES, 4, 0, 4096, null);
            assertEquals(0, c.errorOf(4));
            assertEquals(1, fixture.disk.fuaZeroWrites.get());
            // FUA is accepted on every command
            c.request(CMD_FLAG_FUA, CACHE, 5, 0, 4096, null);
            assertEquals(0, c.errorOf(5));
            c.request(CMD_FLAG_FUA, FLUSH, 6, 0, 0, null);
            assertEquals(0, c.errorOf(6));
        }
    }

    @Test
    void writeZeroesZeroesAndFastZeroIsRefusedWithoutTouchingData() throws IOException {
        byte[] ones = new byte[8192];
        java.util.Arrays.fill(ones, (byte) 1);
        fixture.disk.fill(0, ones);
        try (RawNbdClient c = fixture.open("disk", true)) {
            c.request(CMD_FLAG_FAST_ZERO, ZEROES, 1, 0, 8192, null);
            assertEquals(NbdError.ENOTSUP.wireValue, c.errorOf(1));
            assertArrayEquals(ones, fixture.disk.snapshot(0, 8192));
            c.request(0, ZEROES, 2, 0, 4096, null);
            assertEquals(0, c.errorOf(2));
            assertArrayEquals(new byte[4096], fixture.disk.snapshot(0, 4096));
            assertEquals(1, fixture.disk.snapshot(4096, 1)[0]);
        }
    }

    @Test
    void dfReadIsOneChunkAndNeedsStructuredReplies() throws IOException {
        try (RawNbdClient c = fixture.open("disk", true)) {
            c.request(CMD_FLAG_DF, READ, 1, 0, 65536, null);
            RawNbdClient.Reply r = c.readReply(0);
            assertEquals(CHUNK_OFFSET_DATA, r.type());
            assertTrue(r.done());
            assertEquals(8 + 65536, r.payload().length);
        }
        try (RawNbdClient c = fixture.open("disk", false)) {
            c.request(CMD_FLAG_DF, READ, 1, 0, 4096, null);
            assertEquals(EINVAL, c.readReply(4096).error());
        }
    }

    @Test
    void badRequestMagicDisconnects() throws IOException {
        try (RawNbdClient c = fixture.open("disk", false)) {
            c.requestHeader(0x12345678, 0, READ, 1, 0, 512);
            c.writeRaw(new byte[0]);
            assertTrue(c.closedByServer());
        }
        assertServerStillServes();
    }

    @Test
    void unknownCommandsAndFlagsAreInvalid() throws IOException {
        try (RawNbdClient c = fixture.open("disk", true)) {
            c.request(0, 8, 1, 0, 512, null); // RESIZE (experimental) is unknown here
            assertEquals(EINVAL, c.errorOf(1));
            c.request(0, 0x1234, 2, 0, 0, null);
            assertEquals(EINVAL, c.errorOf(2));
            c.request(0x40, READ, 3, 0, 512, null);
            assertEquals(EINVAL, c.errorOf(3));
            // a flag that exists but not for this command; the WRITE payload is skipped
            c.request(CMD_FLAG_NO_HOLE, WRITE, 4, 0, 512, pattern(512, 4));
            assertEquals(EINVAL, c.errorOf(4));
            c.request(CMD_FLAG_REQ_ONE, READ, 5, 0, 512, null);
            assertEquals(EINVAL, c.errorOf(5));
            c.request(0, BLOCK_STATUS, 6, 0, 512, null); // no meta context selected
            assertEquals(EINVAL, c.errorOf(6));
            assertStillServes(c);
        }
        assertEquals(0, fixture.disk.writes.get());
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void outOfRangeRequestsGetEinvalOrEnospc(boolean structured) throws IOException {
        long size = ServerFixture.DISK_BYTES;
        try (RawNbdClient c = fixture.open("disk", structured)) {
            c.request(0, READ, 1, size - 512, 1024, null);
            RawNbdClient.Reply read = c.readReply(1024);
            assertEquals(EINVAL, read.error());
            if (structured) {
                assertEquals(CHUNK_ERROR, read.type());
                ByteBuffer b = ByteBuffer.wrap(read.payload());
                b.getInt();
                byte[] message = new byte[b.getShort()];
                b.get(message);
                assertTrue(new String(message, StandardCharsets.UTF_8).contains("outside"));
            }
            c.request(0, WRITE, 2, size, 512, new byte[512]);
            assertEquals(ENOSPC, c.errorOf(2));
            c.request(0, ZEROES, 3, size - 512, 1024, null);
            assertEquals(ENOSPC, c.errorOf(3));
            c.request(0, TRIM, 4, size, 512, null);
            assertEquals(EINVAL, c.errorOf(4));
            c.request(0, CACHE, 5, -512L, 512, null); // offset 2^64 - 512
            assertEquals(EINVAL, c.errorOf(5));
            assertStillServes(c);
        }
        assertEquals(0, fixture.disk.writes.get() + fixture.disk.zeroWrites.get() + fixture.disk.trims.get());
    }

    @Test
    void misalignedRequestsAreInvalid() throws IOException {
        try (RawNbdClient c = fixture.open("disk", false)) {
            c.request(0, READ, 1, 100, 512, null);
            assertEquals(EINVAL, c.readReply(512).error());
            c.request(0, WRITE, 2, 0, 100, new byte[100]);
            assertEquals(EINVAL, c.errorOf(2));
            c.request(0, TRIM, 3, 512, 513, null);
            assertEquals(EINVAL, c.errorOf(3));
            assertStillServes(c);
        }
        assertEquals(0, fixture.disk.writes.get() + fixture.disk.trims.get());
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void zeroLengthReadAndWriteSucceedWithoutTouchingTheDevice(boolean structured) throws IOException {
        try (RawNbdClient c = fixture.open("disk", structured)) {
            c.request(0, READ, 1, 4096, 0, null);
            RawNbdClient.Reply r = c.readReply(0);
            assertEquals(0, r.error());
            assertTrue(r.done());
            c.request(0, WRITE, 2, 4096, 0, null);
            assertEquals(0, c.errorOf(2));
            assertStillServes(c);
        }
        assertEquals(0, fixture.disk.reads.get() + fixture.disk.writes.get());
    }

    @Test
    void oversizedPayloadsAreRefusedAndTheStreamStaysInSync() throws IOException {
        try (RawNbdClient c = fixture.open("disk", false)) {
            int tooBig = (32 << 20) + 512;
            c.request(0, WRITE, 1, 0, tooBig, new byte[tooBig]);
            assertEquals(EINVAL, c.errorOf(1));
            c.request(0, READ, 2, 0, tooBig, null);
            assertEquals(EINVAL, c.readReply(0).error());
            assertStillServes(c);
        }
        assertEquals(0, fixture.disk.writes.get());
        try (RawNbdClient c = fixture.open("disk", false)) {
            c.request(0, WRITE, 3, 0, 100L << 20, null); // absurd: not worth reading
            assertTrue(c.closedByServer());
        }
        assertServerStillServes();
    }

    @Test
    void truncatedRequestOnlyEndsThatConnection() throws IOException {
        try (RawNbdClient c = fixture.open("disk", false)) {
            c.writeRaw(new byte[] {0x25, 0x60, (byte) 0x95, 0x13, 0, 0, 0});
        }
        assertServerStillServes();
    }

    @Test
    void disconnectMidWritePayloadOnlyEndsThatConnection() throws IOException {
        try (RawNbdClient c = fixture.open("disk", false)) {
            c.requestHeader(REQUEST_MAGIC, 0, WRITE, 1, 0, 1 << 20);
            c.writeRaw(new byte[1000]);
        }
        assertServerStillServes();
        assertEquals(0, fixture.disk.writes.get());
    }

    @Test
    void disconnectInsideARefusedWritesPayloadReleasesTheConnectionAtOnce() throws Exception {
        // a long drain timeout: a leaked in-flight slot would keep the connection for 30 s
        try (ServerFixture slow = new ServerFixture(NbdServerConfig.defaults()
                .withDrainTimeout(java.time.Duration.ofSeconds(30)))) {
            try (RawNbdClient c = slow.open("disk", false)) {
                c.requestHeader(REQUEST_MAGIC, CMD_FLAG_NO_HOLE, WRITE, 1, 0, 1 << 20);
                c.writeRaw(new byte[1000]);
            }
            ConcurrencyTest.await(() -> slow.server.connectionCount() == 0);
            assertEquals(0, slow.server.exports().get(0).connections());
        }
    }

    @Test
    void flushAndDiscWithARangeAreInvalidAndDiscClosesCleanly() throws IOException {
        try (RawNbdClient c = fixture.open("disk", false)) {
            c.request(0, FLUSH, 1, 512, 0, null);
            assertEquals(EINVAL, c.errorOf(1));
            c.request(0, DISC, 2, 0, 512, null);
            assertEquals(EINVAL, c.errorOf(2));
            byte[] data = pattern(4096, 9);
            c.request(0, WRITE, 3, 0, 4096, data);
            c.request(0, DISC, 4, 0, 0, null);
            assertEquals(0, c.errorOf(3), "the write in flight is answered before the close");
            assertTrue(c.closedByServer());
            assertArrayEquals(data, fixture.disk.snapshot(0, 4096));
        }
    }

    @Test
    void deviceExceptionsMapToNbdErrorsWithMessages() throws IOException {
        try (RawNbdClient c = fixture.open("disk", true)) {
            fixture.disk.setHook((op, offset, length) -> {
                if (op.equals("flush")) {
                    return;
                }
                if (offset == 0) {
                    throw new ReadOnlyDeviceException("disk is read-only");
                }
                if (offset == 4096) {
                    throw new DeviceClosedException("disk is closed");
                }
                if (offset == 8192) {
                    throw new IOException("boom at 8192");
                }
                if (offset == 12288) {
                    throw new IllegalStateException("bug");
                }
            });
            c.request(0, WRITE, 1, 0, 512, new byte[512]);
            assertEquals(NbdError.EPERM.wireValue, c.errorOf(1));
            c.request(0, WRITE, 2, 4096, 512, new byte[512]);
            assertEquals(NbdError.ESHUTDOWN.wireValue, c.errorOf(2));
            c.request(0, READ, 3, 8192, 512, null);
            RawNbdClient.Reply r = c.readReply(0);
            assertEquals(NbdError.EIO.wireValue, r.error());
            assertTrue(new String(r.payload(), StandardCharsets.UTF_8).contains("boom at 8192"));
            c.request(0, TRIM, 4, 12288, 512, null);
            assertEquals(NbdError.EIO.wireValue, c.errorOf(4));
            assertStillServes(c);
        }
        ExportStatistics stats = fixture.server.statistics("disk").orElseThrow();
        assertEquals(4, stats.errors());
    }

    /**
     * A device that throws an Error (the JVM's InternalError for a fault in mapped memory, an
     * OutOfMemoryError) fails that request with EIO and a message. The connection and the server
     * go on, and the requests' bytes go back to the server's budget. Before, the worker's task
     * ended without a reply: the client waited forever and the bytes stayed taken.
     */
    @Test
    void deviceErrorsAreAnsweredWithEioAndGiveTheirBytesBack() throws Exception {
        try (RawNbdClient c = fixture.open("disk", true)) {
            fixture.disk.setHook((op, offset, length) -> {
                if (op.equals("read") && offset == 65536) {
                    throw new InternalError("a fault occurred in an unsafe memory access operation");
                }
                if (op.equals("write") && offset == 131072) {
                    throw new OutOfMemoryError("Direct buffer memory");
                }
            });
            c.request(0, READ, 1, 65536, 65536, null);
            RawNbdClient.Reply r = c.readReply(0);
            assertEquals(NbdError.EIO.wireValue, r.error());
            String message = new String(r.payload(), StandardCharsets.UTF_8);
            assertTrue(message.contains("a fault in the device's memory"), message);
            c.request(0, WRITE, 2, 131072, 4096, new byte[4096]);
            assertEquals(NbdError.EIO.wireValue, c.errorOf(2));
            assertStillServes(c);
            assertTrue(ServerHealth.eventually(10, () -> fixture.server.inflightBytes() == 0),
                    fixture.server.inflightBytes() + " bytes still taken");
        }
        assertServerStillServes();
    }

    /**
     * A TRIM of 2 GiB or more (its 32-bit length does not fit an int) reaches the device whole.
     * Before, its length turned negative and the trim was skipped, though answered as done.
     */
    @Test
    void aTrimOfMoreThanTwoGibReachesTheDevice() throws Exception {
        long size = 4L << 30;
        MemoryBlockDevice big = new MemoryBlockDevice("big", 1 << 20, size);
        java.util.List<Long> lengths = new java.util.concurrent.CopyOnWriteArrayList<>();
        big.setHook((op, offset, length) -> {
            if (op.equals("trim")) {
                lengths.add(length);
            }
        });
        fixture.server.export("big", big);
        long length = 3L << 30;
        try (RawNbdClient c = fixture.open("big", false)) {
            c.request(0, TRIM, 1, 0, length, null);
            assertEquals(0, c.errorOf(1));
        }
        assertEquals(java.util.List.of(length), lengths);
    }

    @Test
    void statisticsCountRequestsBytesAndErrors() throws IOException {
        try (RawNbdClient c = fixture.open("disk", false)) {
            c.request(0, WRITE, 1, 0, 4096, new byte[4096]);
            assertEquals(0, c.errorOf(1));
            c.request(0, READ, 2, 0, 8192, null);
            assertEquals(0, c.readReply(8192).error());
            c.request(0, READ, 3, 1, 512, null);
            assertEquals(EINVAL, c.readReply(0).error());
            ExportInfo info = fixture.server.exports().get(0);
            assertEquals("disk", info.name());
            assertEquals(1, info.connections());
            assertEquals(new ExportStatistics(3, 8192, 4096, 1), info.statistics());
            assertEquals(0, fixture.server.exports().get(1).connections());
        }
    }

    @Test
    void aWriteAndFlushOnOneConnectionIsReadOnAnother() throws IOException {
        try (RawNbdClient a = fixture.open("disk", false); RawNbdClient b = fixture.open("disk", true)) {
            byte[] data = pattern(8192, 5);
            a.request(0, WRITE, 1, 1 << 20, data.length, data);
            assertEquals(0, a.errorOf(1));
            a.request(0, FLUSH, 2, 0, 0, null);
            assertEquals(0, a.errorOf(2));
            assertReads(b, true, 1 << 20, data);
        }
    }

    @Test
    void exportsAreIndependent() throws IOException {
        try (RawNbdClient c = fixture.open("other", false)) {
            byte[] data = pattern(4096, 6);
            c.request(0, WRITE, 1, 0, 4096, data);
            assertEquals(0, c.errorOf(1));
            assertArrayEquals(data, fixture.other.snapshot(0, 4096));
            assertFalse(java.util.Arrays.equals(data, fixture.disk.snapshot(0, 4096)));
            c.request(0, READ, 2, ServerFixture.OTHER_BYTES, 512, null);
            assertEquals(EINVAL, c.readReply(0).error());
        }
    }
}
