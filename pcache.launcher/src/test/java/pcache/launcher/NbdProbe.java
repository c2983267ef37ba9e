package pcache.launcher;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The few bytes of the NBD handshake the end-to-end tests need without a tool: "is export X
 * served yet?" (NBD_OPT_INFO, then NBD_OPT_ABORT), and raw connections for the misbehaving-client
 * smoke test. Constants from the NBD protocol (nbd-protocol.md §1-2).
 */
final class NbdProbe {

    static final long NBDMAGIC = 0x4e42444d41474943L; // "NBDMAGIC"
    static final long IHAVEOPT = 0x49484156454f5054L; // "IHAVEOPT"
    static final long OPTION_REPLY_MAGIC = 0x3e889045565a9L;
    static final int FLAG_FIXED_NEWSTYLE = 1;
    static final int FLAG_NO_ZEROES = 2;
    static final int OPT_ABORT = 2;
    static final int OPT_INFO = 6;
    static final int REP_ACK = 1;

    private static final long PROBE_TIMEOUT_MILLIS = 5_000;

    private NbdProbe() {
    }

    /** A unix socket address. */
    static SocketAddress unix(Path socket) {
        return UnixDomainSocketAddress.of(socket);
    }

    /** A loopback TCP address. */
    static SocketAddress tcp(int port) {
        return new InetSocketAddress("127.0.0.1", port);
    }

    /** Opens a blocking connection to an NBD server (the caller owns it). */
    static SocketChannel connect(SocketAddress address) throws IOException {
        SocketChannel channel = SocketChannel.open(address instanceof UnixDomainSocketAddress
                ? java.net.StandardProtocolFamily.UNIX : java.net.StandardProtocolFamily.INET);
        channel.connect(address);
        return channel;
    }

    /**
     * Whether the server at {@code address} serves {@code export} now: false when nobody listens,
     * the handshake fails or the server refuses the export name; bounded by a few seconds.
     */
    static boolean serves(SocketAddress address, String export) {
        CompletableFuture<Boolean> answer = CompletableFuture.supplyAsync(() -> {
            try (SocketChannel channel = connect(address)) {
                return askInfo(channel, export);
            } catch (IOException e) {
                return false;
            }
        });
        try {
            return answer.get(PROBE_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException e) {
            answer.cancel(true);
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Reads the server greeting; returns its handshake flags. */
    static int readGreeting(DataInputStream in) throws IOException {
        if (in.readLong() != NBDMAGIC || in.readLong() != IHAVEOPT) {
            throw new IOException("not a fixed-newstyle NBD server");
        }
        return in.readUnsignedShort();
    }

    private static boolean askInfo(SocketChannel channel, String export) throws IOException {
        DataInputStream in = new DataInputStream(Channels.newInputStream(channel));
        DataOutputStream out = new DataOutputStream(Channels.newOutputStream(channel));
        readGreeting(in);
        out.writeInt(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES);
        byte[] name = export.getBytes(StandardCharsets.UTF_8);
        sendOption(out, OPT_INFO, ByteBuffer.allocate(4 + name.length + 2).putInt(name.length).put(name)
                .putShort((short) 0).array());
        boolean served;
        while (true) {
            if (in.readLong() != OPTION_REPLY_MAGIC) {
                throw new IOException("bad option reply magic");
            }
            in.readInt(); // the option
            int type = in.readInt();
            int length = in.readInt();
            in.readNBytes(length);
            if (type == REP_ACK || type < 0) {
                served = type == REP_ACK;
                break;
            }
        }
        sendOption(out, OPT_ABORT, new byte[0]);
        return served;
    }

    /** Sends one option request. */
    static void sendOption(OutputStream stream, int option, byte[] data) throws IOException {
        DataOutputStream out = new DataOutputStream(stream);
        out.writeLong(IHAVEOPT);
        out.writeInt(option);
        out.writeInt(data.length);
        out.write(data);
        out.flush();
    }

    /** Input stream of a channel, for {@link #readGreeting}. */
    static DataInputStream input(SocketChannel channel) {
        InputStream in = Channels.newInputStream(channel);
        return new DataInputStream(in);
    }
}
