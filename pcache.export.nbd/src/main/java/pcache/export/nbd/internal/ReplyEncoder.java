package pcache.export.nbd.internal;

import static pcache.api.nbd.NbdWire.CHUNK_BLOCK_STATUS;
import static pcache.api.nbd.NbdWire.CHUNK_ERROR;
import static pcache.api.nbd.NbdWire.CHUNK_NONE;
import static pcache.api.nbd.NbdWire.CHUNK_OFFSET_DATA;
import static pcache.api.nbd.NbdWire.MAX_STRING_BYTES;
import static pcache.api.nbd.NbdWire.REPLY_FLAG_DONE;
import static pcache.api.nbd.NbdWire.SIMPLE_REPLY_HEADER_BYTES;
import static pcache.api.nbd.NbdWire.SIMPLE_REPLY_MAGIC;
import static pcache.api.nbd.NbdWire.STRUCTURED_REPLY_HEADER_BYTES;
import static pcache.api.nbd.NbdWire.STRUCTURED_REPLY_MAGIC;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.function.ToIntFunction;

import pcache.api.BlockExtent;

/** Builds the header bytes of simple replies and structured reply chunks (design doc §3.3–3.4). */
final class ReplyEncoder {
    private ReplyEncoder() {
    }

    /** A simple reply header; for a successful READ the data follows in its own buffer. */
    static ByteBuffer simple(long cookie, int error) {
        ByteBuffer b = ByteBuffer.allocate(SIMPLE_REPLY_HEADER_BYTES);
        b.putInt(SIMPLE_REPLY_MAGIC).putInt(error).putLong(cookie);
        return b.flip();
    }

    /**
     * Header of a final OFFSET_DATA chunk carrying {@code dataBytes} bytes read at
     * {@code offset}; the data follows in its own buffer. One chunk covering the whole request
     * satisfies DF too.
     */
    static ByteBuffer offsetDataHeader(long cookie, long offset, int dataBytes) {
        ByteBuffer b = ByteBuffer.allocate(STRUCTURED_REPLY_HEADER_BYTES + 8);
        putChunkHeader(b, REPLY_FLAG_DONE, CHUNK_OFFSET_DATA, cookie, 8 + dataBytes);
        b.putLong(offset);
        return b.flip();
    }

    /** A final NONE chunk (a successful structured reply without content, e.g. a 0-byte READ). */
    static ByteBuffer noneDone(long cookie) {
        ByteBuffer b = ByteBuffer.allocate(STRUCTURED_REPLY_HEADER_BYTES);
        putChunkHeader(b, REPLY_FLAG_DONE, CHUNK_NONE, cookie, 0);
        return b.flip();
    }

    /**
     * A BLOCK_STATUS chunk for context {@code contextId}: one descriptor (length, status flags)
     * per extent, the flags given by {@code flags}; DONE when {@code last}.
     */
    static ByteBuffer blockStatus(long cookie, int contextId, List<BlockExtent> extents,
            ToIntFunction<BlockExtent> flags, boolean last) {
        int length = 4 + 8 * extents.size();
        ByteBuffer b = ByteBuffer.allocate(STRUCTURED_REPLY_HEADER_BYTES + length);
        putChunkHeader(b, last ? REPLY_FLAG_DONE : 0, CHUNK_BLOCK_STATUS, cookie, length);
        b.putInt(contextId);
        for (BlockExtent e : extents) {
            b.putInt((int) e.lengthBytes()).putInt(flags.applyAsInt(e));
        }
        return b.flip();
    }

    /** A final ERROR chunk with a human-readable message (truncated to the 4096-byte limit). */
    static ByteBuffer errorDone(long cookie, int error, String message) {
        byte[] text = utf8Bounded(message, MAX_STRING_BYTES);
        ByteBuffer b = ByteBuffer.allocate(STRUCTURED_REPLY_HEADER_BYTES + 6 + text.length);
        putChunkHeader(b, REPLY_FLAG_DONE, CHUNK_ERROR, cookie, 6 + text.length);
        b.putInt(error).putShort((short) text.length).put(text);
        return b.flip();
    }

    private static void putChunkHeader(ByteBuffer b, int flags, int type, long cookie, int length) {
        b.putInt(STRUCTURED_REPLY_MAGIC).putShort((short) flags).putShort((short) type)
                .putLong(cookie).putInt(length);
    }

    /** UTF-8 bytes of {@code s}, cut at a character boundary so they fit in {@code max} bytes. */
    static byte[] utf8Bounded(String s, int max) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        if (bytes.length <= max) {
            return bytes;
        }
        int end = max;
        while (end > 0 && (bytes[end] & 0xC0) == 0x80) {
            end--; // do not split a multi-byte character
        }
        byte[] cut = new byte[end];
        System.arraycopy(bytes, 0, cut, 0, end);
        return cut;
    }
}
