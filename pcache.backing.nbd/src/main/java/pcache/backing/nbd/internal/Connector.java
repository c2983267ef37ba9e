package pcache.backing.nbd.internal;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnknownHostException;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

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
        return connect(uri, tls, timeout, watchdog, HostResolver.SYSTEM);
    }

    /**
     * Connects and negotiates {@code uri}'s export, resolving its host with {@code resolver}.
     * Every address of the host is tried in the resolver's order until one accepts the
     * connection (as libnbd and qemu do), all within the one timeout, the lookup included; each
     * address but the last gets an equal share of the time left.
     */
    static Link connect(NbdUri uri, TlsEndpoint tls, Duration timeout,
            ScheduledExecutorService watchdog, HostResolver resolver) throws NbdConnectException {
        if (uri.tls() != (tls != null)) {
            throw new IllegalArgumentException(uri.tls() ? uri.location() + " needs TLS credentials"
                    : "TLS credentials for the clear-text " + uri);
        }
        String server = uri.location();
        long deadline = System.nanoTime() + timeout.toNanos();
        AtomicBoolean timedOut = new AtomicBoolean();
        AtomicReference<SocketChannel> attempt = new AtomicReference<>();
        ScheduledFuture<?> alarm = watchdog.schedule(() -> {
            timedOut.set(true);
            SocketChannel current = attempt.get();
            if (current != null) {
                closeQuietly(current);
            }
        }, timeout.toNanos(), TimeUnit.NANOSECONDS);
        SocketChannel channel = null;
        Progress progress = new Progress();
        try {
            SocketChannel socket = open(uri, server, timeout, deadline,
                    resolve(uri, server, timeout, deadline, resolver), attempt, timedOut, watchdog);
            channel = socket;
            if (uri.transport() == NbdUri.Transport.TCP) {
                // small requests and replies must not wait for Nagle (design doc §7.1)
                channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
                channel.setOption(StandardSocketOptions.SO_KEEPALIVE, true);
            }
            progress.phase = Phase.NBD;
            Handshake.StartTls startTls = tls == null ? null : () -> {
                progress.phase = Phase.TLS;
                progress.tls = tls.handshake(socket, server);
                progress.phase = Phase.NBD;
                progress.wire = new Handshake.Wire(new WireInput(progress.tls, BUFFER_BYTES),
                        new WireOutput(progress.tls, BUFFER_BYTES));
                return progress.wire;
            };
            int buffer = tls == null ? BUFFER_BYTES : STARTTLS_BUFFER_BYTES;
            progress.wire = new Handshake.Wire(new WireInput(socket, buffer),
                    new WireOutput(socket, buffer));
            ExportInfo export = Handshake.negotiate(progress.wire.in(), progress.wire.out(),
                    server, uri.exportName(), startTls);
            alarm.cancel(false);
            if (timedOut.get() || !channel.isOpen()) {
                throw timeout(server, timeout, null);
            }
            Link link = new Link(channel, progress.tls, progress.wire.in(), progress.wire.out(),
                    export);
            channel = null;
            return link;
        } catch (NbdConnectException e) {
            if (timedOut.get() && e.reason() != Reason.TIMEOUT) {
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
            throw new NbdConnectException(Reason.UNREACHABLE, server + ": the connection "
                    + "failed during the " + (progress.phase == Phase.CONNECT ? "connect" : "NBD handshake")
                    + " (" + what + ")", e);
        } finally {
            alarm.cancel(false);
            if (channel != null) {
                closeQuietly(channel);
            }
        }
    }

    /** The addresses to try: every address of a TCP server's host, or the unix socket. */
    private static List<SocketAddress> resolve(NbdUri uri, String server, Duration timeout,
            long deadline, HostResolver resolver) throws NbdConnectException {
        if (uri.transport() != NbdUri.Transport.TCP) {
            return List.of(uri.socketAddress());
        }
        String host = uri.host().startsWith("[") ? uri.host().substring(1, uri.host().length() - 1)
                : uri.host();
        try {
            List<SocketAddress> addresses = new ArrayList<>();
            for (InetAddress address : resolver.resolve(host, deadline)) {
                addresses.add(new InetSocketAddress(address, uri.port()));
            }
            return addresses;
        } catch (UnknownHostException e) {
            throw new NbdConnectException(Reason.UNREACHABLE, server + ": cannot resolve host '"
                    + host + "'", e);
        } catch (HostResolver.ResolveTimeoutException e) {
            throw new NbdConnectException(Reason.TIMEOUT, server + ": host '" + host + "' did not "
                    + "resolve within " + timeout.toMillis() + " ms (connect_timeout_ms); are the "
                    + "name servers reachable?", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new NbdConnectException(Reason.UNREACHABLE, server + ": interrupted while "
                    + "resolving host '" + host + "'", e);
        }
    }

    /**
     * Opens a socket connected to the first of {@code addresses} that accepts, in their order;
     * {@code attempt} holds the socket being connected, for the watchdog to close. Each address
     * but the last gets an equal share of the time left, so that one that drops packets does not
     * take the whole timeout from the others.
     */
    private static SocketChannel open(NbdUri uri, String server, Duration timeout, long deadline,
            List<SocketAddress> addresses, AtomicReference<SocketChannel> attempt, AtomicBoolean timedOut,
            ScheduledExecutorService watchdog) throws NbdConnectException {
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < addresses.size(); i++) {
            SocketAddress address = addresses.get(i);
            SocketChannel channel;
            try {
                channel = uri.transport() == NbdUri.Transport.TCP ? SocketChannel.open()
                        : SocketChannel.open(StandardProtocolFamily.UNIX);
            } catch (IOException e) {
                throw new NbdConnectException(Reason.UNREACHABLE, server + ": cannot open a socket: "
                        + e.getMessage(), e);
            }
            attempt.set(channel);
            int left = addresses.size() - i;
            long shareNanos = Math.max(0, deadline - System.nanoTime()) / left;
            AtomicBoolean shareOver = new AtomicBoolean();
            ScheduledFuture<?> share = left == 1 ? null : watchdog.schedule(() -> {
                shareOver.set(true);
                closeQuietly(channel);
            }, shareNanos, TimeUnit.NANOSECONDS);
            try {
                if (timedOut.get()) {
                    throw new AsynchronousCloseException(); // the watchdog may have missed it
                }
                channel.connect(address);
                if (share != null) {
                    share.cancel(false);
                }
                if (!shareOver.get()) {
                    return channel;
                }
                closeQuietly(channel); // connected as its share ran out: closed, or about to be
                failures.add(shareRanOut(address, shareNanos));
            } catch (IOException e) {
                if (share != null) {
                    share.cancel(false);
                }
                closeQuietly(channel);
                if (timedOut.get()) {
                    throw timeout(server, timeout, e);
                }
                if (shareOver.get()) {
                    failures.add(shareRanOut(address, shareNanos));
                    continue;
                }
                if (e instanceof AsynchronousCloseException) {
                    throw timeout(server, timeout, e);
                }
                String what = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
                if (addresses.size() == 1) {
                    throw new NbdConnectException(Reason.UNREACHABLE, server + ": cannot connect ("
                            + what + "); is the NBD server running?", e);
                }
                failures.add(describe(address) + ": " + what);
            }
        }
        throw new NbdConnectException(Reason.UNREACHABLE, server + ": cannot connect to any of "
                + "its " + addresses.size() + " addresses (" + String.join("; ", failures)
                + "); is the NBD server running?");
    }

    private static String shareRanOut(SocketAddress address, long shareNanos) {
        return describe(address) + ": no answer within " + shareNanos / 1_000_000 + " ms, its share of connect_timeout_ms";
    }

    private static String describe(SocketAddress address) {
        if (address instanceof InetSocketAddress inet) {
            String host = inet.getAddress().getHostAddress();
            return host.indexOf(':') >= 0 ? "[" + host + "]" : host;
        }
        return address.toString();
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
