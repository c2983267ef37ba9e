package pcache.export.nbd.internal;

import static pcache.api.nbd.NbdWire.*;
import static pcache.export.nbd.internal.NbdProtocol.*;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;

import pcache.api.tls.TlsChannel;
import pcache.io.log.Log;

/**
 * The fixed-newstyle handshake and option haggling of one connection (design doc §2), run on
 * the connection's reader thread before transmission starts.
 *
 * <p>The server never hard-disconnects during haggling except where the protocol allows it:
 * unknown client flags, a bad option magic, an EXPORT_NAME it cannot satisfy, ABORT, or option
 * data larger than {@link #MAX_OPTION_DATA_BYTES} (treated as denial of service rather than
 * buffered).
 *
 * <p>TLS ({@link TlsPolicy}): with TLS off, STARTTLS is refused by policy. Offered or required,
 * STARTTLS is acknowledged and the TLS handshake runs over the connection; every later byte in
 * both directions goes through the {@link TlsChannel}. When TLS is required, every option before
 * it but STARTTLS and ABORT is refused with ERR_TLS_REQD, and EXPORT_NAME (which cannot be
 * refused) closes the connection, so no export is ever served in clear text. A client that sent
 * anything after STARTTLS before the server's reply is dropped: those bytes arrived in clear text
 * and would otherwise be taken as if they had come through TLS. Whatever was negotiated before TLS
 * (structured replies, meta contexts) is forgotten once it is up, for the same reason.
 */
final class Handshake {
    private static final System.Logger LOG = Log.of(Handshake.class);

    /** Largest option payload we read; real options are a few hundred bytes at most. */
    static final int MAX_OPTION_DATA_BYTES = 64 << 10;

    /** Why the handshake ended without a session. */
    static final class Ended extends Exception {
        private static final long serialVersionUID = 1L;
        final boolean clientFault;

        Ended(String message, boolean clientFault) {
            super(message, null, false, false);
            this.clientFault = clientFault;
        }
    }

    /** Switches the connection to TLS after STARTTLS was acknowledged. */
    @FunctionalInterface
    interface TlsUpgrade {
        /**
         * Runs the TLS handshake over the connection's transport.
         *
         * @return the channel that carries the connection from now on
         * @throws pcache.api.tls.TlsHandshakeException when the client is refused or refuses
         */
        TlsChannel start() throws IOException;
    }

    private final ChannelInput in;
    private WritableByteChannel out;
    private final ExportDirectory directory;
    private final Predicate<Export> attach;
    private final String peer;
    private final TlsPolicy tls;
    private final TlsUpgrade upgrade;

    /** The TLS channel once STARTTLS succeeded, else null. */
    private TlsChannel tlsChannel;
    /** Options refused for want of TLS; the first is logged as a warning, the rest at debug level. */
    private int tlsRefusals;

    private boolean noZeroes;
    private boolean structuredReplies;
    /** The export the last SET_META_CONTEXT selected contexts for, or null. */
    private Export metaContextExport;
    /** The contexts it selected. */
    private MetaContexts metaContexts = MetaContexts.NONE;

    /**
     * @param attach called with the chosen export just before transmission is confirmed to the
     *        client; false means the export went away (the option then fails)
     */
    Handshake(ChannelInput in, WritableByteChannel out, ExportDirectory directory,
              Predicate<Export> attach, String peer) {
        this(in, out, directory, attach, peer, TlsPolicy.off(), () -> {
            throw new IllegalStateException("TLS is off");
        });
    }

    /**
     * @param tls what the server does about TLS
     * @param upgrade runs the TLS handshake when the client asked for it and the server agreed
     */
    Handshake(ChannelInput in, WritableByteChannel out, ExportDirectory directory,
              Predicate<Export> attach, String peer, TlsPolicy tls, TlsUpgrade upgrade) {
        this.in = in;
        this.out = out;
        this.directory = directory;
        this.attach = attach;
        this.peer = peer;
        this.tls = tls;
        this.upgrade = upgrade;
    }

