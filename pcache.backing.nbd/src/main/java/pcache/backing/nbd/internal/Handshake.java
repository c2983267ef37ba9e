package pcache.backing.nbd.internal;

import static pcache.api.nbd.NbdWire.*;

import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

import pcache.backing.nbd.internal.NbdConnectException.Reason;
import pcache.io.Printable;

/**
 * The client side of the fixed-newstyle handshake (design doc §2, profile §7.2): client flags
 * FIXED_NEWSTYLE|NO_ZEROES as far as the server offered them, NBD_OPT_STRUCTURED_REPLY (an error
 * reply just means simple replies), NBD_OPT_GO asking for NBD_INFO_BLOCK_SIZE, and
 * NBD_OPT_EXPORT_NAME when the server does not know GO or is not fixed-newstyle.
 *
 * <p>With TLS, NBD_OPT_STARTTLS comes first, before any other option; once the server
 * acknowledged it, the TLS handshake runs and every later option travels encrypted. A server
 * that refuses STARTTLS, or cannot be asked (oldstyle, not fixed-newstyle), is refused: the
 * client never continues in clear text.
 */
final class Handshake {

    /** Runs the TLS handshake once the server acknowledged NBD_OPT_STARTTLS. */
    interface StartTls {
        /** Returns the input and output that carry the rest of the connection, encrypted. */
        Wire upgrade() throws IOException;
    }

    /** The buffered input and output of a connection. */
    record Wire(WireInput in, WireOutput out) {
    }

    /** Longest option reply we accept; real ones are a few hundred bytes at most. */
    private static final int MAX_OPTION_REPLY_BYTES = 64 * 1024;
    /** The metadata context block status asks (design doc §2.3). */
    static final String META_BASE_ALLOCATION = "base:allocation";
    /** Largest minimum block size the spec allows. */
    private static final int MAX_MINIMUM_BLOCK = 64 * 1024;

    private WireInput in;
    private WireOutput out;
    private final String server;
    private final String exportName;
    private final StartTls startTls;
    /** TLS is up and the server has not answered anything over it yet. */
    private boolean awaitingFirstTlsReply;

    private Handshake(WireInput in, WireOutput out, String server, String exportName,
            StartTls startTls) {
        this.in = in;
        this.out = out;
        this.server = server;
        this.exportName = exportName;
        this.startTls = startTls;
    }

    /**
     * Negotiates {@code exportName}; on return the connection is in the transmission phase.
     *
     * @param server the server's URI, for messages
     * @throws NbdConnectException for every way the server can refuse or misbehave
     */
    static ExportInfo negotiate(WireInput in, WireOutput out, String server, String exportName)
            throws IOException {
        return negotiate(in, out, server, exportName, null);
    }

    /**
     * Negotiates {@code exportName}, with TLS if {@code startTls} is not null; on return the
     * connection is in the transmission phase on the streams {@code startTls} returned.
     *
     * @throws NbdConnectException also when the server does not offer TLS
     */
    static ExportInfo negotiate(WireInput in, WireOutput out, String server, String exportName,
            StartTls startTls) throws IOException {
        return new Handshake(in, out, server, exportName, startTls).run();
    }

    private ExportInfo run() throws IOException {
        long magic = readGreeting();
        if (magic != INIT_PASSWD) {
            throw new NbdConnectException(Reason.NOT_NBD, server + " is not an NBD server: it sent "
                    + describeBytes(magic) + " where NBD servers send \"NBDMAGIC\"");
        }
        long style = in.readLong();
        if (style == CLISERV_MAGIC && startTls != null) {
            throw noTls("uses the oldstyle NBD handshake, which has no STARTTLS");
        }
        if (style == CLISERV_MAGIC) {
            throw new NbdConnectException(Reason.PROTOCOL, server + " uses the oldstyle NBD "
                    + "handshake, which this client does not support; run the server in newstyle mode");
        }
        if (style != OPTION_MAGIC) {
            throw new NbdConnectException(Reason.NOT_NBD, server + " is not an NBD server: after "
                    + "NBDMAGIC it sent " + describeBytes(style) + " instead of \"OPTION_MAGIC\"");
        }
        int handshakeFlags = in.readUnsignedShort();
        int clientFlags = handshakeFlags & (FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES);
        out.putInt(clientFlags).flush();
        boolean noZeroes = (clientFlags & FLAG_NO_ZEROES) != 0;
        if (startTls != null) {
            startTls(clientFlags);
        }
        if ((clientFlags & FLAG_FIXED_NEWSTYLE) == 0) {
            // plain newstyle servers only understand EXPORT_NAME
            return exportName(false, noZeroes);
        }
        boolean structured = structuredReply();
        long allocationContext = structured ? baseAllocationContext() : ExportInfo.NO_CONTEXT;
        ExportInfo info = go(structured);
        return (info != null ? info : exportName(structured, noZeroes))
                .withBaseAllocationContext(allocationContext);
    }

