package pcache.backing.nbd.internal;

/**
 * Wire constants of the NBD protocol, client side (design doc {@code nbd-protocol.md} §1–3).
 * All integers on the wire are big-endian.
 */
final class NbdProtocol {

    private NbdProtocol() {
    }

    /** IANA port of NBD. */
    static final int DEFAULT_PORT = 10809;

    // §1 magic numbers
    static final long INIT_PASSWD = 0x4e42444d41474943L; // "NBDMAGIC"
    static final long IHAVEOPT = 0x49484156454F5054L;
    static final long CLISERV_MAGIC = 0x00420281861253L; // oldstyle handshake
    static final long OPTION_REPLY_MAGIC = 0x0003e889045565a9L;
    static final int REQUEST_MAGIC = 0x25609513;
    static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;

    // §2 handshake flags (server) and client flags
    static final int FLAG_FIXED_NEWSTYLE = 1;
    static final int FLAG_NO_ZEROES = 2;

    // §2.1 options
    static final int OPT_EXPORT_NAME = 1;
    static final int OPT_ABORT = 2;
    static final int OPT_GO = 7;
    static final int OPT_STRUCTURED_REPLY = 8;

    // option reply types
    static final int REP_ACK = 1;
    static final int REP_INFO = 3;
    static final int REP_ERR_BIT = 0x8000_0000;
    static final int REP_ERR_UNSUP = REP_ERR_BIT | 1;
    static final int REP_ERR_POLICY = REP_ERR_BIT | 2;
    static final int REP_ERR_INVALID = REP_ERR_BIT | 3;
    static final int REP_ERR_PLATFORM = REP_ERR_BIT | 4;
    static final int REP_ERR_TLS_REQD = REP_ERR_BIT | 5;
    static final int REP_ERR_UNKNOWN = REP_ERR_BIT | 6;
    static final int REP_ERR_SHUTDOWN = REP_ERR_BIT | 7;
    static final int REP_ERR_BLOCK_SIZE_REQD = REP_ERR_BIT | 8;
    static final int REP_ERR_TOO_BIG = REP_ERR_BIT | 9;

    // §2.2 info types
    static final int INFO_EXPORT = 0;
    static final int INFO_BLOCK_SIZE = 3;

    /** Size of the zero padding after an EXPORT_NAME reply unless NO_ZEROES was agreed. */
    static final int EXPORT_NAME_PADDING = 124;

    /** Longest string the spec allows in the handshake (export names, messages). */
    static final int MAX_STRING_BYTES = 4096;

    // §3.1 transmission flags
    static final int TF_HAS_FLAGS = 1;
    static final int TF_READ_ONLY = 1 << 1;
    static final int TF_SEND_FLUSH = 1 << 2;
    static final int TF_SEND_FUA = 1 << 3;
    static final int TF_ROTATIONAL = 1 << 4;
    static final int TF_SEND_TRIM = 1 << 5;
    static final int TF_SEND_WRITE_ZEROES = 1 << 6;
    static final int TF_CAN_MULTI_CONN = 1 << 8;

    // §3.2 command flags
    static final int CMD_FLAG_FUA = 1;

    // §3.4 structured reply
    static final int REPLY_FLAG_DONE = 1;
    static final int CHUNK_NONE = 0;
    static final int CHUNK_OFFSET_DATA = 1;
    static final int CHUNK_OFFSET_HOLE = 2;
    static final int CHUNK_ERROR_BIT = 0x8000;
    static final int CHUNK_ERROR = 0x8001;
    static final int CHUNK_ERROR_OFFSET = 0x8002;

    /** Size of the request header (§3.2). */
    static final int REQUEST_HEADER_BYTES = 28;

    /** Maximum READ/WRITE payload when the server does not advertise one (§5). */
    static final int DEFAULT_MAX_PAYLOAD = 32 * 1024 * 1024;

    /** Name of an option for messages. */
    static String optionName(int option) {
        return switch (option) {
            case OPT_EXPORT_NAME -> "NBD_OPT_EXPORT_NAME";
            case OPT_ABORT -> "NBD_OPT_ABORT";
            case OPT_GO -> "NBD_OPT_GO";
            case OPT_STRUCTURED_REPLY -> "NBD_OPT_STRUCTURED_REPLY";
            default -> "option " + option;
        };
    }

    /** Name of an option reply type for messages. */
    static String replyName(int reply) {
        return switch (reply) {
            case REP_ACK -> "NBD_REP_ACK";
            case REP_INFO -> "NBD_REP_INFO";
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