    /** The TLS channel the connection runs on after a successful STARTTLS, or null. */
    TlsChannel tlsChannel() {
        return tlsChannel;
    }

    /**
     * Transmission flags: everything a {@link pcache.api.BlockDevice} supports. CAN_MULTI_CONN
     * is truthful because every connection to an export is served by the same device object,
     * and BlockDevice.flush() makes durable every write acknowledged before it started, on any
     * connection, so a FLUSH on one connection covers writes answered on all others. SEND_DF
     * is only legal with structured replies; we always answer a READ in one chunk anyway.
     */
    static int transmissionFlags(boolean structuredReplies) {
        int flags = TX_HAS_FLAGS | TX_SEND_FLUSH | TX_SEND_FUA | TX_SEND_TRIM | TX_SEND_WRITE_ZEROES
                | TX_CAN_MULTI_CONN | TX_SEND_CACHE | TX_SEND_FAST_ZERO;
        return structuredReplies ? flags | TX_SEND_DF : flags;
    }

    /**
     * Runs the handshake until the client enters transmission.
     *
     * @return the negotiated session (the export is already attached)
     * @throws Ended when the client aborted or must be dropped
     * @throws IOException when the connection fails
     */
    Session negotiate() throws IOException, Ended {
        ByteBuffer greeting = ByteBuffer.allocate(18);
        greeting.putLong(INIT_PASSWD).putLong(OPTION_MAGIC)
                .putShort((short) (FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES));
        writeFully(greeting.flip());

        int clientFlags = in.readInt();
        if ((clientFlags & ~CLIENT_FLAGS_KNOWN) != 0) {
            throw new Ended("client flags 0x" + Integer.toHexString(clientFlags)
                    + " contain bits the server did not offer", true);
        }
        noZeroes = (clientFlags & CLIENT_FLAG_NO_ZEROES) != 0;

        while (true) {
            long magic = in.readLong();
            if (magic != OPTION_MAGIC) {
                throw new Ended("bad option magic 0x" + Long.toHexString(magic), true);
            }
            int option = in.readInt();
            long length = Integer.toUnsignedLong(in.readInt());
            if (length > MAX_OPTION_DATA_BYTES) {
                throw new Ended(optionName(option) + " announces " + length
                        + " bytes of data (limit " + MAX_OPTION_DATA_BYTES + ")", true);
            }
            byte[] data = in.readBytes((int) length);
            Session session = handleOption(option, data);
            if (session != null) {
                return session;
            }
        }
    }

    private Session handleOption(int option, byte[] data) throws IOException, Ended {
        if (option == OPT_ABORT) {
            try {
                sendReply(option, REP_ACK, new byte[0]);
            } catch (IOException e) {
                // the client may close without waiting for our ACK; that is allowed
            }
            throw new Ended("client sent ABORT", false);
        }
        if (directory.isShuttingDown()) {
            if (option == OPT_EXPORT_NAME) {
                throw new Ended("server is shutting down (EXPORT_NAME can only be refused by closing)", false);
            }
            sendError(option, REP_ERR_SHUTDOWN, "server is shutting down", Level.INFO);
            return null;
        }
        if (option == OPT_STARTTLS) {
            startTls(data);
            return null;
        }
        if (tls.required() && tlsChannel == null) {
            if (option == OPT_EXPORT_NAME) {
                throw new Ended("NBD_OPT_EXPORT_NAME in clear text, but this server requires TLS "
                        + "(nbd.tls=require; EXPORT_NAME can only be refused by closing)", true);
            }
            sendError(option, REP_ERR_TLS_REQD, "this server requires TLS: send NBD_OPT_STARTTLS first",
                    tlsRefusals++ == 0 ? Level.WARNING : Level.DEBUG);
            return null;
        }
        switch (option) {
            case OPT_EXPORT_NAME:
                return exportName(data);
            case OPT_LIST:
                list(data);
                return null;
            case OPT_INFO:
            case OPT_GO:
                return infoOrGo(option, data);
            case OPT_STRUCTURED_REPLY:
                structuredReply(data);
                return null;
            case OPT_LIST_META_CONTEXT:
            case OPT_SET_META_CONTEXT:
                metaContext(option, data);
                return null;
            case OPT_EXTENDED_HEADERS:
                sendError(option, REP_ERR_UNSUP, "extended headers are not supported", Level.DEBUG);
                return null;
            default:
                sendError(option, REP_ERR_UNSUP, optionName(option) + " is not supported", Level.DEBUG);
                return null;
        }
    }

