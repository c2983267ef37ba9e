package pcache.backing.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import pcache.api.BackingDeviceException;
import pcache.api.BackingState;
import pcache.api.BackingUnavailableException;
import pcache.api.ReadOnlyDeviceException;
import pcache.api.nbd.NbdWire;

/** Protocol corners, against {@link FakeNbdServer}. */
class NbdProtocolCornerTest {

    private static final int SIZE = 1 << 20;

    @TempDir
    Path dir;

    private FakeNbdServer server;
    private NbdBackingDevice device;

    @AfterEach
    void cleanUp() throws Exception {
        if (device != null) {
            device.close();
        }
        if (server != null) {
            server.close();
        }
    }

    private NbdBackingDevice connect(Duration ioTimeout) throws Exception {
        device = NbdBackingDevice.connect(NbdSettings.of("fake", server.uri())
                .withIoTimeout(ioTimeout)
                .withBackoff(Duration.ofMillis(10), Duration.ofMillis(50)));
        return device;
    }

    private byte[] randomDisk() {
        new Random(1).nextBytes(server.disk);
        return server.disk.clone();
    }

    static void waitUntil(BooleanSupplier condition, String what) {
        // generous: a first TLS handshake in the JVM or nbdkit's start can be slow on a busy machine
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Nbdkit.sleep(5);
        }
    }

    @Test
    void readChunksArriveInAnyOrderWithHoles() throws Exception {
        server = FakeNbdServer.standard(dir, SIZE);
        byte[] disk = randomDisk();
        server.handler((request, replies) -> {
            if (request.type() != 0) {
                server.serveDisk(request, replies);
                return;
            }
            long base = request.offset();
            long cookie = request.cookie();
            // [base+4096, +4096) is a hole; [0, 4096) comes in three pieces, last piece first
            replies.hole(false, cookie, base + 4096, 4096);
            replies.data(false, cookie, base + 3072, disk, (int) base + 3072, 1024);
            replies.data(false, cookie, base, disk, (int) base, 1024);
            replies.data(false, cookie, base + 1024, disk, (int) base + 1024, 2048);
            replies.chunk(true, NbdWire.CHUNK_NONE, cookie, new byte[0]);
        });
        connect(Duration.ofSeconds(10));
        ByteBuffer dst = ByteBuffer.allocate(8192);
        Arrays.fill(dst.array(), (byte) 0x55); // the hole must overwrite this
        device.read(65536, dst);
        byte[] expected = new byte[8192];
        System.arraycopy(disk, 65536, expected, 0, 4096);
        assertArrayEquals(expected, dst.array());
    }

    @Test
    void incompleteReadReplyFailsTheRead() throws Exception {
        server = FakeNbdServer.standard(dir, SIZE);
        byte[] disk = randomDisk();
        server.handler((request, replies) -> replies.data(true, request.cookie(),
                request.offset(), disk, (int) request.offset(), request.length() / 2));
        connect(Duration.ofSeconds(10));
        BackingDeviceException e = assertThrows(BackingDeviceException.class,
                () -> device.read(0, ByteBuffer.allocate(4096)));
        assertTrue(e.getMessage().contains("covered 2048 of 4096"), e.getMessage());
        assertEquals(BackingState.ONLINE, device.state());
    }

    /**
     * Chunks that overlap add up to the request's length without covering it; counting bytes
     * alone took such a reply for complete and returned the uncovered part unread.
     */
    @Test
    void overlappingReadChunksFailTheRead() throws Exception {
        server = FakeNbdServer.standard(dir, SIZE);
        byte[] disk = randomDisk();
        server.handler((request, replies) -> {
            long base = request.offset();
            replies.data(false, request.cookie(), base, disk, (int) base, 2048);
            replies.data(false, request.cookie(), base + 1024, disk, (int) base + 1024, 1024);
            replies.hole(true, request.cookie(), base + 1024, 1024);
        });
        connect(Duration.ofSeconds(10));
        BackingDeviceException e = assertThrows(BackingDeviceException.class,
                () -> device.read(0, ByteBuffer.allocate(4096)));
        assertTrue(e.getMessage().contains("overlapping"), e.getMessage());
        assertEquals(BackingState.ONLINE, device.state());
    }

    /**
     * A reply in one-byte chunks at every other byte kept one range per chunk: 32 MiB so
     * answered held tens of millions of ranges, gigabytes of heap. Adjacent ranges are now
     * joined, and a reply with more separate pieces than {@link NbdRequest#MAX_SEPARATE_PIECES}
     * fails its read alone.
     */
    @Test
    void aReadReplyScatteredIntoTooManyPiecesFailsTheReadAlone() throws Exception {
        server = FakeNbdServer.standard(dir, SIZE);
        byte[] disk = randomDisk();
        int scattered = 160 << 10; // 81,920 odd bytes, then as many even ones
        server.handler((request, replies) -> {
            if (request.type() != 0 || request.length() != scattered) {
                server.serveDisk(request, replies);
                return;
            }
            for (int parity = 1; parity >= 0; parity--) {
                for (int i = parity; i < scattered; i += 2) {
                    replies.hole(parity == 0 && i == scattered - 2, request.cookie(), request.offset() + i, 1);
                }
            }
        });
        connect(Duration.ofSeconds(30));
        BackingDeviceException e = assertThrows(BackingDeviceException.class,
                () -> device.read(0, ByteBuffer.allocate(scattered)));
        assertTrue(e.getMessage().contains("65536 separate pieces") && e.getMessage().contains("scatters"),
                e.getMessage());
        assertEquals(BackingState.ONLINE, device.state());
        ByteBuffer ok = ByteBuffer.allocate(4096);
        device.read(4096, ok);
        assertArrayEquals(Arrays.copyOfRange(disk, 4096, 8192), ok.array());
        assertEquals(0, device.reconnectCount());
    }

    /** Pieces that touch are kept as one; a scattered piece past the bound is refused, one that joins is not. */
    @Test
    void contentPiecesThatTouchAreJoined() {
        NbdRequest read = NbdRequest.read(0, 4 * NbdRequest.MAX_SEPARATE_PIECES);
        for (int i = 0; i < 1000; i++) {
            assertEquals(NbdRequest.Content.RECORDED, read.recordContent(i, i + 1));
        }
        assertEquals(1, read.separatePieces());
        for (long i = 1001; i < 1001 + 2L * (NbdRequest.MAX_SEPARATE_PIECES - 1); i += 2) {
            assertEquals(NbdRequest.Content.RECORDED, read.recordContent(i, i + 1));
        }
        assertEquals(NbdRequest.MAX_SEPARATE_PIECES, read.separatePieces());
        long past = 1001 + 2L * NbdRequest.MAX_SEPARATE_PIECES;
        assertEquals(NbdRequest.Content.SCATTERED, read.recordContent(past, past + 1));
        assertEquals(NbdRequest.Content.OVERLAPS, read.recordContent(999, 1001));
        assertEquals(NbdRequest.Content.RECORDED, read.recordContent(1000, 1001)); // joins both neighbours
        assertEquals(NbdRequest.MAX_SEPARATE_PIECES - 1, read.separatePieces());
        assertEquals(NbdRequest.Content.RECORDED, read.recordContent(1002, 1003));
        assertEquals(NbdRequest.MAX_SEPARATE_PIECES - 2, read.separatePieces());
        assertEquals(1000 + 1 + NbdRequest.MAX_SEPARATE_PIECES - 1 + 1, read.bytesReceived);
    }

    @Test
    void errorRepliesFailOnlyTheirRequest() throws Exception {
        server = FakeNbdServer.standard(dir, SIZE);
        byte[] disk = randomDisk();
        server.handler((request, replies) -> {
            if (request.type() == 0 && request.offset() == 0) {
                replies.error(request.cookie(), NbdErrors.EIO, "disk on fire");
            } else if (request.type() == 1 && request.offset() == 0) {
                replies.error(request.cookie(), NbdErrors.EPERM, "");
            } else if (request.type() == 1 && request.offset() == 4096) {
                replies.simple(request.cookie(), NbdErrors.ENOSPC, null);
            } else {
                server.serveDisk(request, replies);
            }
        });
        connect(Duration.ofSeconds(10));
        BackingDeviceException eio = assertThrows(BackingDeviceException.class,
                () -> device.read(0, ByteBuffer.allocate(512)));
        assertTrue(eio.getMessage().contains("EIO") && eio.getMessage().contains("disk on fire")
                && eio.getMessage().contains("READ [0, +512)"), eio.getMessage());
        assertThrows(ReadOnlyDeviceException.class,
                () -> device.write(0, ByteBuffer.allocate(512), false));
        BackingDeviceException enospc = assertThrows(BackingDeviceException.class,
                () -> device.write(4096, ByteBuffer.allocate(512), false));
        assertTrue(enospc.getMessage().contains("ENOSPC"), enospc.getMessage());

        ByteBuffer ok = ByteBuffer.allocate(512);
        device.read(512, ok);
        assertArrayEquals(Arrays.copyOfRange(disk, 512, 1024), ok.array());
        assertEquals(0, device.reconnectCount());
        assertEquals(1, server.connections());
    }

    /** The server's words reach messages and logs escaped and cut short: no forged log line, no 64 KiB message. */
    @Test
    void theServersErrorTextIsEscapedAndCutShort() throws Exception {
        server = FakeNbdServer.standard(dir, SIZE);
        String forged = "disk on fire\n2026-12-07 ERROR forged line\u202e" + "x".repeat(60_000);
        server.handler((request, replies) -> {
            if (request.type() == 0) {
                replies.error(request.cookie(), NbdErrors.EIO, forged);
            } else {
                server.serveDisk(request, replies);
            }
        });
        connect(Duration.ofSeconds(10));
        BackingDeviceException e = assertThrows(BackingDeviceException.class,
                () -> device.read(0, ByteBuffer.allocate(512)));
        String message = e.getMessage();
        assertTrue(message.contains("disk on fire\\u000a2026-12-07 ERROR forged line\\u202e"), message);
        assertFalse(message.contains("\n") || message.contains("\u202e"), message);
        assertTrue(message.length() < 1000 && message.contains("(60042 characters)"), message);
    }

    @Test
    void unknownChunkTypeDropsTheConnectionAndTheRequestIsSentAgain() throws Exception {
        server = FakeNbdServer.standard(dir, SIZE);
        byte[] disk = randomDisk();
        server.handler((request, replies) -> {
            if (request.connection() == 1 && request.type() == 0) {
                replies.chunk(true, 0x7777, request.cookie(), new byte[4]);
            } else {
                server.serveDisk(request, replies);
            }
        });
        connect(Duration.ofSeconds(10));
        ByteBuffer dst = ByteBuffer.allocate(4096);
        device.read(8192, dst);
        assertArrayEquals(Arrays.copyOfRange(disk, 8192, 8192 + 4096), dst.array());
        assertEquals(1, device.reconnectCount());
        assertEquals(2, server.connections());
    }

    /**
     * A reply is simple or structured, never both: a simple "done" after an error chunk without
     * DONE took the write for done, and a simple reply to a READ where structured replies were
     * agreed was taken too. Each now fails its request alone (the framing is still known, so the
     * connection, and the writes it acknowledged and no flush covered yet, stay).
     */
    @Test
    void aReplyThatMixesSimpleAndStructuredOrBreaksWhatWasAgreedFailsItsRequest() throws Exception {
        server = FakeNbdServer.standard(dir, SIZE);
        byte[] disk = randomDisk();
        server.handler((request, replies) -> {
            if (request.type() == 1 && request.offset() == 4096) {
                byte[] text = "disk on fire".getBytes(java.nio.charset.StandardCharsets.UTF_8);
                byte[] error = ByteBuffer.allocate(6 + text.length).putInt(NbdErrors.EIO)
                        .putShort((short) text.length).put(text).array();
                replies.chunk(false, NbdWire.CHUNK_ERROR, request.cookie(), error);
                replies.simple(request.cookie(), 0, null);
            } else if (request.type() == 0 && request.offset() == 16384) {
                byte[] data = Arrays.copyOfRange(server.disk, (int) request.offset(),
                        (int) request.offset() + request.length());
                replies.simple(request.cookie(), 0, data);
            } else {
                server.serveDisk(request, replies);
            }
        });
        connect(Duration.ofSeconds(10));
        BackingDeviceException mixed = assertThrows(BackingDeviceException.class,
                () -> device.write(4096, ByteBuffer.allocate(4096), false));
        assertTrue(mixed.getMessage().contains("sent a simple reply to WRITE [4096, +4096) after structured chunks"),
                mixed.getMessage());
        BackingDeviceException simpleRead = assertThrows(BackingDeviceException.class,
                () -> device.read(16384, ByteBuffer.allocate(4096)));
        assertTrue(simpleRead.getMessage().contains("with a simple reply, though structured replies were agreed"),
                simpleRead.getMessage());
        ByteBuffer dst = ByteBuffer.allocate(4096);
        device.read(32768, dst); // the stream stayed in step
        assertArrayEquals(Arrays.copyOfRange(disk, 32768, 32768 + 4096), dst.array());
        assertEquals(0, device.reconnectCount());
        assertEquals(1, server.connections());
    }

    /**
     * A structured chunk where simple replies were agreed was taken. A client that agreed simple
     * replies cannot trust the framing any more: the connection drops, the request is sent again.
     */
    @Test
    void aStructuredChunkWhereSimpleRepliesWereAgreedDropsTheConnection() throws Exception {
        server = new FakeNbdServer(dir, SIZE, NbdWire.TX_HAS_FLAGS | NbdWire.TX_SEND_FLUSH, false, true);
        byte[] disk = randomDisk();
        server.handler((request, replies) -> {
            if (request.connection() == 1 && request.type() == 1) {
                replies.chunk(true, NbdWire.CHUNK_NONE, request.cookie(), new byte[0]);
            } else {
                server.serveDisk(request, replies);
            }
        });
        connect(Duration.ofSeconds(10));
        byte[] data = new byte[4096];
        Arrays.fill(data, (byte) 5);
        device.write(0, ByteBuffer.wrap(data), false);
        assertEquals(1, device.reconnectCount());
        assertArrayEquals(data, Arrays.copyOfRange(server.disk, 0, 4096));
        ByteBuffer dst = ByteBuffer.allocate(4096);
        device.read(8192, dst);
        assertArrayEquals(Arrays.copyOfRange(disk, 8192, 8192 + 4096), dst.array());
    }

    /**
     * A request whose caller timed out while the device reconnected stayed queued, with its
     * payload, until the queue reached 1,024, 2,048, ...: with the server down for minutes,
     * gigabytes of given-up 1 MiB writes. It now leaves the queue as its caller gives up.
     */
    @Test
    void requestsGivenUpWhileReconnectingLeaveTheQueueAtOnce() throws Exception {
        server = FakeNbdServer.standard(dir, SIZE);
        connect(Duration.ofMillis(300));
        server.close();
        waitUntil(() -> device.state() == BackingState.RECONNECTING, "the device noticed the server gone");
        for (int i = 0; i < 20; i++) {
            assertThrows(BackingUnavailableException.class,
                    () -> device.write(0, ByteBuffer.allocate(1 << 20), false));
            assertEquals(0, device.parkedCount(), "given-up writes still queued after " + (i + 1));
        }
        assertThrows(BackingUnavailableException.class, () -> device.read(0, ByteBuffer.allocate(4096)));
        assertEquals(0, device.parkedCount());
    }

    /**
     * A server without FUA: a FUA write is its parts, then a flush. When a part acknowledged on
     * a connection was lost with it, and another caller's flush was told of that loss first, the
     * FUA write's own flush (started after that report) succeeded and the write returned, though
     * that part may never have reached the server's disk. It now fails, naming the lost part.
     */
    @Test
    @Timeout(60)
    void aFuaWriteWhosePartWasLostFailsThoughAnotherFlushWasToldOfTheLoss() throws Exception {
        server = new FakeNbdServer(dir, SIZE, NbdWire.TX_HAS_FLAGS | NbdWire.TX_SEND_FLUSH | NbdWire.TX_SEND_TRIM
                | NbdWire.TX_SEND_WRITE_ZEROES, true, true);
        server.minimumBlock = 4096; // a 512-byte-aligned write: patched head and tail blocks, and the middle
        java.util.concurrent.CountDownLatch heldOnFirst = new java.util.concurrent.CountDownLatch(2);
        java.util.List<Long> heldOnSecond = new java.util.ArrayList<>();
        java.util.concurrent.atomic.AtomicInteger flushesOnSecond = new java.util.concurrent.atomic.AtomicInteger();
        server.handler((request, replies) -> {
            boolean write = request.type() == 1;
            boolean flush = request.type() == 3;
            if (request.connection() == 1) {
                if (write && request.offset() != 0) {
                    heldOnFirst.countDown(); // never answered: the connection drops at the flush
                } else if (flush) {
                    replies.drop();
                } else {
                    server.serveDisk(request, replies); // the reads, and the head block's write
                }
            } else if (write && flushesOnSecond.get() == 0) {
                System.arraycopy(request.payload(), 0, server.disk, (int) request.offset(), request.length());
                heldOnSecond.add(request.cookie()); // carried out, answered after the flush
            } else if (flush && flushesOnSecond.getAndIncrement() == 0) {
                replies.simple(request.cookie(), 0, null);
                for (long cookie : heldOnSecond) {
                    replies.simple(cookie, 0, null);
                }
            } else {
                server.serveDisk(request, replies);
            }
        });
        connect(Duration.ofSeconds(20));
        byte[] data = new byte[8192];
        Arrays.fill(data, (byte) 3);
        java.util.concurrent.CompletableFuture<Void> fuaWrite = java.util.concurrent.CompletableFuture.runAsync(() -> {
            try {
                device.write(512, ByteBuffer.wrap(data), true);
            } catch (IOException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
        assertTrue(heldOnFirst.await(30, java.util.concurrent.TimeUnit.SECONDS), "the middle and tail writes arrived");
        // answered after the head block's write on the same connection: that acknowledgement is in
        device.read(65536, ByteBuffer.allocate(4096));
        BackingDeviceException told = assertThrows(BackingDeviceException.class, device::flush);
        assertTrue(told.getMessage().contains("were not yet flushed when the connection was lost"), told.getMessage());

        java.util.concurrent.ExecutionException e = assertThrows(java.util.concurrent.ExecutionException.class,
                () -> fuaWrite.get(30, java.util.concurrent.TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof BackingDeviceException, String.valueOf(e.getCause()));
        String message = e.getCause().getMessage();
        assertTrue(message.contains("FUA write [512, +8192) failed: 1 of its 3 part(s) were acknowledged on a"
                + " connection that was lost"), message);
        assertEquals(1, device.reconnectCount());
    }

    @Test
    void shutdownReplyMakesTheClientDisconnectAndResend() throws Exception {
        server = FakeNbdServer.standard(dir, SIZE);
        server.handler((request, replies) -> {
            if (request.connection() == 1 && request.type() == 1) {
                replies.simple(request.cookie(), NbdErrors.ESHUTDOWN, null);
            } else {
                server.serveDisk(request, replies);
            }
        });
        connect(Duration.ofSeconds(10));
        byte[] data = new byte[4096];
        Arrays.fill(data, (byte) 7);
        device.write(4096, ByteBuffer.wrap(data), false);
        assertArrayEquals(data, Arrays.copyOfRange(server.disk, 4096, 8192));
        assertEquals(1, device.reconnectCount());
        waitUntil(() -> server.received.stream().anyMatch(r -> r.connection() == 1
                && r.type() == 2), "the client sent NBD_CMD_DISC on the first connection");
    }

    @Test
    void flushFailsWhenAnUnflushedWriteWasAcknowledgedOnALostConnection() throws Exception {
        server = FakeNbdServer.standard(dir, SIZE);
        connect(Duration.ofSeconds(10));
        device.write(0, ByteBuffer.allocate(4096), false); // acknowledged, not flushed
        server.dropAll();
        waitUntil(() -> device.reconnectCount() == 1 && device.state() == BackingState.ONLINE,
                "reconnected");
        BackingDeviceException e = assertThrows(BackingDeviceException.class, device::flush);
        assertTrue(e.getMessage().contains("not yet flushed"), e.getMessage());
        device.flush(); // the loss was reported; the caller has re-written and flushes again

        // flushed writes and FUA writes survive a lost connection without complaint
        device.write(0, ByteBuffer.allocate(4096), false);
        device.flush();
        device.write(8192, ByteBuffer.allocate(4096), true);
        server.dropAll();
        waitUntil(() -> device.reconnectCount() == 2 && device.state() == BackingState.ONLINE,
                "reconnected again");
        device.flush();
    }

    @Test
    void flushInterruptedByAReconnectIsResentAndFailsOnlyIfWritesWereUnflushed()
            throws Exception {
        server = FakeNbdServer.standard(dir, SIZE);
        AtomicBoolean dropNextFlush = new AtomicBoolean(true);
        server.handler((request, replies) -> {
            if (request.type() == 3 && dropNextFlush.getAndSet(false)) {
                replies.drop();
            } else {
                server.serveDisk(request, replies);
            }
        });
        connect(Duration.ofSeconds(10));
        device.flush(); // dropped, re-sent on the next connection: nothing was at risk
        assertEquals(1, device.reconnectCount());

        device.write(0, ByteBuffer.allocate(4096), false);
        dropNextFlush.set(true);
        assertThrows(BackingDeviceException.class, device::flush);
        assertEquals(2, device.reconnectCount());
        device.flush();
    }

    /**
     * A request that makes the server drop every connection it arrives on is re-sent on each new
     * one; the reconnects back off as failed connects do (10 ms doubling to 200 ms here) until the
     * request times out. Before, a connection lost right after it was made was replaced at once:
     * a tight loop of connects, handshakes and re-sends for the whole io_timeout.
     */
    @Test
    void aRequestThatDropsEveryConnectionDoesNotMakeAReconnectStorm() throws Exception {
        server = FakeNbdServer.standard(dir, SIZE);
        server.handler((request, replies) -> {
            if (request.type() == 1 && request.offset() == 65536) {
                replies.drop(); // the poison write
            } else {
                server.serveDisk(request, replies);
            }
        });
        device = NbdBackingDevice.connect(NbdSettings.of("fake", server.uri())
                .withIoTimeout(Duration.ofSeconds(2))
                .withBackoff(Duration.ofMillis(10), Duration.ofMillis(200)));
        int before = server.connections();
        assertThrows(java.io.IOException.class, () -> device.write(65536, ByteBuffer.allocate(4096), false));
        int made = server.connections() - before;
        // backing off 10, 20, 40, 80, 160, then 200 ms: at most about 14 connections in 2 s
        assertTrue(made >= 2 && made <= 30, made + " connections while the write was re-sent for 2 s");
        server.handler(server::serveDisk);
        waitUntil(() -> device.state() == BackingState.ONLINE, "back online");
        device.write(0, ByteBuffer.allocate(4096), false);
        device.flush();
    }

    /** An export smaller than one block cannot back a cache: refused at connect, saying what to check. */
    @Test
    void anEmptyExportIsRefusedWithAClearError() throws Exception {
        server = FakeNbdServer.standard(dir, 0);
        NbdConnectException e = assertThrows(NbdConnectException.class, () -> connect(Duration.ofSeconds(5)));
        assertTrue(e.getMessage().contains("the export is 0 bytes, smaller than one block"), e.getMessage());
        assertEquals(NbdConnectException.Reason.REFUSED, e.reason());
    }

    @Test
    void serverWithoutGoIsOpenedWithExportName() throws Exception {
        server = new FakeNbdServer(dir, 4 * SIZE, NbdWire.TX_HAS_FLAGS | NbdWire.TX_SEND_FLUSH,
                false, false);
        byte[] disk = randomDisk();
        connect(Duration.ofSeconds(10));
        assertFalse(device.export().negotiatedWithGo());
        assertFalse(device.export().structuredReplies());
        assertFalse(device.export().canFua());
        ByteBuffer dst = ByteBuffer.allocate(4096);
        device.read(4096, dst);
        assertArrayEquals(Arrays.copyOfRange(disk, 4096, 8192), dst.array());

        // no WRITE_ZEROES: zeroes are written as data; no FUA: a FLUSH follows the write
        device.writeZeroes(0, 3 << 19, true);
        assertArrayEquals(new byte[3 << 19], Arrays.copyOfRange(server.disk, 0, 3 << 19));
        assertTrue(server.received.stream().noneMatch(r -> r.type() == 6 || r.flags() != 0));
        assertEquals(3, server.received.get(server.received.size() - 1).type(), "FLUSH last");
    }

    @Test
    void unansweredRequestTimesOutWhileTheServerAnswersOthers() throws Exception {
        server = FakeNbdServer.standard(dir, SIZE);
        server.handler((request, replies) -> {
            if (request.type() != 0 || request.offset() != 0) {
                server.serveDisk(request, replies);
            } // the read of offset 0 is never answered
        });
        // long enough that a loaded machine never leaves the traffic thread silent for a whole
        // timeout (then the connection would rightly be taken for dead and re-established)
        connect(Duration.ofSeconds(3));
        AtomicBoolean stop = new AtomicBoolean();
        Thread traffic = new Thread(() -> {
            while (!stop.get()) {
                try {
                    device.write(4096, ByteBuffer.allocate(512), false);
                    Thread.sleep(20);
                } catch (Exception e) {
                    return;
                }
            }
        });
        traffic.start();
        try {
            BackingUnavailableException e = assertThrows(BackingUnavailableException.class,
                    () -> device.read(0, ByteBuffer.allocate(512)));
            assertTrue(e.getMessage().contains("did not complete within")
                    && e.getMessage().contains("the server did not answer"), e.getMessage());
        } finally {
            stop.set(true);
            traffic.join(5000);
        }
        assertEquals(0, device.reconnectCount(), "the server is alive; keep the connection");
        assertEquals(BackingState.ONLINE, device.state());
    }

    @Test
    void silentServerIsPresumedDeadAndReplaced() throws Exception {
        server = FakeNbdServer.standard(dir, SIZE);
        server.handler((request, replies) -> {
            if (request.connection() > 1) {
                server.serveDisk(request, replies);
            } // the first connection answers nothing (a vanished host)
        });
        // the timeout covers the replacement's answers too: long enough for a busy machine
        connect(Duration.ofSeconds(3));
        assertThrows(BackingUnavailableException.class,
                () -> device.read(0, ByteBuffer.allocate(512)));
        waitUntil(() -> device.reconnectCount() == 1, "reconnected");
        device.write(4096, ByteBuffer.allocate(512), false);
        assertEquals(2, server.connections());
    }

    /**
     * With a server whose blocks are 4 KiB, a 512-byte write is a read-modify-write of its block.
     * When the patched block's write times out, the server may still carry it out later, with the
     * old bytes of the block's other sectors: a write to another sector of that block must wait
     * until the first is off the wire (answered, or its connection reset), or the late one undoes
     * it. Before, the block lock went with the timeout, the second write was acknowledged, and the
     * first one's late arrival reverted it.
     */
    @Test
    @Timeout(60)
    void aTimedOutReadModifyWriteKeepsItsBlockUntilItIsOffTheWire() throws Exception {
        server = FakeNbdServer.standard(dir, SIZE);
        server.minimumBlock = 4096;
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.atomic.AtomicBoolean held = new java.util.concurrent.atomic.AtomicBoolean();
        server.handler((request, replies) -> {
            if (request.type() == 1 && request.offset() == 0 && held.compareAndSet(false, true)) {
                Thread late = new Thread(() -> { // carried out, and answered, late
                    try {
                        release.await(30, java.util.concurrent.TimeUnit.SECONDS);
                        synchronized (replies) {
                            if (server.endedConnections() > 0) {
                                return; // the client took the connection for dead (a loaded machine): dropped
                            }
                            System.arraycopy(request.payload(), 0, server.disk, 0, request.length());
                            replies.simple(request.cookie(), 0, null);
                        }
                    } catch (Exception e) {
                        // the connection went: the write never arrives
                    }
                });
                late.setDaemon(true);
                late.start();
                return;
            }
            synchronized (replies) {
                server.serveDisk(request, replies);
            }
        });
        connect(Duration.ofSeconds(3)); // the first write times out; the rest has room on a loaded machine
        // reads answered all along: the connection is alive (never taken for dead for its silence)
        AtomicBoolean stop = new AtomicBoolean();
        Thread traffic = new Thread(() -> {
            while (!stop.get()) {
                try {
                    device.read(65536, ByteBuffer.allocate(4096));
                    Thread.sleep(20);
                } catch (Exception e) {
                    return;
                }
            }
        });
        traffic.start();
        try {
            byte[] first = new byte[512];
            Arrays.fill(first, (byte) 1);
            assertThrows(BackingUnavailableException.class, () -> device.write(0, ByteBuffer.wrap(first), false));
            byte[] second = new byte[512];
            Arrays.fill(second, (byte) 2);
            java.util.concurrent.CompletableFuture<Void> writing = java.util.concurrent.CompletableFuture.runAsync(
                    () -> {
                        try {
                            device.write(512, ByteBuffer.wrap(second), false);
                        } catch (IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    });
            Thread.sleep(200); // the second write waits for the block (before, it had finished by now)
            release.countDown();
            writing.get(30, java.util.concurrent.TimeUnit.SECONDS);
            ByteBuffer back = ByteBuffer.allocate(512);
            device.read(512, back);
            assertArrayEquals(second, back.array(), "an acknowledged write was undone by a late one");
        } finally {
            stop.set(true);
            traffic.join(5000);
        }
        assertEquals(0, device.reconnectCount(), "the connection lived throughout: the late write came on it");
    }
}