    private long readGreeting() throws IOException {
        try {
            return in.readLong();
        } catch (EOFException e) {
            throw new NbdConnectException(Reason.REFUSED, server + " closed the connection before "
                    + "sending the NBD greeting (server full, or access refused)", e);
        }
    }

    /**
     * NBD_OPT_STARTTLS, then the TLS handshake; from then on {@code in} and {@code out} are
     * encrypted.
     */
    private void startTls(int clientFlags) throws IOException {
        if ((clientFlags & FLAG_FIXED_NEWSTYLE) == 0) {
            throw noTls("is not a fixed-newstyle server, so it cannot be asked for STARTTLS");
        }
        sendOption(OPT_STARTTLS, new byte[0]);
        OptionReply reply = readReply(OPT_STARTTLS);
        if (reply.type != REP_ACK) {
            throw noTls("answered " + optionName(OPT_STARTTLS) + " with " + replyName(reply.type)
                    + message(reply));
        }
        if (in.buffered() > 0) {
            // the TLS handshake starts with the client's hello: nothing may come before it
            throw protocol("sent " + in.buffered() + " bytes after acknowledging "
                    + optionName(OPT_STARTTLS));
        }
        Wire encrypted = startTls.upgrade();
        in = encrypted.in();
        out = encrypted.out();
        awaitingFirstTlsReply = true;
    }

    /**
     * The connection ended (EOF, reset, alert) right after the TLS handshake. With TLS 1.3 the
     * client's handshake ends before the server has checked the client's certificate, so that
     * is how a server refuses a missing or untrusted one.
     */
    private NbdConnectException refusedAfterTls(int option, IOException e) {
        // one message whether EOF, reset or alert: a refusal that repeats is logged once
        return new NbdConnectException(Reason.TLS_FAILED, server + " closed the connection right "
                + "after the TLS handshake, before answering " + optionName(option) + ": it did "
                + "not accept this client's TLS credentials (with TLS 1.3 a missing or untrusted "
                + "client certificate is refused only then)", e);
    }

    private NbdConnectException noTls(String why) {
        return new NbdConnectException(Reason.TLS_UNAVAILABLE, server + " does not offer TLS but "
                + "the URI is nbds://: refusing to send data in clear text (the server " + why
                + "); enable TLS on the server, e.g. nbdkit --tls=require, qemu-nbd --tls-creds");
    }

    private boolean structuredReply() throws IOException {
        sendOption(OPT_STRUCTURED_REPLY, new byte[0]);
        OptionReply reply = readReply(OPT_STRUCTURED_REPLY);
        if (reply.type == REP_ACK) {
            return true;
        }
        if (reply.isError()) {
            failIfFatal(reply, OPT_STRUCTURED_REPLY);
            return false; // e.g. ERR_UNSUP (nbd-server 3.24): simple replies only
        }
        throw protocol("answered " + optionName(OPT_STRUCTURED_REPLY) + " with "
                + replyName(reply.type));
    }

    /**
     * NBD_OPT_SET_META_CONTEXT for {@code base:allocation} (design doc §2.3): the id the server
     * gives it, or {@link ExportInfo#NO_CONTEXT} when it refuses or does not offer it (block
     * status then reports all data).
     */
    private long baseAllocationContext() throws IOException {
        byte[] name = exportName.getBytes(StandardCharsets.UTF_8);
        byte[] query = META_BASE_ALLOCATION.getBytes(StandardCharsets.US_ASCII);
        byte[] data = new byte[4 + name.length + 4 + 4 + query.length];
        putInt(data, 0, name.length);
        System.arraycopy(name, 0, data, 4, name.length);
        putInt(data, 4 + name.length, 1);
        putInt(data, 8 + name.length, query.length);
        System.arraycopy(query, 0, data, 12 + name.length, query.length);
        sendOption(OPT_SET_META_CONTEXT, data);
        long id = ExportInfo.NO_CONTEXT;
        while (true) {
            OptionReply reply = readReply(OPT_SET_META_CONTEXT);
            if (reply.type == REP_ACK) {
                return id;
            }
            if (reply.isError()) {
                failIfFatal(reply, OPT_SET_META_CONTEXT);
                return ExportInfo.NO_CONTEXT;
            }
            if (reply.type == REP_META_CONTEXT && reply.data.length == 4 + query.length
                    && META_BASE_ALLOCATION.equals(
                            new String(reply.data, 4, query.length, StandardCharsets.US_ASCII))) {
                id = Integer.toUnsignedLong(getInt(reply.data, 0));
            }
        }
    }