    /**
     * NBD_OPT_STARTTLS: refused when TLS is off, with data, or a second time; otherwise ACK, then
     * the TLS handshake, then everything goes through the TLS channel.
     */
    private void startTls(byte[] data) throws IOException, Ended {
        if (!tls.offered()) {
            sendError(OPT_STARTTLS, REP_ERR_POLICY, "TLS is not offered by this server", Level.DEBUG);
            return;
        }
        if (data.length != 0) {
            sendError(OPT_STARTTLS, REP_ERR_INVALID, "NBD_OPT_STARTTLS carries no data", Level.WARNING);
            return;
        }
        if (tlsChannel != null) {
            sendError(OPT_STARTTLS, REP_ERR_INVALID, "TLS is already on", Level.WARNING);
            return;
        }
        int early = in.bufferedBytes();
        if (early > 0) {
            // the protocol forbids sending before the reply; these bytes came in clear text and
            // must not be read as if TLS had protected them
            throw new Ended("it sent " + early + " byte(s) after NBD_OPT_STARTTLS before the server's reply; "
                    + "dropping the connection (clear-text injection)", true);
        }
        sendReply(OPT_STARTTLS, REP_ACK, new byte[0]);
        TlsChannel channel = upgrade.start();
        tlsChannel = channel;
        in.switchTo(channel);
        out = channel;
        // negotiated in clear text, so possibly by someone in the middle: start afresh
        structuredReplies = false;
        metaContextExport = null;
        metaContexts = MetaContexts.NONE;
        LOG.log(Level.DEBUG, () -> "NBD client " + peer + ": TLS on (" + channel.protocol() + ", "
                + channel.cipherSuite() + ", peer " + channel.peerIdentity() + ")");
    }

    private Session exportName(byte[] data) throws IOException, Ended {
        if (data.length > MAX_STRING_BYTES) {
            throw new Ended("EXPORT_NAME with a " + data.length + "-byte name (limit "
                    + MAX_STRING_BYTES + ")", true);
        }
        String name = new String(data, StandardCharsets.UTF_8);
        Export export = directory.find(name);
        if (export == null || !attach.test(export)) {
            throw new Ended("EXPORT_NAME '" + printable(name) + "': no such export", true);
        }
        Session session = new Session(export, structuredReplies, metaContextsFor(export));
        ByteBuffer reply = ByteBuffer.allocate(10 + (noZeroes ? 0 : EXPORT_NAME_PADDING_BYTES));
        reply.putLong(export.device.sizeBytes()).putShort((short) session.transmissionFlags());
        reply.position(reply.limit()); // padding stays zero
        writeFully(reply.flip());
        return session;
    }

    private void list(byte[] data) throws IOException {
        if (data.length != 0) {
            sendError(OPT_LIST, REP_ERR_INVALID, "NBD_OPT_LIST carries no data", Level.WARNING);
            return;
        }
        for (Export export : directory.list()) {
            byte[] name = export.name.getBytes(StandardCharsets.UTF_8);
            byte[] description = ReplyEncoder.utf8Bounded(export.description, MAX_STRING_BYTES);
            ByteBuffer b = ByteBuffer.allocate(4 + name.length + description.length);
            b.putInt(name.length).put(name).put(description);
            sendReply(OPT_LIST, REP_SERVER, b.array());
        }
        sendReply(OPT_LIST, REP_ACK, new byte[0]);
    }

