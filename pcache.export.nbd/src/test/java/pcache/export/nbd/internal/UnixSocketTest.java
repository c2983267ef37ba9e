package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Serving on a unix domain socket: stale files, permissions, refusal to clobber. */
@Timeout(30)
class UnixSocketTest {
    @TempDir
    Path dir;

    @Test
    void servesOnAUnixSocketReplacingAStaleSocketFile() throws IOException {
        Path path = dir.resolve("nbd.sock");
        try (ServerSocketChannel stale = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            stale.bind(UnixDomainSocketAddress.of(path)); // closing leaves the file behind
        }
        assertTrue(Files.exists(path));
        MemoryBlockDevice device = new MemoryBlockDevice("u", 1 << 20);
        try (NbdServer server = new NbdServer(NbdServerConfig.defaults())) {
            server.export("u", device);
            server.listen(ListenAddress.parse("unix:" + path));
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(path)));
            try (RawNbdClient c = RawNbdClient.open(UnixDomainSocketAddress.of(path), "u", true)) {
                byte[] data = new byte[4096];
                data[7] = 7;
                c.request(0, NbdCommand.WRITE.type, 1, 4096, 4096, data);
                assertEquals(0, c.errorOf(1));
                c.request(0, NbdCommand.READ.type, 2, 4096, 4096, null);
                ByteBuffer b = ByteBuffer.wrap(c.readReply(0).payload());
                assertEquals(4096, b.getLong());
                byte[] back = new byte[4096];
                b.get(back);
                assertArrayEquals(data, back);
            }
        }
        assertFalse(Files.exists(path), "the socket file is removed on close");
    }

    @Test
    void refusesToReplaceARegularFileOrALiveSocket() throws IOException {
        Path file = dir.resolve("not-a-socket");
        Files.writeString(file, "keep me");
        Path live = dir.resolve("live.sock");
        try (NbdServer first = new NbdServer(NbdServerConfig.defaults());
             NbdServer second = new NbdServer(NbdServerConfig.defaults())) {
            IOException notSocket = assertThrows(IOException.class,
                    () -> first.listen(ListenAddress.unix(file)));
            assertTrue(notSocket.getMessage().contains("not a socket"), notSocket.getMessage());
            assertEquals("keep me", Files.readString(file));

            first.listen(ListenAddress.unix(live));
            IOException inUse = assertThrows(IOException.class, () -> second.listen(ListenAddress.unix(live)));
            assertTrue(inUse.getMessage().contains("another server"), inUse.getMessage());
            assertTrue(Files.exists(live));
        }
    }
}
