package pcache.export.nbd.internal;

/**
 * Wire constants of the NBD protocol (fixed newstyle handshake, simple and structured replies).
 * Values and names follow the NBD project's normative specification, {@code doc/proto.md}.
 * All integers on the wire are big-endian.
 */
final class NbdProtocol {
    private NbdProtocol() {
    }

    // --- magics (design doc §1)
    /** "NBDMAGIC": the first eight bytes the server sends. */
    static final long INIT_PASSWD = 0x4e42444d41474943L;
    /** "IHAVEOPT": second server word, and the prefix of every client option. */
    static final long OPTION_MAGIC = 0x49484156454F5054L;
    /** Prefix of every option reply. */
    static final long OPTION_REPLY_MAGIC = 0x0003e889045565a9L;
    static final int REQUEST_MAGIC = 0x25609513;
    static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;

    // --- handshake flags (server → client, u16)
    static final int FLAG_FIXED_NEWSTYLE = 1;
    static final int FLAG_NO_ZEROES = 1 << 1;
    // --- client flags (client → server, u32); any other bit makes us drop the connection
    static final int CLIENT_FLAG_FIXED_NEWSTYLE = 1;
    static final int CLIENT_FLAG_NO_ZEROES = 1 << 1;
    static final int CLIENT_FLAGS_KNOWN = CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES;

    // --- options (§2.1)
    static final int OPT_EXPORT_NAME = 1;
    static final int OPT_ABORT = 2;
    static final int OPT_LIST = 3;
    static final int OPT_STARTTLS = 5;
    static final int OPT_INFO = 6;
    static final int OPT_GO = 7;
    static final int OPT_STRUCTURED_REPLY = 8;
    static final int OPT_LIST_META_CONTEXT = 9;
    static final int OPT_SET_META_CONTEXT = 10;
    static final int OPT_EXTENDED_HEADERS = 11;

    /** A readable name for log lines, e.g. "NBD_OPT_GO" or "option 124076833". */
    static String optionName(int option) {
        switch (option) {
            case OPT_EXPORT_NAME: return "NBD_OPT_EXPORT_NAME";
            case OPT_ABORT: return "NBD_OPT_ABORT";
            case OPT_LIST: return "NBD_OPT_LIST";
            case OPT_STARTTLS: return "NBD_OPT_STARTTLS";
            case OPT_INFO: return "NBD_OPT_INFO";
            case OPT_GO: return "NBD_OPT_GO";
            case OPT_STRUCTURED_REPLY: return "NBD_OPT_STRUCTURED_REPLY";
            case OPT_LIST_META_CONTEXT: return "NBD_OPT_LIST_META_CONTEXT";
            case OPT_SET_META_CONTEXT: return "NBD_OPT_SET_META_CONTEXT";
            case OPT_EXTENDED_HEADERS: return "NBD_OPT_EXTENDED_HEADERS";
            default: return "option " + Integer.toUnsignedString(option);
        }
    }

    /** Characters of a client-supplied string shown in a log line or message; the rest is cut. */
    static final int MAX_SHOWN_CHARS = 256;

    /**
     * A client-supplied string (an export name) made safe to put in a log line or an error
     * message: control, line-separator and format characters (which could start a forged log
     * line or reorder the text, e.g. U+202E) are shown as Java-style unicode escapes, and at most
     * {@link #MAX_SHOWN_CHARS} characters are shown.
     */
    static String printable(String s) {
        StringBuilder b = new StringBuilder(Math.min(s.length(), MAX_SHOWN_CHARS) + 16);
        int shown = Math.min(s.length(), MAX_SHOWN_CHARS);
        for (int i = 0; i < shown; i++) {
            char c = s.charAt(i);
            if (Character.isISOControl(c) || c == '\u2028' || c == '\u2029' || Character.getType(c) == Character.FORMAT
                    || Character.isSurrogate(c) && !validSurrogateAt(s, i)) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        if (s.length() > shown) {
            b.append("...(").append(s.length()).append(" characters)");
        }
        return b.toString();
    }

    private static boolean validSurrogateAt(String s, int i) {
        char c = s.charAt(i);
        return Character.isHighSurrogate(c) ? i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))
                : i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
    }

    // --- option reply types
    static final int REP_ACK = 1;
    static final int REP_SERVER = 2;
    static final int REP_INFO = 3;
    static final int REP_META_CONTEXT = 4;
    static final int REP_ERR_UNSUP = 0x8000_0001;
    static final int REP_ERR_POLICY = 0x8000_0002;
    static final int REP_ERR_INVALID = 0x8000_0003;
    static final int REP_ERR_UNKNOWN = 0x8000_0006;
    static final int REP_ERR_SHUTDOWN = 0x8000_0007;

    // --- NBD_OPT_INFO / NBD_OPT_GO information types (§2.2)
    static final int INFO_EXPORT = 0;
    static final int INFO_NAME = 1;
    static final int INFO_DESCRIPTION = 2;
    static final int INFO_BLOCK_SIZE = 3;

    // --- transmission flags (§3.1, u16)
    static final int TX_HAS_FLAGS = 1;
    static final int TX_READ_ONLY = 1 << 1;
    static final int TX_SEND_FLUSH = 1 << 2;
    static final int TX_SEND_FUA = 1 << 3;
    static final int TX_SEND_TRIM = 1 << 5;
    static final int TX_SEND_WRITE_ZEROES = 1 << 6;
    static final int TX_SEND_DF = 1 << 7;
    static final int TX_CAN_MULTI_CONN = 1 << 8;
    static final int TX_SEND_CACHE = 1 << 10;
    static final int TX_SEND_FAST_ZERO = 1 << 11;

    // --- command flags (§3.2, u16)
    static final int CMD_FLAG_FUA = 0x01;
    static final int CMD_FLAG_NO_HOLE = 0x02;
    static final int CMD_FLAG_DF = 0x04;
    static final int CMD_FLAG_REQ_ONE = 0x08;
    static final int CMD_FLAG_FAST_ZERO = 0x10;

    // --- structured reply chunks (§3.4)
    static final int REPLY_FLAG_DONE = 1;
    static final int CHUNK_NONE = 0;
    static final int CHUNK_OFFSET_DATA = 1;
    static final int CHUNK_BLOCK_STATUS = 5;
    static final int CHUNK_ERROR = 0x8001;

    // --- sizes
    static final int REQUEST_HEADER_BYTES = 28;
    static final int SIMPLE_REPLY_HEADER_BYTES = 16;
    static final int STRUCTURED_REPLY_HEADER_BYTES = 20;
    /** Padding after the EXPORT_NAME reply unless both sides agreed on NO_ZEROES. */
    static final int EXPORT_NAME_PADDING_BYTES = 124;
    /** The spec's hard limit for any string (export names, queries, messages). */
    static final int MAX_STRING_BYTES = 4096;

    // --- metadata contexts (§2.3)
    static final String META_BASE_ALLOCATION = "base:allocation";
    /** Id we hand out for {@code base:allocation}; ids are chosen by the server. */
    static final int META_BASE_ALLOCATION_ID = 1;

    // --- block sizes we advertise (§5)
    /** Preferred block size: below this, clients would cause read-modify-write in a cache. */
    static final int PREFERRED_BLOCK_BYTES = 4096;
    /** Largest READ/WRITE payload we accept (the interoperable 32 MiB). */
    static final int MAX_PAYLOAD_BYTES = 32 << 20;
}
