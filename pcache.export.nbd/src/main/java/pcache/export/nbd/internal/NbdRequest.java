package pcache.export.nbd.internal;

/**
 * One transmission-phase request header as it came off the wire.
 *
 * @param flags command flags (u16)
 * @param type command type (u16); may be one we do not know
 * @param cookie opaque client value echoed in every reply
 * @param offset byte offset (u64; a negative long means "beyond any export")
 * @param length byte length (u32, widened)
 */
record NbdRequest(int flags, int type, long cookie, long offset, long length) {

    /** The known command, or null. */
    NbdCommand command() {
        return NbdCommand.ofType(type);
    }

    /** True when the request carries {@code flag}. */
    boolean has(int flag) {
        return (flags & flag) != 0;
    }

    /** Bytes of payload that follow this header on the wire (only WRITE has any). */
    long payloadBytes() {
        return type == NbdCommand.WRITE.type ? length : 0;
    }

    /** A short description for log lines. */
    String describe() {
        NbdCommand c = command();
        return (c == null ? "command#" + type : c.name())
                + " offset=" + Long.toUnsignedString(offset) + " length=" + length
                + " flags=0x" + Integer.toHexString(flags)
                + " cookie=0x" + Long.toHexString(cookie);
    }
}
