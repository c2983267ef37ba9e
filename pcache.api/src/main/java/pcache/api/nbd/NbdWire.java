package pcache.api.nbd;

/**
 * Magic numbers, flags, option and reply types, chunk types and sizes of the NBD protocol
 * (fixed newstyle handshake, simple and structured replies). Only what the protocol fixes lives
 * here; what pcache chooses (block sizes it advertises, timeouts) stays with the server or client.
 */
public final class NbdWire {

    private NbdWire() {
    }

    /** IANA port of NBD. */
    public static final int DEFAULT_PORT = 10809;

    // --- magic numbers
    /** "NBDMAGIC": the first eight bytes the server sends. */
    public static final long INIT_PASSWD = 0x4e42444d41474943L;
    /** "IHAVEOPT": the server's second word in newstyle, and the prefix of every client option. */
    public static final long OPTION_MAGIC = 0x49484156454F5054L;
    /** The server's second word in the oldstyle handshake (which pcache does not speak). */
    public static final long CLISERV_MAGIC = 0x00420281861253L;
    /** Prefix of every option reply. */
    public static final long OPTION_REPLY_MAGIC = 0x0003e889045565a9L;
    public static final int REQUEST_MAGIC = 0x25609513;
    public static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    public static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;

    // --- handshake flags (server to client, u16) and client flags (client to server, u32)
    public static final int FLAG_FIXED_NEWSTYLE = 1;
    public static final int FLAG_NO_ZEROES = 1 << 1;
    public static final int CLIENT_FLAG_FIXED_NEWSTYLE = 1;
    public static final int CLIENT_FLAG_NO_ZEROES = 1 << 1;
    /** Every client flag the protocol defines. */
    public static final int CLIENT_FLAGS_KNOWN = CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES;

    // --- options
    public static final int OPT_EXPORT_NAME = 1;
    public static final int OPT_ABORT = 2;
    public static final int OPT_LIST = 3;
    public static final int OPT_STARTTLS = 5;
    public static final int OPT_INFO = 6;
    public static final int OPT_GO = 7;
    public static final int OPT_STRUCTURED_REPLY = 8;
    public static final int OPT_LIST_META_CONTEXT = 9;
    public static final int OPT_SET_META_CONTEXT = 10;
    public static final int OPT_EXTENDED_HEADERS = 11;

    // --- option reply types
    public static final int REP_ACK = 1;
    public static final int REP_SERVER = 2;
    public static final int REP_INFO = 3;
    public static final int REP_META_CONTEXT = 4;
    /** Set in every error reply type. */
    public static final int REP_ERR_BIT = 0x8000_0000;
    public static final int REP_ERR_UNSUP = REP_ERR_BIT | 1;
    public static final int REP_ERR_POLICY = REP_ERR_BIT | 2;
    public static final int REP_ERR_INVALID = REP_ERR_BIT | 3;
    public static final int REP_ERR_PLATFORM = REP_ERR_BIT | 4;
    public static final int REP_ERR_TLS_REQD = REP_ERR_BIT | 5;
    public static final int REP_ERR_UNKNOWN = REP_ERR_BIT | 6;
    public static final int REP_ERR_SHUTDOWN = REP_ERR_BIT | 7;
    public static final int REP_ERR_BLOCK_SIZE_REQD = REP_ERR_BIT | 8;
    public static final int REP_ERR_TOO_BIG = REP_ERR_BIT | 9;

    // --- information types of NBD_OPT_INFO and NBD_OPT_GO
    public static final int INFO_EXPORT = 0;
    public static final int INFO_NAME = 1;
    public static final int INFO_DESCRIPTION = 2;
    public static final int INFO_BLOCK_SIZE = 3;

    // --- transmission flags (u16)
    public static final int TX_HAS_FLAGS = 1;
    public static final int TX_READ_ONLY = 1 << 1;
    public static final int TX_SEND_FLUSH = 1 << 2;
    public static final int TX_SEND_FUA = 1 << 3;
    public static final int TX_ROTATIONAL = 1 << 4;
    public static final int TX_SEND_TRIM = 1 << 5;
    public static final int TX_SEND_WRITE_ZEROES = 1 << 6;
    public static final int TX_SEND_DF = 1 << 7;
    public static final int TX_CAN_MULTI_CONN = 1 << 8;
    public static final int TX_SEND_CACHE = 1 << 10;
    public static final int TX_SEND_FAST_ZERO = 1 << 11;