    private Session infoOrGo(int option, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(data);
        String what = optionName(option);
        if (data.length < 6) {
            sendError(option, REP_ERR_INVALID, what + " data too short", Level.WARNING);
            return null;
        }
        long nameLength = Integer.toUnsignedLong(b.getInt());
        if (nameLength > data.length - 6) {
            sendError(option, REP_ERR_INVALID, what + ": name length " + nameLength
                    + " exceeds the option data", Level.WARNING);
            return null;
        }
        if (nameLength > MAX_STRING_BYTES) {
            sendError(option, REP_ERR_INVALID, what + ": export name longer than "
                    + MAX_STRING_BYTES + " bytes", Level.WARNING);
            return null;
        }
        String name = utf8(b, (int) nameLength);
        int requestCount = Short.toUnsignedInt(b.getShort());
        if (b.remaining() != 2 * requestCount) {
            sendError(option, REP_ERR_INVALID, what + ": " + requestCount
                    + " information requests do not match the option length", Level.WARNING);
            return null;
        }
        Set<Integer> requested = new LinkedHashSet<>();
        for (int i = 0; i < requestCount; i++) {
            requested.add(Short.toUnsignedInt(b.getShort()));
        }
        Export export = directory.find(name);
        if (export == null) {
            sendError(option, REP_ERR_UNKNOWN, "no export named '" + printable(name) + "'", Level.WARNING);
            return null;
        }
        Session session = new Session(export, structuredReplies, metaContextsFor(export));
        if (option == OPT_GO && !attach.test(export)) {
            sendError(option, REP_ERR_UNKNOWN, "export '" + printable(name) + "' was just withdrawn", Level.WARNING);
            return null;
        }
        sendInfo(option, requested, export, session);
        sendReply(option, REP_ACK, new byte[0]);
        return option == OPT_GO ? session : null;
    }

    /**
     * The information items: EXPORT always (the spec requires it), BLOCK_SIZE always (a client
     * that asked must obey it, others may use it), NAME and DESCRIPTION when requested. The
     * answer depends only on the export and the negotiated state, so INFO then GO agree.
     */
    private void sendInfo(int option, Set<Integer> requested, Export export, Session session) throws IOException {
        if (requested.contains(INFO_NAME)) {
            byte[] name = export.name.getBytes(StandardCharsets.UTF_8);
            sendReply(option, REP_INFO, ByteBuffer.allocate(2 + name.length)
                    .putShort((short) INFO_NAME).put(name).array());
        }
        if (requested.contains(INFO_DESCRIPTION)) {
            byte[] text = ReplyEncoder.utf8Bounded(export.description, MAX_STRING_BYTES);
            sendReply(option, REP_INFO, ByteBuffer.allocate(2 + text.length)
                    .putShort((short) INFO_DESCRIPTION).put(text).array());
        }
        sendReply(option, REP_INFO, ByteBuffer.allocate(14).putShort((short) INFO_BLOCK_SIZE)
                .putInt(export.device.logicalBlockSize())
                .putInt(Math.max(PREFERRED_BLOCK_BYTES, export.device.logicalBlockSize()))
                .putInt(MAX_PAYLOAD_BYTES).array());
        sendReply(option, REP_INFO, ByteBuffer.allocate(12).putShort((short) INFO_EXPORT)
                .putLong(export.device.sizeBytes()).putShort((short) session.transmissionFlags()).array());
    }

