package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.TestAbortedException;

import pcache.testkit.ExternalTools;

class ControlServerTest {

    @TempDir
    Path dir;

    /** Echoes the command on stdout, writes "oops" on stderr, exits with the command's length. */
    private static final CommandExecutor ECHO = (line, out, err) -> {
        try {
            out.write(("ran " + line + "\n").getBytes(StandardCharsets.UTF_8));
            err.write("oops\n".getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return line.length() % 256;
    };

    private record Answer(int status, String out, String err) {
    }

    private static Answer ctl(Path socket, String command) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = ControlClient.send(socket, command, out, new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Answer(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void oneCommandPerConnectionWithOutputErrorsAndStatus() throws Exception {
        Path socket = dir.resolve("pcache.ctl");
        try (ControlServer server = ControlServer.open(socket, ECHO)) {
            assertEquals(new Answer(11, "ran pcache:list\n", "oops\n"), ctl(socket, "pcache:list"));
            assertEquals(new Answer(11, "ran lb | grep x\n", "oops\n"), ctl(socket, "lb | grep x"));
            assertEquals(socket, server.socket());
        }
        assertFalse(Files.exists(socket), "close removes the socket file");
    }

    @Test
    void socketIsOwnerOnly() throws Exception {
        Path socket = dir.resolve("pcache.ctl");
        try (ControlServer server = ControlServer.open(socket, ECHO)) {
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
            assertTrue(ControlServer.isSocket(socket));
        }
    }

    @Test
    void staleSocketIsReplaced() throws Exception {
        Path socket = dir.resolve("pcache.ctl");
        try (ServerSocketChannel crashed = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            crashed.bind(UnixDomainSocketAddress.of(socket));
        }
        assertTrue(Files.exists(socket), "closing a unix server socket leaves its file behind");
        try (ControlServer server = ControlServer.open(socket, ECHO)) {
            assertEquals(3, ctl(socket, "abc").status());
        }
    }

    @Test
    void liveSocketIsRefused() throws Exception {
        Path socket = dir.resolve("pcache.ctl");
        try (ControlServer first = ControlServer.open(socket, ECHO)) {
            LaunchException e = assertThrows(LaunchException.class, () -> ControlServer.open(socket, ECHO));
            assertTrue(e.getMessage().startsWith("another pcache instance is listening on " + socket), e.getMessage());
            assertEquals(3, ctl(socket, "abc").status(), "the first one still serves");
        }
    }

    @Test
    void somethingElseAtThePathIsRefused() throws Exception {
        Path file = Files.writeString(dir.resolve("pcache.ctl"), "not a socket");
        LaunchException e = assertThrows(LaunchException.class, () -> ControlServer.open(file, ECHO));
        assertEquals(file + " exists and is not a socket: remove it, or set pcache.data to another directory",
                e.getMessage());
        assertEquals("not a socket", Files.readString(file), "left alone");
    }

    /**
     * A command line longer than the socket takes is answered with status 2 and the reason, from
     * the client before it sends and from the server to a client that sends it all the same.
     * Before, the server closed the connection with the line unread, which reset it: the client
     * saw "Connection reset by peer".
     */
    @Test
    void aCommandLineTooLongIsAUsageErrorThatSaysSo() throws Exception {
        Path socket = dir.resolve("pcache.ctl");
        String tooLong = "x".repeat(70_000);
        try (ControlServer server = ControlServer.open(socket, ECHO)) {
            Answer a = ctl(socket, tooLong);
            assertEquals(2, a.status(), a.err());
            assertEquals("pcache ctl: the command line is longer than 65536 bytes, the most the control socket takes\n",
                    a.err());
            try (SocketChannel raw = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
                java.nio.ByteBuffer line = java.nio.ByteBuffer.wrap((tooLong + "\n").getBytes(StandardCharsets.UTF_8));
                while (line.hasRemaining()) {
                    raw.write(line);
                }
                // no half-close: the answer comes at the end of the line (a client that waits for it)
                java.io.InputStream in = Channels.newInputStream(raw);
                ControlProtocol.Header header = ControlProtocol.readHeader(in);
                assertEquals(2, header.status());
                assertEquals("the command line is longer than 65536 bytes, the most the control socket takes\n",
                        new String(in.readNBytes(header.errBytes()), StandardCharsets.UTF_8));
            }
        }
    }

    /** The control socket's path must fit a unix socket: 107 bytes at most, checked before anything starts. */
    @Test
    void aDataDirectoryTooLongForItsControlSocketIsAConfigurationProblem() throws Exception {
        String fits = "/" + "d".repeat(95); // + "/pcache.ctl": 107 bytes
        assertEquals(java.util.Optional.empty(), ControlServer.pathProblem(SettingsParser.parse(
                java.util.Map.of("pcache.data", fits))));
        String tooLong = fits + "d";
        assertEquals(java.util.Optional.of("pcache.data=" + tooLong + ": expected a directory whose control socket"
                + " path (" + tooLong + "/pcache.ctl, 108 bytes) unix sockets can take: at most 107 bytes; choose a"
                + " shorter path"), ControlServer.pathProblem(SettingsParser.parse(java.util.Map.of("pcache.data",
                tooLong))));
    }

    @Test
    void blankLineIsAUsageError() throws Exception {
        Path socket = dir.resolve("pcache.ctl");
        try (ControlServer server = ControlServer.open(socket, ECHO);
                SocketChannel raw = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            raw.shutdownOutput();
            ControlProtocol.Header header = ControlProtocol.readHeader(Channels.newInputStream(raw));
            assertEquals(new ControlProtocol.Header(2, 0, 26), header);
        }
    }

    @Test
    void peerWhoseUserCannotBeReadIsRefused() throws Exception {
        Path socket = dir.resolve("pcache.ctl");
        AtomicInteger ran = new AtomicInteger();
        ControlServer.PeerCredentials unknown = client -> {
            throw new IOException("SO_PEERCRED failed");
        };
        try (ControlServer server = ControlServer.open(socket, counting(ran), unknown)) {
            Answer a = ctl(socket, "pcache:list");
            assertEquals(1, a.status());
            assertEquals("", a.out());
            assertTrue(a.err().startsWith("refused a connection whose user cannot be read (SO_PEERCRED failed): the"
                    + " control socket serves user " + owner(socket) + " only"), a.err());
        }
        assertEquals(0, ran.get(), "no command ran");
    }

    @Test
    void peerOfAnotherUserIsRefused() throws Exception {
        Path socket = dir.resolve("pcache.ctl");
        AtomicInteger ran = new AtomicInteger();
        ControlServer.PeerCredentials mallory = client -> () -> "mallory";
        try (ControlServer server = ControlServer.open(socket, counting(ran), mallory)) {
            Answer a = ctl(socket, "pcache:list");
            assertEquals(1, a.status());
            assertEquals("refused a connection from user mallory: the control socket serves user " + owner(socket)
                    + " only (run pcache ctl as " + owner(socket) + ")\n", a.err());
        }
        assertEquals(0, ran.get(), "no command ran");
    }

    /**
     * A real client of another user (nobody, through setpriv) is refused by its kernel credentials,
     * even with the socket file's permissions opened to everyone: the peer check does not lean on
     * them. Needs root (to switch user); CI runs as root.
     */
    @Test
    void clientRunningAsAnotherUserIsRefused() throws Exception {
        ExternalTools.require("setpriv", "python3");
        requireRoot();
        Path socket = dir.resolve("pcache.ctl");
        AtomicInteger ran = new AtomicInteger();
        try (ControlServer server = ControlServer.open(socket, counting(ran))) {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
            Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-rw-rw-"));
            String client = "import socket,sys\n"
                    + "s=socket.socket(socket.AF_UNIX)\n"
                    + "s.connect(sys.argv[1])\n"
                    + "s.sendall(b'pcache:list\\n')\n"
                    + "s.shutdown(socket.SHUT_WR)\n"
                    + "while True:\n"
                    + "    b=s.recv(4096)\n"
                    + "    if not b: break\n"
                    + "    sys.stdout.buffer.write(b)\n";
            Process p = new ProcessBuilder(ExternalTools.which("setpriv"), "--reuid=65534", "--regid=65534",
                    "--clear-groups", ExternalTools.which("python3"), "-c", client, socket.toString())
                    .redirectErrorStream(true).start();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the client ends");
            String answer = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.exitValue(), answer);
            String nobody = answer.lines().skip(1).findFirst().orElse("");
            assertTrue(answer.startsWith(new ControlProtocol.Header(1, 0, nobody.length() + 1).line()), answer);
            assertTrue(nobody.startsWith("refused a connection from user "), answer);
            assertFalse(nobody.startsWith("refused a connection from user root"), answer);
            assertEquals(3, ctl(socket, "abc").status(), "its owner is still served");
        }
        assertEquals(1, ran.get(), "only the owner's command ran");
    }

    private void requireRoot() throws IOException {
        if (owner(dir).equals("root")) {
            return;
        }
        String message = "needs root to run a client as another user (setpriv)";
        if (ExternalTools.inCi()) {
            throw new AssertionError(message + "; CI=true: the check cannot be skipped");
        }
        throw new TestAbortedException(message);
    }

    private static String owner(Path socket) throws IOException {
        return Files.getOwner(socket).getName();
    }

    private static CommandExecutor counting(AtomicInteger ran) {
        return (line, out, err) -> {
            ran.incrementAndGet();
            return ECHO.execute(line, out, err);
        };
    }

    @Test
    void clientWithoutServer() {
        Answer a = ctl(dir.resolve("pcache.ctl"), "lb");
        assertEquals(1, a.status());
        assertTrue(a.err().startsWith("pcache ctl: no running pcache instance: "), a.err());
    }

    @Test
    void clientRefusesMultiLineCommands() {
        assertEquals(2, ctl(dir.resolve("pcache.ctl"), "lb\nstop 0").status());
    }

    @Test
    void headerRoundTrip() throws Exception {
        ControlProtocol.Header h = new ControlProtocol.Header(1, 10, 0);
        assertEquals(h, ControlProtocol.readHeader(new java.io.ByteArrayInputStream(
                h.line().getBytes(StandardCharsets.US_ASCII))));
        assertThrows(IOException.class, () -> ControlProtocol.readHeader(new java.io.ByteArrayInputStream(
                "HTTP/1.1 200 OK\n".getBytes(StandardCharsets.US_ASCII))));
    }
}
