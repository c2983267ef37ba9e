package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

/**
 * What {@link ReplyWriter} puts on the channel: every reply's bytes, in order and whole, whatever
 * mix of small and large, heap and direct buffers they come in, and whatever the channel accepts
 * per call.
 */
class ReplyWriterTest {
    private static final long SEED = 0x7E57_3A11L;

    /** A channel that records what is written, accepting at most {@code maxPerCall} bytes per call. */
    private static class Recorder implements GatheringByteChannel {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final AtomicInteger calls = new AtomicInteger();
        final int maxPerCall;

        Recorder(int maxPerCall) {
            this.maxPerCall = maxPerCall;
        }

        @Override
        public int write(ByteBuffer src) {
            calls.incrementAndGet();
            int n = Math.min(src.remaining(), maxPerCall);
            byte[] chunk = new byte[n];
            src.get(chunk);
            bytes.write(chunk, 0, n);
            return n;
        }

        /** Like writev: a prefix of the buffers' concatenation, at most {@code maxPerCall} bytes. */
        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) {
            calls.incrementAndGet();
            long total = 0;
            for (int i = offset; i < offset + length && total < maxPerCall; i++) {
                int n = (int) Math.min(srcs[i].remaining(), maxPerCall - total);
                byte[] chunk = new byte[n];
                srcs[i].get(chunk);
                bytes.write(chunk, 0, n);
                total += n;
            }
            return total;
        }

        @Override
        public long write(ByteBuffer[] srcs) {
            return write(srcs, 0, srcs.length);
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }

    @Test
    void everyByteOfEveryReplyInOrderWhateverTheBuffers() throws IOException {
        writesEverything(Integer.MAX_VALUE);
        writesEverything(70_000); // a socket that takes part of a write at a time
    }

    private static void writesEverything(int maxPerCall) throws IOException {
        Random random = new Random(SEED);
        int[] sizes = {16, 28, 4096, 16 << 10, 200 << 10, BufferPool.MAX_HEAP_IO_SLICE,
            BufferPool.MAX_HEAP_IO_SLICE + 4096, 1 << 20};
        List<OutgoingReply> replies = new ArrayList<>();
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        AtomicInteger completed = new AtomicInteger();
        for (int i = 0; i < 120; i++) {
            int parts = 1 + random.nextInt(3);
            ByteBuffer[] buffers = new ByteBuffer[parts];
            for (int p = 0; p < parts; p++) {
                byte[] content = new byte[sizes[random.nextInt(sizes.length)]];
                random.nextBytes(content);
                expected.write(content, 0, content.length);
                buffers[p] = random.nextBoolean()
                        ? ByteBuffer.wrap(content)
                        : ByteBuffer.allocateDirect(content.length).put(content).flip();
            }
            replies.add(new OutgoingReply(sent -> completed.incrementAndGet(), buffers));
        }
        Recorder channel = new Recorder(maxPerCall);
        ReplyWriter writer = new ReplyWriter(channel, "test", () -> { });
        writer.writeNow(replies);
        assertArrayEquals(expected.toByteArray(), channel.bytes.toByteArray(),
                "seed " + SEED + ", at most " + maxPerCall + " bytes per write");
        assertEquals(replies.size(), completed.get(), "every reply completed once");
    }

    /**
     * A channel that fails with an unchecked exception (a TLS engine in a bad state) ends the
     * writer as an I/O failure does: every queued reply is completed as not sent, so its buffers,
     * device views and budget are given back, and the connection is torn down.
     */
    @Test
    void anUncheckedFailureOfTheChannelCompletesEveryReplyAndEndsTheConnection() throws Exception {
        GatheringByteChannel failing = new Recorder(Integer.MAX_VALUE) {
            @Override
            public long write(ByteBuffer[] srcs, int offset, int length) {
                throw new IllegalStateException("engine in a bad state");
            }

            @Override
            public int write(ByteBuffer src) {
                throw new IllegalStateException("engine in a bad state");
            }
        };
        java.util.concurrent.CountDownLatch torn = new java.util.concurrent.CountDownLatch(1);
        ReplyWriter writer = new ReplyWriter(failing, "test", torn::countDown);
        List<Boolean> outcomes = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int i = 0; i < 5; i++) {
            writer.send(new OutgoingReply(outcomes::add, ByteBuffer.allocateDirect(4096)));
        }
        Thread thread = new Thread(writer);
        thread.start();
        assertEquals(true, torn.await(10, java.util.concurrent.TimeUnit.SECONDS), "the connection is torn down");
        assertEquals(true, writer.awaitFinished(java.util.concurrent.TimeUnit.SECONDS.toNanos(10)));
        assertEquals(List.of(false, false, false, false, false), outcomes, "every reply completed, as not sent");
        writer.send(new OutgoingReply(outcomes::add, ByteBuffer.allocate(16)));
        assertEquals(6, outcomes.size(), "a reply sent after the failure is completed at once");
    }
}
