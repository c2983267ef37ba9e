package pcache.backing.nbd.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/**
 * Buffered big-endian writes to a blocking channel: requests are gathered in one direct buffer
 * and written when it is full or on {@link #flush()}, so a burst of small requests costs one
 * system call. Used by one thread at a time.
 */
final class WireOutput {

    private final WritableByteChannel channel;
    private final ByteBuffer buffer;

    WireOutput(WritableByteChannel channel, int bufferBytes) {
        this.channel = channel;
        this.buffer = ByteBuffer.allocateDirect(bufferBytes);
    }

    private void room(int n) throws IOException {
        if (buffer.remaining() < n) {
            flush();
        }
    }

    WireOutput putInt(int value) throws IOException {
        room(4);
        buffer.putInt(value);
        return this;
    }

    WireOutput putLong(long value) throws IOException {
        room(8);
        buffer.putLong(value);
        return this;
    }

    WireOutput putShort(int value) throws IOException {
        room(2);
        buffer.putShort((short) value);
        return this;
    }

    WireOutput put(byte[] src, int offset, int length) throws IOException {
        while (length > 0) {
            room(1);
            int n = Math.min(length, buffer.remaining());
            buffer.put(src, offset, n);
            offset += n;
            length -= n;
        }
        return this;
    }

    /** Writes everything buffered. */
    void flush() throws IOException {
        buffer.flip();
        try {
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
        } finally {
            buffer.clear();
        }
    }
}
