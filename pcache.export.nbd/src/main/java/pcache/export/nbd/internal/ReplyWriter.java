package pcache.export.nbd.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.GatheringByteChannel;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import pcache.io.log.Log;

/**
 * Writes one connection's replies. Workers hand it finished replies in any order; its thread
 * writes each reply whole (so chunks are never interleaved mid-chunk) and batches whatever is
 * queued into one gathering write. The connection's reader writes the replies of requests it
 * served itself directly ({@link #writeNow}); a lock keeps the two writers' replies apart.
 *
 * <p>It has its own thread so that a client that stops reading blocks only this thread (and the
 * connection's reader), never a shared worker. The queue needs no bound of its own: every queued
 * reply holds in-flight budget of its connection ({@link InflightLimiter}).
 */
final class ReplyWriter implements Runnable {
    private static final System.Logger LOG = Log.of(ReplyWriter.class);
    /** Replies per gathering write; keeps the iovec array modest. */
    private static final int MAX_BATCH = 64;

    private final GatheringByteChannel channel;
    private final String peer;
    private final Runnable onFailure;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ArrayDeque<OutgoingReply> queue = new ArrayDeque<>();
    /** Held while bytes go to the channel, by the writer thread or by {@link #writeNow}. */
    private final ReentrantLock writeLock = new ReentrantLock();
    /** No more replies are accepted; queued ones are still written unless {@link #abort}ed. */
    private boolean closing;
    private volatile boolean aborted;
    private boolean finished;

    /**
     * @param onFailure called (on the writer thread) when a write fails; it should tear the
     *        connection down
     */
    ReplyWriter(GatheringByteChannel channel, String peer, Runnable onFailure) {
        this.channel = channel;
        this.peer = peer;
        this.onFailure = onFailure;
    }

    /** Queues a reply; if the writer is closed the reply is completed as not sent. */
    void send(OutgoingReply reply) {
        lock.lock();
        try {
            if (!closing) {
                queue.add(reply);
                changed.signal();
                return;
            }
        } finally {
            lock.unlock();
        }
        reply.complete(false);
    }

    /**
     * Writes {@code replies} now, on the calling thread, in one gathering write where possible,
     * then completes them as sent. On failure they are completed as not sent and the writer is
     * aborted; the caller tears the connection down.
     */
    void writeNow(List<OutgoingReply> replies) throws IOException {
        boolean sent = false;
        writeLock.lock();
        try {
            if (aborted) {
                throw new ClosedChannelException();
            }
            write(replies, new ArrayList<>(replies.size() + 1));
            sent = true;
        } finally {
            writeLock.unlock();
            for (OutgoingReply r : replies) {
                r.complete(sent);
            }
            if (!sent) {
                abort();
            }
        }
    }

    /** Stops accepting replies; those already queued are still written, then the thread ends. */
    void finish() {
        lock.lock();
        try {
            closing = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Stops at once: queued replies are dropped (completed as not sent). */
    void abort() {
        List<OutgoingReply> dropped;
        lock.lock();
        try {
            closing = true;
            aborted = true;
            dropped = new ArrayList<>(queue);
            queue.clear();
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        dropped.forEach(r -> r.complete(false));
    }

    /** Waits until the writer thread has ended (after {@link #finish} or {@link #abort}). */
    boolean awaitFinished(long timeoutNanos) throws InterruptedException {
        lock.lock();
        try {
            long left = timeoutNanos;
            while (!finished && left > 0) {
                left = changed.awaitNanos(left);
            }
            return finished;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void run() {
        List<OutgoingReply> batch = new ArrayList<>(MAX_BATCH);
        List<ByteBuffer> buffers = new ArrayList<>();
        try {
            while (takeBatch(batch)) {
                writeLock.lock();
                try {
                    write(batch, buffers);
                } catch (IOException | RuntimeException | Error e) {
                    // whatever ends the writer, the batch's replies are completed (their buffers,
                    // device views and budget given back) and the connection torn down
                    if (e instanceof IOException) {
                        LOG.log(System.Logger.Level.DEBUG, () -> "NBD client " + peer + ": reply write failed: " + e);
                    } else {
                        LOG.log(System.Logger.Level.ERROR, "NBD client " + peer + ": reply writer failed", e);
                    }
                    batch.forEach(r -> r.complete(false));
                    batch.clear();
                    abort();
                    onFailure.run();
                    if (e instanceof Error err) {
                        throw err;
                    }
                    return;
                } finally {
                    writeLock.unlock();
                }
                batch.forEach(r -> r.complete(true));
                batch.clear();
            }
        } finally {
            lock.lock();
            try {
                finished = true;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    /** Moves queued replies into {@code batch}; false when the writer should end. */
    private boolean takeBatch(List<OutgoingReply> batch) {
        lock.lock();
        try {
            while (queue.isEmpty()) {
                if (closing) {
                    return false;
                }
                changed.awaitUninterruptibly();
            }
            if (aborted) {
                return false;
            }
            while (!queue.isEmpty() && batch.size() < MAX_BATCH) {
                batch.add(queue.poll());
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Writes the batch: runs of direct or small buffers in one gathering write each; a large heap
     * buffer alone, slice by slice, so the JDK's temporary direct buffer (one per heap buffer in a
     * gathering write, cached per thread) stays at {@link BufferPool#MAX_HEAP_IO_SLICE}.
     */
    private void write(List<OutgoingReply> batch, List<ByteBuffer> run) throws IOException {
        run.clear();
        for (OutgoingReply reply : batch) {
            for (ByteBuffer b : reply.buffers) {
                if (b.isDirect() || b.remaining() <= BufferPool.MAX_HEAP_IO_SLICE) {
                    run.add(b);
                } else {
                    writeGathered(run);
                    while (b.hasRemaining()) {
                        ByteBuffer slice = BufferPool.ioSlice(b);
                        int n = channel.write(slice);
                        if (slice != b) {
                            b.position(b.position() + n);
                        }
                    }
                }
            }
        }
        writeGathered(run);
    }

    private void writeGathered(List<ByteBuffer> run) throws IOException {
        if (run.isEmpty()) {
            return;
        }
        ByteBuffer[] array = run.toArray(new ByteBuffer[0]);
        run.clear();
        int first = 0;
        while (first < array.length) {
            channel.write(array, first, array.length - first);
            while (first < array.length && !array[first].hasRemaining()) {
                first++;
            }
        }
    }
}
