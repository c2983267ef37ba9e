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

import pcache.api.nbd.NbdWire;
import pcache.api.tls.TlsChannel;
import pcache.api.tls.TlsEndpoint;
import pcache.api.tls.TlsHandshakeException;
import pcache.backing.nbd.internal.NbdConnectException.Reason;

/**
 * Opens a socket to an NBD server and runs the handshake, all within the connect timeout: a
 * watchdog closes the channel when time runs out, which wakes the blocked connect or read. With
 * TLS the first option is NBD_OPT_STARTTLS, and after the TLS handshake (also within the
 * timeout) everything travels encrypted; a server that does not agree gets no other byte.
 */
final class Connector {

    /** Size of the per-connection I/O buffers. */
    static final int BUFFER_BYTES = 256 * 1024;
    /** Size of the buffers of the clear-text phase before STARTTLS: a few small messages. */
    private static final int STARTTLS_BUFFER_BYTES = 4096;

    private Connector() {
    }

    /**
     * A socket in the transmission phase, with its buffers and what the handshake said.
     *
     * @param channel the socket; closing it ends the connection at once, TLS or not
     * @param tls the encrypted channel on top of it, or null in clear text
     */
    record Link(SocketChannel channel, TlsChannel tls, WireInput in, WireOutput out,
            ExportInfo export) {
    }

    /**
     * Connects and negotiates {@code uri}'s export.
     *
     * @param tls the client's TLS credentials; exactly when {@code uri} is an nbds URI
     * @param watchdog runs the timeout; must have a thread free while this call blocks
     * @throws NbdConnectException naming the server and what went wrong
     */
    static Link connect(NbdUri uri, TlsEndpoint tls, Duration timeout,
            ScheduledExecutorService watchdog) throws NbdConnectException {
        if (uri.tls() != (tls != null)) {
            throw new IllegalArgumentException(uri.tls() ? uri.location() + " needs TLS credentials"
                    : "TLS credentials for the clear-text " + uri);
        }
        String server = uri.location();
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
        Progress progress = new Progress();
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
            progress.phase = Phase.NBD;
            Handshake.StartTls startTls = tls == null ? null : () -> {
                progress.phase = Phase.TLS;
                progress.tls = tls.handshake(channel, server);
                progress.phase = Phase.NBD;
                progress.wire = new Handshake.Wire(new WireInput(progress.tls, BUFFER_BYTES),
                        new WireOutput(progress.tls, BUFFER_BYTES));
                return progress.wire;
            };
            int buffer = tls == null ? BUFFER_BYTES : STARTTLS_BUFFER_BYTES;
            progress.wire = new Handshake.Wire(new WireInput(channel, buffer),
                    new WireOutput(channel, buffer));
            ExportInfo export = Handshake.negotiate(progress.wire.in(), progress.wire.out(),
                    server, uri.exportName(), startTls);
            alarm.cancel(false);
            if (timedOut.get() || !channel.isOpen()) {
                throw timeout(server, timeout, null);
            }
            connected = true;
            return new Link(channel, progress.tls, progress.wire.in(), progress.wire.out(),
                    export);
        } catch (NbdConnectException e) {
            if (timedOut.get()) {
                throw timeout(server, timeout, e);
            }
            throw e;
        } catch (TlsHandshakeException e) {
            if (timedOut.get()) {
                throw timeout(server, timeout, e);
            }
            throw new NbdConnectException(Reason.TLS_FAILED, server + ": the TLS handshake failed: "
                    + e.getMessage() + " (this client uses " + tls.describe() + ")", e);
        } catch (RuntimeException e) {
            // the TLS engines let a RuntimeException through (an SSLEngine in a state it refuses);
            // unwrapped it would end a reconnect task or the first connect's thread unnoticed
            if (timedOut.get()) {
                throw timeout(server, timeout, e);
            }
            throw new NbdConnectException(progress.phase == Phase.TLS ? Reason.TLS_FAILED : Reason.PROTOCOL,
                    server + ": the connection failed during the " + (progress.phase == Phase.TLS ? "TLS" : "NBD")
                    + " handshake: " + e, e);
        } catch (IOException e) {
            if (timedOut.get() || e instanceof AsynchronousCloseException) {
                throw timeout(server, timeout, e);
            }
            String what = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            if (progress.phase == Phase.TLS) {
                throw new NbdConnectException(Reason.TLS_FAILED, server + ": the connection "
                        + "failed during the TLS handshake (" + what + "); does the server "
                        + "accept " + tls.describe() + "?", e);
            }
            if (progress.phase != Phase.CONNECT) {
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
    /** How far a connection attempt got, for its error message. */
    private enum Phase {
        CONNECT, NBD, TLS
    }

    /** What the attempt reached; written by the connecting thread only. */
    private static final class Progress {
        Phase phase = Phase.CONNECT;
        TlsChannel tls;
        Handshake.Wire wire;
    }

    private static NbdConnectException timeout(String server, Duration timeout, Throwable cause) {
        return new NbdConnectException(Reason.TIMEOUT, server + ": no NBD handshake within "
                + timeout.toMillis() + " ms (connect_timeout_ms); the server is unreachable, "
                + "overloaded or not an NBD server" + (server.startsWith("nbds") ? ", or does not "
                + "answer the TLS handshake" : ""), cause);
    }

    /** Ends a negotiated link that was never used: NBD_CMD_DISC, then close. */
    static void disconnect(Link link) {
        try {
            link.out().putInt(NbdWire.REQUEST_MAGIC).putShort(0)
                    .putShort(NbdCommand.DISC.wireType).putLong(0).putLong(0).putInt(0).flush();
            closeAfterDisconnect(link);
        } catch (IOException e) {
            // the server is gone anyway
        } finally {
            closeQuietly(link.channel());
        }
    }

    /**
     * Closes a link after NBD_CMD_DISC went out: in clear text the socket's output is shut down
     * first, so the server reads the request before EOF; with TLS closing the TLS channel sends
     * close_notify after it, so the server sees an orderly end rather than a truncated stream.
     */
    static void closeAfterDisconnect(Link link) throws IOException {
        try {
            if (link.tls() != null) {
                link.tls().close();
            } else {
                link.channel().shutdownOutput();
            }
        } finally {
            closeQuietly(link.channel());
        }
    }

    /**
     * Closes a connection this client gives up on (the server fell silent, broke the protocol)
     * with a reset: a plain close leaves what the kernel has not sent yet queued, and a socket
     * left behind would go on sending it once the network heals, so a write re-sent on the new
     * connection could be overtaken by its first copy, over newer data written since. A reset
     * drops what is queued on both sides (what the server has not read yet too).
     */
    static void abort(SocketChannel channel) {
        try {
            if (channel.supportedOptions().contains(StandardSocketOptions.SO_LINGER)) {
                channel.setOption(StandardSocketOptions.SO_LINGER, 0);
            }
        } catch (IOException | RuntimeException ignored) {
            // closed already, or the option is refused: closed below either way
        }
        closeQuietly(channel);
    }

    static void closeQuietly(SocketChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing a broken socket can fail; it is closed either way
        }
    }
}
