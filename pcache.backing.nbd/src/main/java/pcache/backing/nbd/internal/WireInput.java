package pcache.backing.nbd.internal;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;

/**
 * Buffered big-endian reads from a blocking channel. One direct buffer per connection, so a
 * burst of small replies costs one system call and large payloads never make the JDK cache a
 * temporary direct buffer of their size. Used by one thread at a time.
 */
final class WireInput {

    private final ReadableByteChannel channel;
    private final ByteBuffer buffer;

    WireInput(ReadableByteChannel channel, int bufferBytes) {
        this.channel = channel;
        this.buffer = ByteBuffer.allocateDirect(bufferBytes);
        buffer.flip(); // empty, in read mode
    }

    /** Makes at least {@code n} bytes (at most the buffer size) available. */
    private void require(int n) throws IOException {
        if (buffer.remaining() >= n) {
            return;
        }
        buffer.compact();
        try {
            while (buffer.position() < n) {
                if (channel.read(buffer) < 0) {
                    throw new EOFException("the server closed the connection");
                }
            }
        } finally {
            buffer.flip();
        }
    }

    /** Bytes read from the channel and not yet consumed. */
    int buffered() {
        return buffer.remaining();
    }

    int readInt() throws IOException {
        require(4);
        return buffer.getInt();
    }

    long readLong() throws IOException {
        require(8);
        return buffer.getLong();
    }

    int readUnsignedShort() throws IOException {
        require(2);
        return Short.toUnsignedInt(buffer.getShort());
    }

    long readUnsignedInt() throws IOException {
        return Integer.toUnsignedLong(readInt());
    }

    void readFully(byte[] dst, int offset, int length) throws IOException {
        while (length > 0) {
            require(1);
            int n = Math.min(length, buffer.remaining());
            buffer.get(dst, offset, n);
            offset += n;
            length -= n;
        }
    }

    byte[] readBytes(int length) throws IOException {
        byte[] bytes = new byte[length];
        readFully(bytes, 0, length);
        return bytes;
    }

    void skip(long length) throws IOException {
        while (length > 0) {
            require(1);
            int n = (int) Math.min(length, buffer.remaining());
            buffer.position(buffer.position() + n);
            length -= n;
        }
    }
}