    /** Returns null when the server does not know NBD_OPT_GO. */
    private ExportInfo go(boolean structured) throws IOException {
        byte[] name = exportName.getBytes(StandardCharsets.UTF_8);
        byte[] data = new byte[4 + name.length + 2 + 2];
        putInt(data, 0, name.length);
        System.arraycopy(name, 0, data, 4, name.length);
        putShort(data, 4 + name.length, 1);
        putShort(data, 6 + name.length, INFO_BLOCK_SIZE);
        sendOption(OPT_GO, data);

        long size = -1;
        int flags = 0;
        boolean blockSize = false;
        int minimum = 1;
        int preferred = 4096;
        long maximum = MAX_PAYLOAD_BYTES;
        while (true) {
            OptionReply reply = readReply(OPT_GO);
            if (reply.type == REP_ACK) {
                break;
            }
            if (reply.type == REP_ERR_UNSUP) {
                return null;
            }
            if (reply.isError()) {
                failIfFatal(reply, OPT_GO);
                throw refused(reply, OPT_GO);
            }
            if (reply.type != REP_INFO || reply.data.length < 2) {
                continue; // replies and info items we do not know are ignored (§2.2)
            }
            int infoType = getShort(reply.data, 0);
            if (infoType == INFO_EXPORT) {
                if (reply.data.length != 12) {
                    throw protocol("sent NBD_INFO_EXPORT of " + reply.data.length + " bytes, not 12");
                }
                size = getLong(reply.data, 2);
                flags = getShort(reply.data, 10);
                if (size < 0) {
                    throw protocol("reported an export size of " + Long.toUnsignedString(size)
                            + " bytes, more than this client can address");
                }
            } else if (infoType == INFO_BLOCK_SIZE) {
                if (reply.data.length != 14) {
                    throw protocol("sent NBD_INFO_BLOCK_SIZE of " + reply.data.length
                            + " bytes, not 14");
                }
                minimum = getInt(reply.data, 2);
                preferred = getInt(reply.data, 6);
                maximum = Integer.toUnsignedLong(getInt(reply.data, 10));
                blockSize = true;
            }
        }
        if (size < 0) {
            throw protocol("acknowledged " + optionName(OPT_GO) + " without NBD_INFO_EXPORT");
        }
        if (blockSize) {
            checkBlockSizes(minimum, preferred, maximum);
        }
        return new ExportInfo(size, flags, structured, minimum, preferred, maximum, blockSize, true);
    }

    private void checkBlockSizes(int minimum, int preferred, long maximum) throws IOException {
        if (minimum <= 0 || Integer.bitCount(minimum) != 1 || minimum > MAX_MINIMUM_BLOCK) {
            throw protocol("advertised a minimum block size of " + Integer.toUnsignedString(minimum)
                    + " (must be a power of two up to " + MAX_MINIMUM_BLOCK + ")");
        }
        if (maximum < minimum || maximum < Math.max(512, minimum)) {
            throw protocol("advertised a maximum payload of " + maximum + " bytes, below its "
                    + "minimum block size " + minimum + " or 512 bytes");
        }
        // the preferred size is only a hint; an odd value does not stop us
    }

    private ExportInfo exportName(boolean structured, boolean noZeroes) throws IOException {
        sendOption(OPT_EXPORT_NAME, exportName.getBytes(StandardCharsets.UTF_8));
        long size;
        int flags;
        try {
            size = in.readLong();
            flags = in.readUnsignedShort();
            if (!noZeroes) {
                in.skip(EXPORT_NAME_PADDING_BYTES);
            }
        } catch (EOFException e) {
            throw new NbdConnectException(Reason.UNKNOWN_EXPORT, server + " closed the connection "
                    + "after " + optionName(OPT_EXPORT_NAME) + " '" + exportName
                    + "': it has no such export or refused access", e);
        }
        if (size < 0) {
            throw protocol("reported an export size of " + Long.toUnsignedString(size)
                    + " bytes, more than this client can address");
        }
        return new ExportInfo(size, flags, structured, 1, 4096, MAX_PAYLOAD_BYTES, false, false);
    }

