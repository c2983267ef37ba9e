package pcache.export.nbd.internal;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.function.Consumer;
import pcache.io.log.Log;

/** Accepts connections on one address (TCP or unix socket) and hands them to the server. */
final class Listener implements Runnable {
    private static final System.Logger LOG = Log.of(Listener.class);
    private static final int BACKLOG = 128;

    final ListenAddress address;
    final SocketAddress boundAddress;
    private final ServerSocketChannel channel;
    private final Consumer<SocketChannel> onAccept;

    private Listener(ListenAddress address, ServerSocketChannel channel, Consumer<SocketChannel> onAccept)
            throws IOException {
        this.address = address;
        this.channel = channel;
        this.boundAddress = channel.getLocalAddress();
        this.onAccept = onAccept;
    }

    /** Binds {@code address}; for a unix socket a stale socket file is replaced. */
    static Listener open(ListenAddress address, Consumer<SocketChannel> onAccept) throws IOException {
        ServerSocketChannel channel;
        if (address.unixPath() != null) {
            Path path = address.unixPath();
            removeStaleSocket(path);
            channel = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                channel.bind(address.socketAddress(), BACKLOG);
                restrictToOwner(path);
            } catch (IOException e) {
                channel.close();
                throw new IOException("cannot listen on unix socket " + path + ": " + e.getMessage(), e);
            }
        } else {
            channel = ServerSocketChannel.open();
            try {
                channel.setOption(StandardSocketOptions.SO_REUSEADDR, true);
                channel.bind(address.socketAddress(), BACKLOG);
            } catch (IOException e) {
                channel.close();
                throw new IOException("cannot listen on " + address + ": " + e.getMessage()
                        + " (is another NBD server using the port?)", e);
            }
        }
        return new Listener(address, channel, onAccept);
    }

    /**
     * A socket file left by a previous run that crashed is removed; anything that is not a
     * socket, or a socket someone still listens on, is left alone and reported.
     */
    private static void removeStaleSocket(Path path) throws IOException {
        BasicFileAttributes attributes;
        try {
            attributes = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (java.nio.file.NoSuchFileException e) {
            return;
        }
        if (!attributes.isOther()) {
            throw new IOException("cannot listen on unix socket " + path
                    + ": the path exists and is not a socket; remove it or choose another path");
        }
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(java.net.UnixDomainSocketAddress.of(path));
            throw new IOException("cannot listen on unix socket " + path
                    + ": another server is listening there; stop it or choose another path");
        } catch (java.net.ConnectException e) {
            LOG.log(Level.INFO, () -> "removing stale NBD socket " + path);
            Files.deleteIfExists(path);
        }
    }

    /**
     * Makes the socket owner-only (connecting needs write permission). There is a moment between
     * bind and chmod where the umask decides; put the socket in a private directory if that
     * matters.
     */
    private static void restrictToOwner(Path path) {
        try {
            Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
        } catch (IOException | UnsupportedOperationException e) {
            LOG.log(Level.WARNING, () -> "could not make NBD socket " + path + " owner-only: " + e);
        }
    }

    @Override
    public void run() {
        while (channel.isOpen()) {
            SocketChannel client;
            try {
                client = channel.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                LOG.log(Level.WARNING, () -> "NBD listener " + address + ": accept failed: " + e);
                pauseAfterFailure();
                continue;
            }
            try {
                onAccept.accept(client);
            } catch (Throwable t) { // out of memory, say: this client is refused, the listener goes on
                LOG.log(Level.ERROR, () -> "NBD listener " + address + ": a new connection could not be set up"
                        + " and is closed: " + t);
                try {
                    client.close();
                } catch (IOException e) {
                    LOG.log(Level.DEBUG, () -> "closing a refused NBD connection: " + e);
                }
                pauseAfterFailure();
            }
        }
    }

    /** A failing accept (e.g. out of file descriptors) would otherwise spin. */
    private static void pauseAfterFailure() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops accepting; a unix socket file is removed. */
    void close() {
        try {
            channel.close();
        } catch (IOException e) {
            LOG.log(Level.DEBUG, () -> "NBD listener " + address + ": close failed: " + e);
        }
        if (address.unixPath() != null) {
            try {
                Files.deleteIfExists(address.unixPath());
            } catch (IOException e) {
                LOG.log(Level.WARNING, () -> "could not remove NBD socket " + address.unixPath() + ": " + e);
            }
        }
    }
}
