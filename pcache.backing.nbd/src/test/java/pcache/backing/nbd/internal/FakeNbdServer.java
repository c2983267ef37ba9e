package pcache.backing.nbd.internal;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import pcache.api.nbd.NbdWire;

/**
 * A scriptable NBD server on a unix socket, for the protocol corners real servers do not show:
 * out-of-order and hole chunks, error chunks, unknown chunk types, ESHUTDOWN, dropped
 * connections. Fixed newstyle with GO (optionally only EXPORT_NAME); one thread per connection
 * answering requests in order through a {@link Handler}. By default it serves a RAM disk.
 */
final class FakeNbdServer implements AutoCloseable {

    /** One request as received. */
    record Request(int connection, int flags, int type, long cookie, long offset, int length,
            byte[] payload) {
    }

    /** Decides how to answer a request; the default serves {@link #disk}. */
    interface Handler {
        void handle(Request request, Replies replies) throws IOException;
    }

    /** Writes replies on one connection. */
    static final class Replies {
        private final DataOutputStream out;
        private final SocketChannel channel;

        Replies(DataOutputStream out, SocketChannel channel) {
            this.out = out;
            this.channel = channel;
        }

        void simple(long cookie, int error, byte[] data) throws IOException {
            out.writeInt(NbdWire.SIMPLE_REPLY_MAGIC);
            out.writeInt(error);
            out.writeLong(cookie);
            if (data != null) {
                out.write(data);
            }
            out.flush();
        }

        void chunk(boolean done, int type, long cookie, byte[] payload) throws IOException {
            out.writeInt(NbdWire.STRUCTURED_REPLY_MAGIC);
            out.writeShort(done ? NbdWire.REPLY_FLAG_DONE : 0);
            out.writeShort(type);
            out.writeLong(cookie);
            out.writeInt(payload.length);
            out.write(payload);
            out.flush();
        }

        void data(boolean done, long cookie, long offset, byte[] data, int from, int length)
                throws IOException {
            byte[] payload = new byte[8 + length];
            java.nio.ByteBuffer.wrap(payload).putLong(offset).put(data, from, length);
            chunk(done, NbdWire.CHUNK_OFFSET_DATA, cookie, payload);
        }

        void hole(boolean done, long cookie, long offset, int length) throws IOException {
            byte[] payload = new byte[12];
            java.nio.ByteBuffer.wrap(payload).putLong(offset).putInt(length);
            chunk(done, NbdWire.CHUNK_OFFSET_HOLE, cookie, payload);
        }

        void error(long cookie, int error, String message) throws IOException {
            byte[] text = message.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            byte[] payload = new byte[6 + text.length];
            java.nio.ByteBuffer.wrap(payload).putInt(error).putShort((short) text.length).put(text);
            chunk(true, NbdWire.CHUNK_ERROR, cookie, payload);
        }

        /** Drops the connection (like a crash). */
        void drop() throws IOException {
            channel.close();
        }
    }

    final byte[] disk;
    private final int transmissionFlags;
    private final boolean structured;
    private final boolean go;
    private volatile Handler handler;
    private final Path socket;
    private final ServerSocketChannel server;
    private final Thread acceptor;
    private final AtomicInteger connections = new AtomicInteger();
    private final List<SocketChannel> open = new CopyOnWriteArrayList<>();
    /** Every request received, in order. */
    final List<Request> received = new CopyOnWriteArrayList<>();
    /** Every option received, in order. */
    final List<Integer> options = new CopyOnWriteArrayList<>();
    /** How NBD_OPT_STARTTLS is answered; NBD_REP_ACK continues in clear text (a stand-in TLS). */
    volatile int startTlsReply = NbdWire.REP_ERR_UNSUP;
    /** Whether the option after an acknowledged STARTTLS ends the connection unanswered. */
    volatile boolean dropAfterStartTls;
    /** The minimum block size NBD_OPT_GO announces (NBD_INFO_BLOCK_SIZE); 0: none announced. */
    volatile int minimumBlock;
    private final AtomicInteger ended = new AtomicInteger();

