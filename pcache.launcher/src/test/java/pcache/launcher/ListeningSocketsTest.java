package pcache.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;

import org.junit.jupiter.api.Test;

class ListeningSocketsTest {

    @Test
    void addressesAsProcWritesThem() throws Exception {
        assertEquals("127.0.0.1:8080", ListeningSockets.address("0100007F:1F90"));
        assertEquals("127.0.0.1:8080", ListeningSockets.address("0000000000000000FFFF00000100007F:1F90"));
        assertEquals("[0:0:0:0:0:0:0:1]:8080", ListeningSockets.address("00000000000000000000000001000000:1F90"));
        assertEquals("0.0.0.0:22", ListeningSockets.address("00000000:0016"));
    }

    @Test
    void findsThisProcesssListener() throws Exception {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            String expected = "127.0.0.1:" + s.getLocalPort();
            assertTrue(ListeningSockets.of(ProcessHandle.current().pid()).contains(expected),
                    ListeningSockets.of(ProcessHandle.current().pid()) + " lacks " + expected);
        }
    }
}
