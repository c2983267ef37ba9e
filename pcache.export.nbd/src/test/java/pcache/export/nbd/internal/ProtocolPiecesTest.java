package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import pcache.api.BackingDeviceException;
import pcache.api.DeviceClosedException;
import pcache.api.MisalignedIoException;
import pcache.api.OutOfRangeException;
import pcache.api.ReadOnlyDeviceException;
import pcache.api.nbd.NbdWire;

/** The small building blocks: encoder, buffer pool, buffered input, in-flight limiter, error mapping. */
@Timeout(20)
class ProtocolPiecesTest {

    @Test
    void errorChunksCarryTheMessageAndCutLongOnesAtACharacterBoundary() {
        ByteBuffer b = ReplyEncoder.errorDone(0x1122334455667788L, 5, "disk failed");
        assertEquals(NbdWire.STRUCTURED_REPLY_MAGIC, b.getInt());
        assertEquals(NbdWire.REPLY_FLAG_DONE, b.getShort());
        assertEquals(NbdWire.CHUNK_ERROR, b.getShort() & 0xffff);
        assertEquals(0x1122334455667788L, b.getLong());
        assertEquals(6 + 11, b.getInt());
        assertEquals(5, b.getInt());
        assertEquals(11, b.getShort());

        byte[] cut = ReplyEncoder.utf8Bounded("é".repeat(3000), 4096);
        assertEquals(4096, cut.length);
        assertEquals("é".repeat(2048), new String(cut, StandardCharsets.UTF_8));
        assertEquals(4095, ReplyEncoder.utf8Bounded("a" + "é".repeat(3000), 4096).length);
    }

    @Test
    void simpleAndDataHeadersHaveTheRightLayout() {
        ByteBuffer simple = ReplyEncoder.simple(42, 22);
        assertEquals(16, simple.remaining());
        assertEquals(NbdWire.SIMPLE_REPLY_MAGIC, simple.getInt());
        assertEquals(22, simple.getInt());
        assertEquals(42, simple.getLong());

        ByteBuffer data = ReplyEncoder.offsetDataHeader(1, 4096, 512);
        assertEquals(28, data.remaining());
        data.position(16);
        assertEquals(8 + 512, data.getInt());
        assertEquals(4096, data.getLong());
    }

    @Test
    void bufferPoolRecyclesSmallDirectBuffersAndAllocatesLargeOnHeap() {
        BufferPool pool = new BufferPool();
        ByteBuffer a = pool.acquire(4096);
        assertTrue(a.isDirect());
        assertEquals(4096, a.remaining());
        a.position(100);
        pool.release(a);
        ByteBuffer b = pool.acquire(3000);
        assertSame(a, b);
        assertEquals(0, b.position());
        assertEquals(3000, b.limit());
        assertEquals(8192, pool.acquire(5000).capacity());
        ByteBuffer large = pool.acquire(2 << 20);
        assertFalse(large.isDirect());
        pool.release(large); // ignored
        pool.release(null);
        ByteBuffer slice = BufferPool.ioSlice(large);
        assertEquals(BufferPool.MAX_HEAP_IO_SLICE, slice.remaining());
    }

    @Test
    void bufferPoolKeepsAQueueDepthOfTheLargestClass() {
        BufferPool pool = new BufferPool();
        int count = BufferPool.RETAINED_BUFFERS_PER_CLASS + 1;
        List<ByteBuffer> inFlight = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            inFlight.add(pool.acquire(BufferPool.MAX_POOLED_BYTES));
        }
        inFlight.forEach(pool::release);
        Set<ByteBuffer> again = Collections.newSetFromMap(new IdentityHashMap<>());
        for (int i = 0; i < count; i++) {
            again.add(pool.acquire(BufferPool.MAX_POOLED_BYTES));
        }
        long reused = inFlight.stream().filter(again::contains).count();
        assertEquals(BufferPool.RETAINED_BUFFERS_PER_CLASS, reused, "all but one came back from the pool");
    }

    @Test
    void channelInputReadsAcrossItsBufferAndReportsTruncation() throws IOException {
        byte[] bytes = new byte[300_000];
        new Random(1).nextBytes(bytes);
        ByteBuffer expected = ByteBuffer.wrap(bytes);
        // a stream that returns few bytes per read, to exercise refills
        InputStream trickle = new ByteArrayInputStream(bytes) {
            @Override
            public synchronized int read(byte[] b, int off, int len) {
                return super.read(b, off, Math.min(len, 777));
            }
        };
        ChannelInput in = new ChannelInput(Channels.newChannel(trickle));
        assertEquals(expected.getInt(0), in.readInt());
        assertEquals(expected.getLong(4), in.readLong());
        assertEquals(expected.getShort(12) & 0xffff, in.readU16());
        ByteBuffer big = ByteBuffer.allocate(200_000);
        in.readFully(big);
        assertArrayEquals(java.util.Arrays.copyOfRange(bytes, 14, 200_014), big.array());
        in.skip(50_000);
        ByteBuffer direct = ByteBuffer.allocateDirect(49_000);
        in.readFully(direct);
        assertEquals(bytes[250_014], direct.get(0));
        assertThrows(EOFException.class, () -> in.readBytes(10_000));
    }

    @Test
    void limiterBlocksBeyondItsBudgetAndLetsAnOversizedRequestInAlone() throws Exception {
        InflightLimiter limiter = new InflightLimiter(2, 1000);
        assertTrue(limiter.acquire(600));
        CompletableFuture<Boolean> waiting = CompletableFuture.supplyAsync(() -> {
            try {
                return limiter.acquire(600);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        Thread.sleep(100);
        assertFalse(waiting.isDone(), "600 + 600 exceeds the 1000-byte budget");
        limiter.release(600);
        assertTrue(waiting.get(5, TimeUnit.SECONDS));
        limiter.release(600);
        assertTrue(limiter.acquire(5000), "a request larger than the budget goes in alone");
        assertEquals(5000, limiter.bytesInFlight());
        assertFalse(limiter.awaitIdle(TimeUnit.MILLISECONDS.toNanos(50)));
        limiter.release(5000);
        assertTrue(limiter.awaitIdle(0));
        limiter.close();
        assertFalse(limiter.acquire(0));
    }

    @Test
    void deviceExceptionsMapToTheProtocolsErrors() {
        assertEquals(NbdError.ENOSPC, ErrorMapping.errorFor(NbdCommand.WRITE, new OutOfRangeException("d", 0, 1, 0)));
        assertEquals(NbdError.EINVAL, ErrorMapping.errorFor(NbdCommand.READ, new OutOfRangeException("d", 0, 1, 0)));
        assertEquals(NbdError.EINVAL, ErrorMapping.errorFor(NbdCommand.WRITE, new MisalignedIoException("d", 1, 1, 512)));
        assertEquals(NbdError.EPERM, ErrorMapping.errorFor(NbdCommand.TRIM, new ReadOnlyDeviceException("ro")));
        assertEquals(NbdError.ESHUTDOWN, ErrorMapping.errorFor(NbdCommand.FLUSH, new DeviceClosedException("gone")));
        assertEquals(NbdError.EIO, ErrorMapping.errorFor(NbdCommand.READ, new BackingDeviceException("backing")));
        assertEquals(NbdError.EIO, ErrorMapping.errorFor(NbdCommand.READ, new IOException("x")));
    }
}
