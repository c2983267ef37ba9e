package pcache.export.nbd.internal;

import static pcache.api.nbd.NbdWire.*;
import static pcache.export.nbd.internal.NbdProtocol.*;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import pcache.api.nbd.NbdWire;

/**
 * A deliberately minimal NBD client for tests: it sends exactly the bytes a test asks for (also
 * broken ones) and decodes replies without judging them. TCP only, every read bounded by a
 * socket timeout.
 */
final class RawNbdClient implements Closeable {
    static final int READ_TIMEOUT_MILLIS = 10_000;

    /** One option reply. */
    record OptionReply(int option, int type, byte[] data) {
        boolean isError() {
            return type < 0;
        }

        boolean isFinal() {
            return type == REP_ACK || isError();
        }
    }

    /** One reply to a transmission request: simple (type -1) or one structured chunk. */
    record Reply(boolean structured, int flags, int type, long cookie, int error, byte[] payload) {
        boolean done() {
            return !structured || (flags & REPLY_FLAG_DONE) != 0;
        }
    }

    private final Closeable socket;
    private final DataInputStream in;
    private final DataOutputStream out;

    private RawNbdClient(Socket socket) throws IOException {
        this.socket = socket;
        socket.setSoTimeout(READ_TIMEOUT_MILLIS);
        socket.setTcpNoDelay(true);
        this.in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
        this.out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream()));
    }

    /** Over a unix socket: no read timeout here, so tests using it carry a JUnit timeout. */
    private RawNbdClient(SocketChannel channel) {
        this(channel, channel);
    }

    /**
     * Over any channel (a TLS channel after STARTTLS), closing {@code socket} when closed; no read
     * timeout here, so tests using it carry a JUnit timeout.
     */
    RawNbdClient(ByteChannel channel, Closeable socket) {
        this.socket = socket;
        this.in = new DataInputStream(new BufferedInputStream(Channels.newInputStream(channel)));
        this.out = new DataOutputStream(new BufferedOutputStream(Channels.newOutputStream(channel)));
    }

    static RawNbdClient connect(SocketAddress address) throws IOException {
        if (address instanceof InetSocketAddress) {
            InetSocketAddress inet = (InetSocketAddress) address;
            return new RawNbdClient(new Socket(inet.getAddress(), inet.getPort()));
        }
        return new RawNbdClient(SocketChannel.open(address));
    }

    /** Reads the server greeting and returns its handshake flags. */
    int readGreeting() throws IOException {
        if (in.readLong() != INIT_PASSWD || in.readLong() != OPTION_MAGIC) {
            throw new IOException("bad server greeting");
        }
        return in.readUnsignedShort();
    }

    void sendClientFlags(int flags) throws IOException {
        out.writeInt(flags);
        out.flush();
    }

    /** Greeting plus client flags FIXED_NEWSTYLE|NO_ZEROES. */
    RawNbdClient handshakeStart() throws IOException {
        readGreeting();
        sendClientFlags(CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES);
        return this;
    }

    void sendOption(int option, byte[] data) throws IOException {
        sendOptionHeader(OPTION_MAGIC, option, data.length);
        out.write(data);
        out.flush();
    }

    void sendOptionHeader(long magic, int option, long length) throws IOException {
        out.writeLong(magic);
        out.writeInt(option);
        out.writeInt((int) length);
        out.flush();
    }

    OptionReply readOptionReply() throws IOException {
        long magic = in.readLong();
        if (magic != OPTION_REPLY_MAGIC) {
            throw new IOException("bad option reply magic 0x" + Long.toHexString(magic));
        }
        int option = in.readInt();
        int type = in.readInt();
        byte[] data = new byte[in.readInt()];
        in.readFully(data);
        return new OptionReply(option, type, data);
    }

    /** Reads replies up to and including the final one (ACK or an error). */
    List<OptionReply> readOptionReplies() throws IOException {
        List<OptionReply> replies = new ArrayList<>();
        OptionReply r;
        do {
            r = readOptionReply();
            replies.add(r);
        } while (!r.isFinal());
        return replies;
    }

    static byte[] infoData(String name, int... infos) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(4 + n.length + 2 + 2 * infos.length);
        b.putInt(n.length).put(n).putShort((short) infos.length);
        for (int i : infos) {
            b.putShort((short) i);
        }
        return b.array();
    }

    static byte[] metaContextData(String name, String... queries) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        int length = 4 + n.length + 4;
        for (String q : queries) {
            length += 4 + q.getBytes(StandardCharsets.UTF_8).length;
        }
        ByteBuffer b = ByteBuffer.allocate(length);
        b.putInt(n.length).put(n).putInt(queries.length);
        for (String q : queries) {
            byte[] qb = q.getBytes(StandardCharsets.UTF_8);
            b.putInt(qb.length).put(qb);
        }
        return b.array();
    }

    /** Optionally STRUCTURED_REPLY, then GO; returns the transmission flags. */
    int go(String export, boolean structured) throws IOException {
        if (structured) {
            sendOption(OPT_STRUCTURED_REPLY, new byte[0]);
            OptionReply ack = readOptionReply();
            if (ack.type() != REP_ACK) {
                throw new IOException("STRUCTURED_REPLY refused: " + ack.type());
            }
        }
        sendOption(OPT_GO, infoData(export, INFO_BLOCK_SIZE));
        int flags = -1;
        for (OptionReply r : readOptionReplies()) {
            if (r.isError()) {
                throw new IOException("GO refused: 0x" + Integer.toHexString(r.type()));
            }
            if (r.type() == REP_INFO && ByteBuffer.wrap(r.data()).getShort() == INFO_EXPORT) {
                flags = ByteBuffer.wrap(r.data(), 10, 2).getShort() & 0xffff;
            }
        }
        return flags;
    }

    /**
     * As {@link #open(SocketAddress, String, boolean)} over TCP, with the socket's receive buffer
     * set before connecting (which bounds the window the server can fill while the client does not
     * read).
     */
    static RawNbdClient open(InetSocketAddress address, String export, boolean structured, int receiveBuffer)
            throws IOException {
        Socket socket = new Socket();
        socket.setReceiveBufferSize(receiveBuffer);
        socket.connect(address);
        return negotiate(new RawNbdClient(socket), export, structured);
    }

    /** Connects, negotiates and returns a client in transmission. */
    static RawNbdClient open(SocketAddress address, String export, boolean structured) throws IOException {
        return negotiate(connect(address), export, structured);
    }

    /** Takes {@code c} into transmission on {@code export}; closes it when that fails. */
    private static RawNbdClient negotiate(RawNbdClient c, String export, boolean structured) throws IOException {
        try {
            c.handshakeStart().go(export, structured);
            return c;
        } catch (IOException | RuntimeException e) {
            c.close();
            throw e;
        }
    }

    void request(int flags, int type, long cookie, long offset, long length, byte[] payload) throws IOException {
        requestHeader(REQUEST_MAGIC, flags, type, cookie, offset, length);
        if (payload != null) {
            out.write(payload);
        }
        out.flush();
    }

    void requestHeader(int magic, int flags, int type, long cookie, long offset, long length) throws IOException {
        out.writeInt(magic);
        out.writeShort(flags);
        out.writeShort(type);
        out.writeLong(cookie);
        out.writeLong(offset);
        out.writeInt((int) length);
    }

    void readInto(byte[] bytes) throws IOException {
        in.readFully(bytes);
    }

    void writeRaw(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /**
     * Reads one reply or chunk; a successful simple reply is assumed to carry
     * {@code simpleReadLength} bytes (pass 0 for anything but a READ).
     */
    Reply readReply(int simpleReadLength) throws IOException {
        int magic = in.readInt();
        if (magic == SIMPLE_REPLY_MAGIC) {
            int error = in.readInt();
            long cookie = in.readLong();
            byte[] data = new byte[error == 0 ? simpleReadLength : 0];
            in.readFully(data);
            return new Reply(false, 0, -1, cookie, error, data);
        }
        if (magic == STRUCTURED_REPLY_MAGIC) {
            int flags = in.readUnsignedShort();
            int type = in.readUnsignedShort();
            long cookie = in.readLong();
            byte[] payload = new byte[in.readInt()];
            in.readFully(payload);
            int error = (type & 0x8000) != 0 ? ByteBuffer.wrap(payload).getInt() : 0;
            return new Reply(true, flags, type, cookie, error, payload);
        }
        throw new IOException("bad reply magic 0x" + Integer.toHexString(magic));
    }

    /** Error of a reply to a request without read data (simple or structured). */
    int errorOf(long cookie) throws IOException {
        Reply r = readReply(0);
        if (r.cookie() != cookie) {
            throw new IOException("reply for cookie " + r.cookie() + ", expected " + cookie);
        }
        if (!r.done()) {
            throw new IOException("unexpected multi-chunk reply");
        }
        return r.error();
    }

    /**
     * True when the server closed the connection (EOF or reset) before the timeout without
     * sending a single byte: refused right after accept, before the greeting.
     */
    boolean closedBeforeAnyByte() throws IOException {
        try {
            return in.read() < 0;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (SocketException | EOFException e) {
            return true;
        }
    }

    /** True when the server closed the connection (EOF or reset) before the timeout. */
    boolean closedByServer() throws IOException {
        try {
            while (true) {
                if (in.read() < 0) {
                    return true;
                }
            }
        } catch (SocketTimeoutException e) {
            return false;
        } catch (SocketException | EOFException e) {
            return true;
        }
    }

    void shutdownOutput() throws IOException {
        if (socket instanceof Socket) {
            ((Socket) socket).shutdownOutput();
        } else {
            ((SocketChannel) socket).shutdownOutput();
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
