package pcache.export.nbd.internal;

import java.nio.ByteBuffer;

/**
 * The bytes of one reply (one simple reply or all chunks of one structured reply), written by
 * the connection's {@link ReplyWriter} as a unit so no other reply lands inside it.
 * {@link #completion} runs exactly once, after the bytes were written or when they never will
 * be; it gives back buffers and the in-flight budget.
 */
final class OutgoingReply {
    /** Told whether the reply reached the socket. */
    @FunctionalInterface
    interface Completion {
        void done(boolean sent);
    }

    final ByteBuffer[] buffers;
    private Completion completion;

    OutgoingReply(Completion completion, ByteBuffer... buffers) {
        this.buffers = buffers;
        this.completion = completion;
    }

    /** Runs the completion once; later calls do nothing. */
    void complete(boolean sent) {
        Completion c = completion;
        completion = null;
        if (c != null) {
            c.done(sent);
        }
    }
}
