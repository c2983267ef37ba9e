package pcache.launcher;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;

/**
 * The local control socket: a unix domain socket, readable and writable by its owner only, that
 * runs one command line per connection (see {@link ControlProtocol}). There is no shell on any
 * network port.
 *
 * <p>Two locks guard it: the socket file's permissions (owner only), and the peer's credentials,
 * read from the kernel for every connection ({@code SO_PEERCRED}): a connection from another user,
 * or one whose user cannot be read, is refused before a command is read. The second lock holds
 * even when the file's permissions were widened by hand.
 */
public final class ControlServer implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(ControlServer.class.getName());
    /** A client that sends no complete line within this time is dropped. */
    static final Duration READ_TIMEOUT = Duration.ofSeconds(10);
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    /** Who is at the other end of a connection; throws when the kernel cannot tell. */
    @FunctionalInterface
    interface PeerCredentials {
        UserPrincipal user(SocketChannel client) throws IOException;
    }

    /** The kernel's answer: the credentials the peer had when it connected. */
    static final PeerCredentials SO_PEERCRED = client -> {
        try {
            UnixDomainPrincipal principal = client.getOption(ExtendedSocketOptions.SO_PEERCRED);
            if (principal == null || principal.user() == null) {
                throw new IOException("no credentials");
            }
            return principal.user();
        } catch (UnsupportedOperationException e) {
            throw new IOException("SO_PEERCRED is not supported here", e);
        }
    };

    private final Path socket;
    private final ServerSocketChannel server;
    private final CommandExecutor executor;
    private final PeerCredentials credentials;
    private final String owner;
    private final ExecutorService handlers;
    private final ScheduledExecutorService timeouts;
    private final Thread acceptor;
    private volatile boolean closed;

    private ControlServer(Path socket, ServerSocketChannel server, CommandExecutor executor,
            PeerCredentials credentials, String owner) {
        this.socket = socket;
        this.server = server;
        this.executor = executor;
        this.credentials = credentials;
        this.owner = owner;
        this.handlers = Executors.newCachedThreadPool(daemons("pcache-ctl-"));
        this.timeouts = Executors.newSingleThreadScheduledExecutor(daemons("pcache-ctl-timeout-"));
        this.acceptor = daemons("pcache-ctl-accept-").newThread(this::acceptLoop);
    }

    /**
     * Binds the control socket at {@code socket} (removing a stale one left by a crash) and
     * starts serving.
     *
     * @throws LaunchException if the path exists and is not a stale socket, or binding fails
     */
    public static ControlServer open(Path socket, CommandExecutor executor) throws LaunchException {
        return open(socket, executor, SO_PEERCRED);
    }

    /** {@link #open(Path, CommandExecutor)} with another source of peer credentials (tests). */
    static ControlServer open(Path socket, CommandExecutor executor, PeerCredentials credentials)
            throws LaunchException {
        removeStale(socket);
        ServerSocketChannel server;
        try {
            server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(socket));
        } catch (IOException | IllegalArgumentException e) {
            throw new LaunchException("cannot create the control socket " + socket + ": " + e.getMessage()
                    + (socket.toString().getBytes(StandardCharsets.UTF_8).length > MAX_PATH_BYTES
                            ? " (unix socket paths are limited to " + MAX_PATH_BYTES + " bytes: use a shorter pcache.data)"
                            : ""), e);
        }
        String owner;
        try {
            // right after bind: the socket gets the umask's permissions until then
            Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
            // the user the socket (and so this process) belongs to, named the way peers are named
            owner = Files.getOwner(socket, LinkOption.NOFOLLOW_LINKS).getName();
        } catch (IOException | UnsupportedOperationException e) {
            closeQuietly(server);
            deleteQuietly(socket);
            throw new LaunchException("cannot make the control socket " + socket + " owner-only: " + e.getMessage(), e);
        }
        ControlServer control = new ControlServer(socket, server, executor, credentials, owner);
        control.acceptor.start();
        LOG.log(System.Logger.Level.INFO, "control socket {0}", socket);
        return control;
    }

    /** The socket's path. */
    public Path socket() {
        return socket;
    }

    /**
     * Deletes {@code socket} if it is a socket nobody listens on; refuses anything else.
     *
     * @throws LaunchException if another process listens on it or it is not a socket
     */
    /** How much of a line too long is read and dropped before its answer (more is never read). */
    private static final long MAX_SKIPPED_BYTES = 16L * ControlProtocol.MAX_COMMAND_BYTES;

    /** The longest path a unix socket takes on Linux (sun_path holds 108 bytes with its NUL). */
    static final int MAX_PATH_BYTES = 107;

    /**
     * Why the control socket of {@code settings} cannot be made, as a configuration problem of
     * {@code pcache.data}; empty when it can. Checked before anything starts by the modes that
     * serve it; before, its bind failed after the caches had opened and the export had listened.
     */
    static java.util.Optional<String> pathProblem(PcacheSettings settings) {
        Path socket = settings.controlSocket();
        int bytes = socket.toString().getBytes(StandardCharsets.UTF_8).length;
        if (bytes <= MAX_PATH_BYTES) {
            return java.util.Optional.empty();
        }
        return java.util.Optional.of(ConfigException.problem(ConfigKeys.DATA, settings.dataDir().toString(),
                "a directory whose control socket path (" + socket + ", " + bytes + " bytes) unix sockets can"
                + " take: at most " + MAX_PATH_BYTES + " bytes; choose a shorter path"));
    }

    static void removeStale(Path socket) throws LaunchException {
        if (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (!isSocket(socket)) {
            throw new LaunchException(socket + " exists and is not a socket: remove it, or set pcache.data to "
                    + "another directory");
        }
        try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            throw new LaunchException("another pcache instance is listening on " + socket
                    + ": stop it, or talk to it with: pcache ctl \"COMMAND\"");
        } catch (ConnectException e) {
            LOG.log(System.Logger.Level.INFO, "removing stale control socket {0}", socket);
            try {
                Files.delete(socket);
            } catch (IOException d) {
                throw new LaunchException("cannot remove the stale control socket " + socket + ": " + d.getMessage(), d);
            }
        } catch (IOException e) {
            throw new LaunchException("cannot check the control socket " + socket + ": " + e.getMessage(), e);
        }
    }

    static boolean isSocket(Path path) {
        try {
            Object mode = Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            return (((Integer) mode) & S_IFMT) == S_IFSOCK;
        } catch (UnsupportedOperationException | IllegalArgumentException e) {
            try {
                return Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).isOther();
            } catch (IOException io) {
                return false;
            }
        } catch (IOException e) {
            return false;
        }
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                SocketChannel client = server.accept();
                handlers.execute(() -> serve(client));
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException | RuntimeException e) {
                if (!closed) {
                    LOG.log(System.Logger.Level.WARNING, "control socket accept failed: " + e.getMessage(), e);
                    pause();
                }
            }
        }
    }

    private void serve(SocketChannel client) {
        try (client) {
            String refusal = refusal(client);
            if (refusal != null) {
                LOG.log(System.Logger.Level.WARNING, "control socket: " + refusal);
            }
            // the line is read even from a refused peer (bounded in size and time, and never run):
            // closing a socket with unread input resets it, and the peer would not see why
            ScheduledFuture<?> timeout = timeouts.schedule(() -> closeQuietly(client),
                    READ_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            String line;
            InputStream in = Channels.newInputStream(client);
            try {
                line = ControlProtocol.readLine(in, ControlProtocol.MAX_COMMAND_BYTES);
            } catch (ControlProtocol.LineTooLong e) {
                // the rest of the line is read (within the read timeout, and at most as much again
                // as a line may hold) and dropped: closing with input unread would reset the
                // connection, and the client would not see why
                int b;
                for (long skipped = 0; skipped < MAX_SKIPPED_BYTES && (b = in.read()) >= 0 && b != '\n'; skipped++) {
                    // dropped
                }
                respond(client, refusal != null ? 1 : 2, new byte[0], ((refusal != null ? refusal
                        : "the command line is longer than " + ControlProtocol.MAX_COMMAND_BYTES
                        + " bytes, the most the control socket takes") + "\n").getBytes(StandardCharsets.UTF_8));
                return;
            } finally {
                timeout.cancel(false);
            }
            if (refusal != null) {
                respond(client, 1, new byte[0], (refusal + "\n").getBytes(StandardCharsets.UTF_8));
                return;
            }
            if (line == null || line.isBlank()) {
                respond(client, 2, new byte[0], "expected one command line\n".getBytes(StandardCharsets.UTF_8));
                return;
            }
            LOG.log(System.Logger.Level.DEBUG, "control socket: {0}", line);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int status = executor.execute(line, out, err);
            respond(client, status, out.toByteArray(), err.toByteArray());
        } catch (IOException e) {
            // closed by the read timeout, or the client went away (e.g. another instance's probe)
            LOG.log(System.Logger.Level.DEBUG, "control socket: client gone or too slow: {0}", e.toString());
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "control socket: " + e.getMessage(), e);
        }
    }

    private static void respond(SocketChannel client, int status, byte[] out, byte[] err) throws IOException {
        OutputStream o = Channels.newOutputStream(client);
        o.write(new ControlProtocol.Header(status, out.length, err.length).line().getBytes(StandardCharsets.UTF_8));
        o.write(out);
        o.write(err);
        o.flush();
    }

    /** Why {@code client} may not run commands, or null when it is this socket's owner. */
    private String refusal(SocketChannel client) {
        String peer;
        try {
            peer = credentials.user(client).getName();
        } catch (IOException | RuntimeException e) {
            return "refused a connection whose user cannot be read (" + e.getMessage() + "): the control socket"
                    + " serves user " + owner + " only, and only to peers it can identify";
        }
        if (!peer.equals(owner)) {
            return "refused a connection from user " + peer + ": the control socket serves user " + owner
                    + " only (run pcache ctl as " + owner + ")";
        }
        return null;
    }

    /** Stops serving and removes the socket file. In-flight commands finish on their own threads. */
    @Override
    public void close() {
        closed = true;
        closeQuietly(server);
        deleteQuietly(socket);
        handlers.shutdown();
        timeouts.shutdownNow();
    }

    private static void pause() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            // nothing left to do
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot remove " + p + ": " + e.getMessage());
        }
    }

    private static ThreadFactory daemons(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
