package pcache.backing.nbd.internal;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.SocketChannel;
import java.nio.channels.UnresolvedAddressException;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import pcache.backing.nbd.internal.NbdConnectException.Reason;
import pcache.api.nbd.NbdWire;

/**
 * Opens a socket to an NBD server and runs the handshake, all within the connect timeout: a
 * watchdog closes the channel when time runs out, which wakes the blocked connect or read.
 */
final class Connector {

    /** Size of the per-connection I/O buffers. */
    static final int BUFFER_BYTES = 256 * 1024;

    private Connector() {
    }

    /** A socket in the transmission phase, with its buffers and what the handshake said. */
    record Link(SocketChannel channel, WireInput in, WireOutput out, ExportInfo export) {
    }

    /**
     * Connects and negotiates {@code uri}'s export.
     *
     * @param watchdog runs the timeout; must have a thread free while this call blocks
     * @throws NbdConnectException naming the server and what went wrong
     */
    static Link connect(NbdUri uri, Duration timeout, ScheduledExecutorService watchdog)
            throws NbdConnectException {
        String server = uri.toString();
        SocketAddress address = uri.socketAddress();
        if (address instanceof InetSocketAddress inet && inet.isUnresolved()) {
            throw new NbdConnectException(Reason.UNREACHABLE, server + ": cannot resolve host '"
                    + uri.host() + "'");
        }
        SocketChannel channel;
        try {
            channel = uri.transport() == NbdUri.Transport.TCP ? SocketChannel.open()
                    : SocketChannel.open(StandardProtocolFamily.UNIX);
        } catch (IOException e) {
            throw new NbdConnectException(Reason.UNREACHABLE, server + ": cannot open a socket: "
                    + e.getMessage(), e);
        }
        AtomicBoolean timedOut = new AtomicBoolean();
        ScheduledFuture<?> alarm = watchdog.schedule(() -> {
            timedOut.set(true);
            closeQuietly(channel);
        }, timeout.toNanos(), TimeUnit.NANOSECONDS);
        boolean connected = false;
        boolean handshaking = false;
        try {
            try {
                channel.connect(address);
            } catch (UnresolvedAddressException e) {
                throw new NbdConnectException(Reason.UNREACHABLE, server + ": cannot resolve host", e);
            }
            if (uri.transport() == NbdUri.Transport.TCP) {
                // small requests and replies must not wait for Nagle (design doc §7.1)
                channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
                channel.setOption(StandardSocketOptions.SO_KEEPALIVE, true);
            }
            handshaking = true;
            WireInput in = new WireInput(channel, BUFFER_BYTES);
            WireOutput out = new WireOutput(channel, BUFFER_BYTES);
            ExportInfo export = Handshake.negotiate(in, out, server, uri.exportName());
            alarm.cancel(false);
            if (timedOut.get() || !channel.isOpen()) {
                throw timeout(server, timeout, null);
            }
            connected = true;
            return new Link(channel, in, out, export);
        } catch (NbdConnectException e) {
            if (timedOut.get()) {
                throw timeout(server, timeout, e);
            }
            throw e;
        } catch (IOException e) {
            if (timedOut.get() || e instanceof AsynchronousCloseException) {
                throw timeout(server, timeout, e);
            }
            String what = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            if (handshaking) {
                throw new NbdConnectException(Reason.UNREACHABLE, server + ": the connection "
                        + "failed during the NBD handshake (" + what + ")", e);
            }
            throw new NbdConnectException(Reason.UNREACHABLE, server + ": cannot connect ("
                    + what + "); is the NBD server running?", e);
        } finally {
            alarm.cancel(false);
            if (!connected) {
                closeQuietly(channel);
            }
        }
    }

    private static NbdConnectException timeout(String server, Duration timeout, Throwable cause) {
        return new NbdConnectException(Reason.TIMEOUT, server + ": no NBD handshake within "
                + timeout.toMillis() + " ms (connect_timeout_ms); the server is unreachable, "
                + "overloaded or not an NBD server", cause);
    }

    /** Ends a negotiated link that was never used: NBD_CMD_DISC, then close. */
    static void disconnect(Link link) {
        try {
            link.out().putInt(NbdWire.REQUEST_MAGIC).putShort(0)
                    .putShort(NbdCommand.DISC.wireType).putLong(0).putLong(0).putInt(0).flush();
        } catch (IOException e) {
            // the server is gone anyway
        } finally {
            closeQuietly(link.channel());
        }
    }

    static void closeQuietly(SocketChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing a broken socket can fail; it is closed either way
        }
    }
}
