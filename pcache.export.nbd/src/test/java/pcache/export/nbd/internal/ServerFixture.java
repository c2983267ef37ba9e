package pcache.export.nbd.internal;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;

/** A running server on 127.0.0.1 (ephemeral port) exporting two in-memory devices. */
final class ServerFixture implements AutoCloseable {
    static final int DISK_BYTES = 16 << 20;
    static final int OTHER_BYTES = 1 << 20;

    final NbdServer server;
    final MemoryBlockDevice disk = new MemoryBlockDevice("disk", DISK_BYTES);
    final MemoryBlockDevice other = new MemoryBlockDevice("other", OTHER_BYTES);
    final InetSocketAddress address;

    ServerFixture() throws IOException {
        this(NbdServerConfig.defaults().withDrainTimeout(Duration.ofSeconds(5)));
    }

    ServerFixture(NbdServerConfig config) throws IOException {
        this(config, TlsPolicy.off());
    }

    ServerFixture(NbdServerConfig config, TlsPolicy tls) throws IOException {
        server = new NbdServer(config, tls);
        server.export("disk", disk);
        server.export("other", other);
        address = (InetSocketAddress) server.listen(ListenAddress.parse("127.0.0.1:0"));
    }

    RawNbdClient connect() throws IOException {
        return RawNbdClient.connect(address);
    }

    RawNbdClient open(String export, boolean structured) throws IOException {
        return RawNbdClient.open(address, export, structured);
    }

    /** The nbd URI of an export, for libnbd tools. */
    String uri(String export) {
        return "nbd://127.0.0.1:" + address.getPort() + "/" + export;
    }

    @Override
    public void close() {
        server.close();
    }
}