    FakeNbdServer(Path dir, int size, int transmissionFlags, boolean structured, boolean go)
            throws IOException {
        this.disk = new byte[size];
        this.transmissionFlags = transmissionFlags;
        this.structured = structured;
        this.go = go;
        this.handler = this::serveDisk;
        this.socket = dir.resolve("fake.sock");
        Files.deleteIfExists(socket);
        this.server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        this.acceptor = new Thread(this::acceptLoop, "fake-nbd-acceptor");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** A writable server with FLUSH, FUA, TRIM, WRITE_ZEROES and structured replies. */
    static FakeNbdServer standard(Path dir, int size) throws IOException {
        return new FakeNbdServer(dir, size, NbdWire.TX_HAS_FLAGS | NbdWire.TX_SEND_FLUSH
                | NbdWire.TX_SEND_FUA | NbdWire.TX_SEND_TRIM
                | NbdWire.TX_SEND_WRITE_ZEROES, true, true);
    }

    String uri() {
        return "nbd+unix:///?socket=" + socket;
    }

    void handler(Handler handler) {
        this.handler = handler;
    }

    int connections() {
        return connections.get();
    }

    /** Connections that ended (the client or the server closed them). */
    int endedConnections() {
        return ended.get();
    }

    /** Serves the RAM disk; READ replies are one OFFSET_DATA chunk (or simple). */
    void serveDisk(Request request, Replies replies) throws IOException {
        switch (request.type()) {
            case 0 -> {
                if (structured) {
                    replies.data(true, request.cookie(), request.offset(), disk,
                            (int) request.offset(), request.length());
                } else {
                    byte[] data = new byte[request.length()];
                    System.arraycopy(disk, (int) request.offset(), data, 0, data.length);
                    replies.simple(request.cookie(), 0, data);
                }
            }
            case 1 -> {
                System.arraycopy(request.payload(), 0, disk, (int) request.offset(),
                        request.length());
                replies.simple(request.cookie(), 0, null);
            }
            case 6 -> {
                java.util.Arrays.fill(disk, (int) request.offset(),
                        (int) request.offset() + request.length(), (byte) 0);
                replies.simple(request.cookie(), 0, null);
            }
            default -> replies.simple(request.cookie(), 0, null);
        }
    }

    private void acceptLoop() {
        while (server.isOpen()) {
            try {
                SocketChannel channel = server.accept();
                open.add(channel);
                int number = connections.incrementAndGet();
                Thread t = new Thread(() -> serve(channel, number), "fake-nbd-" + number);
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(SocketChannel channel, int number) {
        try (channel) {
            DataInputStream in = new DataInputStream(Channels.newInputStream(channel));
            DataOutputStream out = new DataOutputStream(new java.io.BufferedOutputStream(
                    Channels.newOutputStream(channel)));
            out.writeLong(NbdWire.INIT_PASSWD);
            out.writeLong(NbdWire.OPTION_MAGIC);
            out.writeShort(NbdWire.FLAG_FIXED_NEWSTYLE | NbdWire.FLAG_NO_ZEROES);
            out.flush();
            in.readInt(); // client flags
            if (!haggle(in, out)) {
                return;
            }
            Replies replies = new Replies(out, channel);
            while (true) {
                if (in.readInt() != NbdWire.REQUEST_MAGIC) {
                    return;
                }
                int flags = in.readUnsignedShort();
                int type = in.readUnsignedShort();
                long cookie = in.readLong();
                long offset = in.readLong();
                int length = in.readInt();
                if (type == 2) {
                    received.add(new Request(number, flags, type, cookie, offset, length, null));
                    return; // DISC
                }
                byte[] payload = null;
                if (type == 1) {
                    payload = new byte[length];
                    in.readFully(payload);
                }
                Request request = new Request(number, flags, type, cookie, offset, length, payload);
                received.add(request);
                handler.handle(request, replies);
            }
        } catch (EOFException | java.nio.channels.ClosedChannelException e) {
            // client went away, or the handler dropped the connection
        } catch (IOException e) {
            // same
        } finally {
            ended.incrementAndGet();
        }
    }

    private boolean haggle(DataInputStream in, DataOutputStream out) throws IOException {
        while (true) {
            in.readLong(); // OPTION_MAGIC
            int option = in.readInt();
            byte[] data = new byte[in.readInt()];
            in.readFully(data);
            options.add(option);
            if (dropAfterStartTls && options.size() > 1
                    && options.get(options.size() - 2) == NbdWire.OPT_STARTTLS) {
                return false; // like a TLS 1.3 server refusing the client's certificate
            }
            if (option == NbdWire.OPT_STARTTLS) {
                optionReply(out, option, startTlsReply, new byte[0]);
                continue;
            }
            if (option == NbdWire.OPT_EXPORT_NAME) {
                out.writeLong(disk.length);
                out.writeShort(transmissionFlags);
                out.flush();
                return true;
            }
            if (option == NbdWire.OPT_STRUCTURED_REPLY && structured) {
                optionReply(out, option, NbdWire.REP_ACK, new byte[0]);
            } else if (option == NbdWire.OPT_GO && go) {
                byte[] info = new byte[12];
                java.nio.ByteBuffer.wrap(info).putShort((short) NbdWire.INFO_EXPORT)
                        .putLong(disk.length).putShort((short) transmissionFlags);
                optionReply(out, option, NbdWire.REP_INFO, info);
                if (minimumBlock > 0) {
                    byte[] sizes = new byte[14];
                    java.nio.ByteBuffer.wrap(sizes).putShort((short) NbdWire.INFO_BLOCK_SIZE).putInt(minimumBlock)
                            .putInt(Math.max(4096, minimumBlock)).putInt(32 << 20);
                    optionReply(out, option, NbdWire.REP_INFO, sizes);
                }
                optionReply(out, option, NbdWire.REP_ACK, new byte[0]);
                return true;
            } else if (option == NbdWire.OPT_ABORT) {
                optionReply(out, option, NbdWire.REP_ACK, new byte[0]);
                return false;
            } else {
                optionReply(out, option, NbdWire.REP_ERR_UNSUP, new byte[0]);
            }
        }
    }

    private static void optionReply(DataOutputStream out, int option, int type, byte[] data)
            throws IOException {
        out.writeLong(NbdWire.OPTION_REPLY_MAGIC);
        out.writeInt(option);
        out.writeInt(type);
        out.writeInt(data.length);
        out.write(data);
        out.flush();
    }

    /** Drops every open connection. */
    void dropAll() throws IOException {
        for (SocketChannel channel : open) {
            channel.close();
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        dropAll();
        Files.deleteIfExists(socket);
    }
}