    // --- command flags (u16)
    public static final int CMD_FLAG_FUA = 0x01;
    public static final int CMD_FLAG_NO_HOLE = 0x02;
    public static final int CMD_FLAG_DF = 0x04;
    public static final int CMD_FLAG_REQ_ONE = 0x08;
    public static final int CMD_FLAG_FAST_ZERO = 0x10;

    // --- structured reply chunks
    public static final int REPLY_FLAG_DONE = 1;
    public static final int CHUNK_NONE = 0;
    public static final int CHUNK_OFFSET_DATA = 1;
    public static final int CHUNK_OFFSET_HOLE = 2;
    public static final int CHUNK_BLOCK_STATUS = 5;
    /** Set in every error chunk type. */
    public static final int CHUNK_ERROR_BIT = 0x8000;
    public static final int CHUNK_ERROR = 0x8001;
    public static final int CHUNK_ERROR_OFFSET = 0x8002;

    // --- sizes
    public static final int REQUEST_HEADER_BYTES = 28;
    public static final int SIMPLE_REPLY_HEADER_BYTES = 16;
    public static final int STRUCTURED_REPLY_HEADER_BYTES = 20;
    /** Zero padding after the NBD_OPT_EXPORT_NAME reply unless both sides agreed on NO_ZEROES. */
    public static final int EXPORT_NAME_PADDING_BYTES = 124;
    /** The specification's limit for any string (export names, queries, messages). */
    public static final int MAX_STRING_BYTES = 4096;
    /** The largest READ/WRITE payload every implementation accepts (32 MiB) when none was negotiated. */
    public static final int MAX_PAYLOAD_BYTES = 32 << 20;

    /** The option's name for messages, e.g. "NBD_OPT_GO" or "option 124076833". */
    public static String optionName(int option) {
        return switch (option) {
            case OPT_EXPORT_NAME -> "NBD_OPT_EXPORT_NAME";
            case OPT_ABORT -> "NBD_OPT_ABORT";
            case OPT_LIST -> "NBD_OPT_LIST";
            case OPT_STARTTLS -> "NBD_OPT_STARTTLS";
            case OPT_INFO -> "NBD_OPT_INFO";
            case OPT_GO -> "NBD_OPT_GO";
            case OPT_STRUCTURED_REPLY -> "NBD_OPT_STRUCTURED_REPLY";
            case OPT_LIST_META_CONTEXT -> "NBD_OPT_LIST_META_CONTEXT";
            case OPT_SET_META_CONTEXT -> "NBD_OPT_SET_META_CONTEXT";
            case OPT_EXTENDED_HEADERS -> "NBD_OPT_EXTENDED_HEADERS";
            default -> "option " + Integer.toUnsignedString(option);
        };
    }

    /** The option reply type's name for messages, e.g. "NBD_REP_ERR_UNKNOWN". */
    public static String replyName(int reply) {
        return switch (reply) {
            case REP_ACK -> "NBD_REP_ACK";
            case REP_SERVER -> "NBD_REP_SERVER";
            case REP_INFO -> "NBD_REP_INFO";
            case REP_META_CONTEXT -> "NBD_REP_META_CONTEXT";
            case REP_ERR_UNSUP -> "NBD_REP_ERR_UNSUP";
            case REP_ERR_POLICY -> "NBD_REP_ERR_POLICY";
            case REP_ERR_INVALID -> "NBD_REP_ERR_INVALID";
            case REP_ERR_PLATFORM -> "NBD_REP_ERR_PLATFORM";
            case REP_ERR_TLS_REQD -> "NBD_REP_ERR_TLS_REQD";
            case REP_ERR_UNKNOWN -> "NBD_REP_ERR_UNKNOWN";
            case REP_ERR_SHUTDOWN -> "NBD_REP_ERR_SHUTDOWN";
            case REP_ERR_BLOCK_SIZE_REQD -> "NBD_REP_ERR_BLOCK_SIZE_REQD";
            case REP_ERR_TOO_BIG -> "NBD_REP_ERR_TOO_BIG";
            default -> String.format("reply type 0x%08x", reply);
        };
    }
}