    private void failIfFatal(OptionReply reply, int option) throws NbdConnectException {
        if (reply.type == REP_ERR_TLS_REQD) {
            throw new NbdConnectException(Reason.TLS_REQUIRED, server + " requires TLS ("
                    + replyName(reply.type) + " to " + optionName(option) + message(reply)
                    + "); connect with nbds:// and the server's credentials: "
                    + NbdTlsOptions.NEEDS);
        }
        if (reply.type == REP_ERR_UNKNOWN) {
            throw new NbdConnectException(Reason.UNKNOWN_EXPORT, server + " has no export named '"
                    + exportName + "' (" + replyName(reply.type) + message(reply)
                    + "); list its exports with: nbdinfo --list " + server);
        }
        if (reply.type == REP_ERR_SHUTDOWN) {
            throw new NbdConnectException(Reason.REFUSED, server + " is shutting down ("
                    + replyName(reply.type) + " to " + optionName(option) + message(reply) + ")");
        }
    }

    private NbdConnectException refused(OptionReply reply, int option) {
        return new NbdConnectException(Reason.REFUSED, server + " refused " + optionName(option)
                + " for export '" + exportName + "' with " + replyName(reply.type) + message(reply));
    }

    private NbdConnectException protocol(String what) {
        return new NbdConnectException(Reason.PROTOCOL, server + " broke the NBD handshake: it "
                + what);
    }

    private static String message(OptionReply reply) {
        if (reply.data.length == 0) {
            return "";
        }
        // the server's own words: shown escaped and cut short, never as lines of their own
        return ": " + Printable.of(new String(reply.data, StandardCharsets.UTF_8));
    }

    private void sendOption(int option, byte[] data) throws IOException {
        try {
            out.putLong(OPTION_MAGIC).putInt(option).putInt(data.length).put(data, 0, data.length)
                    .flush();
        } catch (IOException e) {
            throw awaitingFirstTlsReply ? refusedAfterTls(option, e) : e;
        }
    }

    private OptionReply readReply(int option) throws IOException {
        long magic;
        try {
            magic = in.readLong();
        } catch (EOFException e) {
            if (awaitingFirstTlsReply) {
                throw refusedAfterTls(option, e);
            }
            throw new NbdConnectException(Reason.REFUSED, server + " closed the connection instead "
                    + "of answering " + optionName(option), e);
        } catch (IOException e) {
            throw awaitingFirstTlsReply && !(e instanceof NbdConnectException)
                    ? refusedAfterTls(option, e) : e;
        }
        awaitingFirstTlsReply = false;
        if (magic != OPTION_REPLY_MAGIC) {
            throw protocol("answered " + optionName(option) + " with " + describeBytes(magic)
                    + " instead of the option reply magic");
        }
        int echoed = in.readInt();
        int type = in.readInt();
        long length = in.readUnsignedInt();
        if (echoed != option) {
            throw protocol("answered " + optionName(option) + " with a reply for "
                    + optionName(echoed));
        }
        if (length > MAX_OPTION_REPLY_BYTES) {
            throw protocol("sent an option reply of " + length + " bytes");
        }
        return new OptionReply(type, in.readBytes((int) length));
    }

    /** One option reply: its type and data. */
    private record OptionReply(int type, byte[] data) {
        boolean isError() {
            return (type & REP_ERR_BIT) != 0;
        }
    }

    private static String describeBytes(long value) {
        StringBuilder text = new StringBuilder(String.format("0x%016x", value));
        text.append(" (\"");
        for (int shift = 56; shift >= 0; shift -= 8) {
            int b = (int) (value >>> shift) & 0xff;
            text.append(b >= 0x20 && b < 0x7f ? (char) b : '.');
        }
        return text.append("\")").toString();
    }

    private static void putInt(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 24);
        b[at + 1] = (byte) (v >>> 16);
        b[at + 2] = (byte) (v >>> 8);
        b[at + 3] = (byte) v;
    }

    private static void putShort(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 8);
        b[at + 1] = (byte) v;
    }

    private static int getShort(byte[] b, int at) {
        return ((b[at] & 0xff) << 8) | (b[at + 1] & 0xff);
    }

    private static int getInt(byte[] b, int at) {
        return (getShort(b, at) << 16) | getShort(b, at + 2);
    }

    private static long getLong(byte[] b, int at) {
        return ((long) getInt(b, at) << 32) | (getInt(b, at + 4) & 0xffffffffL);
    }
}