    private void structuredReply(byte[] data) throws IOException {
        if (data.length != 0) {
            sendError(OPT_STRUCTURED_REPLY, REP_ERR_INVALID, "NBD_OPT_STRUCTURED_REPLY carries no data", Level.WARNING);
        } else if (structuredReplies) {
            sendError(OPT_STRUCTURED_REPLY, REP_ERR_INVALID, "structured replies are already on", Level.WARNING);
        } else {
            structuredReplies = true;
            sendReply(OPT_STRUCTURED_REPLY, REP_ACK, new byte[0]);
        }
    }

    /**
     * LIST_META_CONTEXT and SET_META_CONTEXT for the contexts we offer ({@link MetaContexts}):
     * {@code base:allocation}, and {@code pcache:dirty} on caches. A namespace alone
     * ({@code "base:"}, {@code "pcache:"}) is a wildcard for LIST and ignored by SET; unknown
     * queries are ignored. SET replaces the previous selection even when it fails.
     */
    private void metaContext(int option, byte[] data) throws IOException {
        boolean set = option == OPT_SET_META_CONTEXT;
        String what = optionName(option);
        if (set) {
            metaContextExport = null;
            metaContexts = MetaContexts.NONE;
            if (!structuredReplies) {
                sendError(option, REP_ERR_INVALID, what
                        + " before NBD_OPT_STRUCTURED_REPLY", Level.WARNING);
                return;
            }
        }
        ByteBuffer b = ByteBuffer.wrap(data);
        String name;
        List<String> queries = new ArrayList<>();
        try {
            long nameLength = Integer.toUnsignedLong(b.getInt());
            if (nameLength > MAX_STRING_BYTES || nameLength > b.remaining()) {
                throw new BufferUnderflowException();
            }
            name = utf8(b, (int) nameLength);
            long count = Integer.toUnsignedLong(b.getInt());
            for (long i = 0; i < count; i++) {
                long queryLength = Integer.toUnsignedLong(b.getInt());
                if (queryLength > MAX_STRING_BYTES || queryLength > b.remaining()) {
                    throw new BufferUnderflowException();
                }
                queries.add(utf8(b, (int) queryLength));
            }
            if (b.hasRemaining()) {
                throw new BufferUnderflowException();
            }
        } catch (BufferUnderflowException e) {
            sendError(option, REP_ERR_INVALID, what + ": malformed or oversized data", Level.WARNING);
            return;
        }
        Export export = directory.find(name);
        if (export == null) {
            sendError(option, REP_ERR_UNKNOWN, "no export named '" + printable(name) + "'", Level.WARNING);
            return;
        }
        List<MetaContexts.Context> matched = MetaContexts.matching(export, queries, set);
        for (MetaContexts.Context c : matched) {
            byte[] context = c.name().getBytes(StandardCharsets.US_ASCII);
            sendReply(option, REP_META_CONTEXT, ByteBuffer.allocate(4 + context.length)
                    .putInt(set ? c.id() : 0).put(context).array());
        }
        if (set && !matched.isEmpty()) {
            metaContextExport = export;
            metaContexts = MetaContexts.of(matched);
        }
        sendReply(option, REP_ACK, new byte[0]);
    }

    /** The contexts selected for {@code export} (none if the last SET named another export). */
    private MetaContexts metaContextsFor(Export export) {
        return metaContextExport == export ? metaContexts : MetaContexts.NONE;
    }

    private static String utf8(ByteBuffer b, int length) {
        byte[] bytes = new byte[length];
        b.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private void sendError(int option, int type, String message, Level level) throws IOException {
        LOG.log(level, () -> "NBD client " + peer + ": " + optionName(option) + " refused (0x"
                + Integer.toHexString(type) + "): " + message);
        sendReply(option, type, ReplyEncoder.utf8Bounded(message, MAX_STRING_BYTES));
    }

    private void sendReply(int option, int type, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(20 + data.length);
        b.putLong(OPTION_REPLY_MAGIC).putInt(option).putInt(type).putInt(data.length).put(data);
        writeFully(b.flip());
    }

    private void writeFully(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            out.write(b);
        }
    }
}
