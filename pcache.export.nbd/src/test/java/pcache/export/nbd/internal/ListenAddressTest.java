package pcache.export.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;

class ListenAddressTest {
    @Test
    void parsesTcpIpv6AndUnixAddresses() {
        ListenAddress tcp = ListenAddress.parse("127.0.0.1:10809");
        assertEquals(10809, tcp.tcp().getPort());
        assertFalse(tcp.exposesNetwork());
        assertEquals("127.0.0.1:10809", tcp.toString());

        ListenAddress v6 = ListenAddress.parse("[::1]:0");
        assertEquals(0, v6.tcp().getPort());
        assertFalse(v6.exposesNetwork());

        assertTrue(ListenAddress.parse("0.0.0.0:10809").exposesNetwork());

        ListenAddress unix = ListenAddress.parse("unix:/run/pcache/nbd.sock");
        assertEquals(Path.of("/run/pcache/nbd.sock"), unix.unixPath());
        assertFalse(unix.exposesNetwork());

        List<ListenAddress> both = ListenAddress.parseList("127.0.0.1:1, unix:/tmp/x.sock");
        assertEquals(2, both.size());
    }

    @Test
    void rejectsMalformedAddressesWithAHint() {
        for (String bad : new String[] {"", "localhost", "127.0.0.1:", "127.0.0.1:port", "127.0.0.1:70000", "unix:"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ListenAddress.parseList(bad));
            assertTrue(e.getMessage().contains("listen"), e.getMessage());
        }
    }
}
